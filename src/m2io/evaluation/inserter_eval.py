"""Inserter-only evaluation: gold answer text in, candidates (gold + distractors) offered, placement
scored against the gold positions (M2IO-R1's M2IO-Inserter protocol, arXiv 2508.06328).

Metrics (×100): image precision / recall / F1 over the predicted vs. gold image sets, image
ordering of the predicted reading order vs. the gold order, position accuracy (gold images at
their gold sentence), ±1 position accuracy (``position_within_1``: within one sentence of it)
and format error rate (items whose ``Placement.format_ok`` is False). Latency
is the wall time of ``insert()`` alone; building the items is timed separately.

Embedding-based inserters (rule, similar) may be given a :class:`PrecomputedEmbedder` that embeds
every sentence and candidate text of the run in one batched pass before the loop (much faster on
CPU: one length-sorted batch instead of a small padded one per item). ``insert()`` latency then
excludes embedding; the batch time is reported as an amortised ``embed`` stage and in ``total``.

Example:
    >>> items = build_inserter_items(questions, corpus, distractors="hard")   # doctest: +SKIP
    >>> options = InserterOptions(out="rule-hard.json", subset="gimp", system="rule")
    >>> results = evaluate_inserter(RuleInserter(), items, options)           # doctest: +SKIP
    >>> results.metrics["image_f1"]                                           # doctest: +SKIP
"""

from __future__ import annotations

import copy
import inspect
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from m2io.config import PipelineConfig
from m2io.embed.text import TextEmbedder
from m2io.evaluation.items import InserterItem
from m2io.evaluation.results import (
    IMAGE_SET_METRICS,
    ItemRecord,
    RunOptions,
    RunResults,
    run_evaluation,
)
from m2io.inserters.base import INSERTERS, Inserter
from m2io.inserters.rule import candidate_text
from m2io.metrics.images import ordering_score, placement_scores
from m2io.metrics.result import mean_by_key

INSERTER_METRICS = [
    *IMAGE_SET_METRICS,
    "position_accuracy",
    "position_within_1",
    "format_error_rate",
]


def score_item(item: InserterItem, inserter: Inserter) -> ItemRecord:
    """Run the inserter on one item and return its per-item record (scores ×100)."""
    t0 = time.perf_counter()
    placement = inserter.insert(item.answer, item.candidates)
    ms = (time.perf_counter() - t0) * 1e3
    pred = placement.as_dict()
    order = [s.image_id for s in placement.slots]
    s = placement_scores(pred, item.gold)
    scores = {
        "image_precision": 100.0 * s["precision"],
        "image_recall": 100.0 * s["recall"],
        "image_f1": 100.0 * s["f1"],
        # the reading order the inserter wrote (its slots), against the gold order
        "image_ordering": 100.0 * ordering_score(order, list(item.gold_order)),
        "position_accuracy": 100.0 * s["position_accuracy"],
        "position_within_1": 100.0 * s["position_within_1"],
        "format_error_rate": 0.0 if placement.format_ok else 100.0,
    }
    return ItemRecord(
        id=item.qid,
        prediction={"placement": pred, "order": order},
        gold={"placement": dict(item.gold), "order": list(item.gold_order)},
        candidates=[c.image_id for c in item.candidates],
        n_sentences=len(item.answer.sentences),
        scores=scores,
        latency_ms={"insert": ms},
        usage=placement.usage,
        notes=list(placement.notes),
        raw=placement.raw,
    )


class PrecomputedEmbedder:
    """A :class:`~m2io.embed.text.TextEmbedder` that serves vectors computed ahead of time.

    Texts seen at construction are embedded in one batched call; any other text is embedded on
    demand by ``base`` (so results never depend on guessing the texts right, only the speed).

    Args:
        base: The real embedder.
        texts: Texts to embed ahead (duplicates are embedded once).
        batch_size: Batch size of the ahead-of-time pass.
        progress: Show the embedder's progress bar.
    """

    def __init__(
        self,
        base: TextEmbedder,
        texts: Iterable[str],
        *,
        batch_size: int = 128,
        progress: bool = False,
    ) -> None:
        self.base = base
        self.name = base.name
        self.dim = base.dim
        unique = list(dict.fromkeys(texts))
        vecs = base.encode(unique, batch_size=batch_size, progress=progress)
        self._cache: dict[str, np.ndarray] = dict(zip(unique, vecs, strict=True))
        self.misses = 0

    def encode(
        self, texts: list[str], *, batch_size: int = 64, progress: bool = False
    ) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self.misses += len(missing)
            vecs = self.base.encode(missing, batch_size=batch_size)
            self._cache.update(zip(missing, vecs, strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


def item_texts(items: Sequence[InserterItem]) -> list[str]:
    """Texts an embedding inserter compares: questions, sentences, captions, caption + context.

    A text missed here is still embedded on demand; this list only decides what is batched.
    """
    texts: list[str] = []
    for it in items:
        texts.append(it.answer.question)
        texts.extend(s.text for s in it.answer.sentences)
        for c in it.candidates:
            texts += [candidate_text(c), c.image.caption.strip()]
    return [t for t in texts if t]


def takes_embedder(inserter_cls: type) -> bool:
    """True when the inserter class accepts an ``embedder`` keyword (rule, similar, learned)."""
    try:
        return "embedder" in inspect.signature(inserter_cls).parameters
    except (TypeError, ValueError):
        return False


def with_cached_embedder(
    cfg: PipelineConfig,
    texts: Iterable[str] | Callable[[], Iterable[str]],
    *,
    build_inserter: Callable[[PipelineConfig], Inserter],
    progress: bool = True,
) -> tuple[PipelineConfig, float] | None:
    """A copy of ``cfg`` whose inserter gets a :class:`PrecomputedEmbedder` over ``texts`` (or
    over what ``texts()`` returns; it is called only when the cache applies).

    The cache wraps the embedder the configured inserter would use itself (read from a probe
    instance's ``embedder``, built with ``build_inserter``: the caller's factory, since
    evaluation assembles nothing itself), so vectors are the same as without it. Returns
    ``(config, seconds spent)``, or None when the inserter takes no ``embedder`` or was handed
    an object.
    """
    given = cfg.inserter.options.get("embedder")
    if (given is not None and not isinstance(given, str)) or not takes_embedder(
        INSERTERS.get(cfg.inserter.name)
    ):
        return None
    t0 = time.perf_counter()
    base = getattr(build_inserter(cfg), "embedder", None)
    if not isinstance(base, TextEmbedder):
        return None
    cached = copy.deepcopy(cfg)
    if callable(texts):
        texts = texts()
    cached.inserter.options["embedder"] = PrecomputedEmbedder(base, texts, progress=progress)
    return cached, time.perf_counter() - t0


@dataclass
class InserterOptions(RunOptions):
    """:class:`~m2io.evaluation.results.RunOptions`, plus what only inserter-only runs record.

    Attributes:
        embed_s: Seconds spent embedding the items' texts ahead in one batch (see
            :class:`PrecomputedEmbedder`); spread evenly over the items as an ``embed`` stage
            and added into ``total``.
    """

    embed_s: float | None = None


def evaluate_inserter(
    inserter: Inserter, items: Sequence[InserterItem], options: InserterOptions
) -> RunResults:
    """Score ``inserter`` on ``items``; write ``options.out`` and its per-item JSONL; return the
    results (the loop: :func:`~m2io.evaluation.results.run_evaluation`).

    On Ctrl-C the results JSON is written over the items done so far with ``interrupted: true``
    (the caller decides the exit status). Latency is ``insert()`` alone (plus the amortised
    ``embed`` stage when ``options.embed_s`` is given).
    """
    return run_evaluation(
        items,
        lambda it: score_item(it, inserter),
        options,
        kind="inserter",
        summarise=lambda records: mean_by_key([r.scores for r in records], INSERTER_METRICS),
        warm_up=lambda: inserter.insert(items[0].answer, items[0].candidates),
        stages=lambda records: _stages(records, options.embed_s, len(items)),
    )


def _stages(
    records: list[ItemRecord], embed_s: float | None, n_items: int
) -> dict[str, list[float]]:
    insert = [r.latency_ms["insert"] for r in records]
    if embed_s is None:
        return {"insert": insert}
    share = 1e3 * embed_s / max(n_items, 1)
    return {"embed": [share] * len(insert), "insert": insert, "total": [x + share for x in insert]}
