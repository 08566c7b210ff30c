"""Training data of the learned inserter: inserter items and pipeline items from one or more
corpora, split by document (docs/design.md, Rewards: "split by document").

Each corpus (:mod:`~m2io.learned_training.corpora`) gives its own inserter items (gold answer text, gold
images plus distractors: :func:`~m2io.evaluation.items.build_inserter_items`) and, on request,
pipeline items (each question run through the default retriever and the extractive generator:
:func:`pipeline_items`). This module assembles pipelines (it imports the factory) and is
therefore training-side: the inserter that serves a policy never imports it.

Example:
    >>> data = load_training_data("../shared/bench/gimp", "gimp")           # doctest: +SKIP
    >>> len(data.train), len(data.val)                                      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from m2io.config import PipelineConfig
from m2io.corpus.mramg import QAItem
from m2io.embed.text import TextEmbedder
from m2io.evaluation.e2e import ensure_index, eval_index_dir
from m2io.evaluation.items import (
    InserterItem,
    PipelineItem,
    build_inserter_items,
    build_pipeline_items,
    split_by_document,
)
from m2io.factory import build_generator, build_retriever
from m2io.learned.profile import CorpusProfile, corpus_profile
from m2io.learned_training.corpora import CorpusData, load_corpus_data
from m2io.learned_training.grpo import cached_embedder

SPLITS = ("doc", "none")


@dataclass
class TrainData:
    """Inserter items on both sides of a split, and how they were made.

    ``train_corpus``/``val_corpus`` name each item's corpus (parallel lists; empty means one
    unnamed corpus) and ``profiles`` holds each corpus's profile
    (:func:`~m2io.learned.profile.corpus_profile`), which its items' features use.
    """

    train: list[InserterItem | PipelineItem]
    val: list[InserterItem | PipelineItem]
    description: dict[str, Any] = field(default_factory=dict)
    train_corpus: list[str] = field(default_factory=list)
    val_corpus: list[str] = field(default_factory=list)
    profiles: dict[str, CorpusProfile] = field(default_factory=dict)

    def profiles_of(self, side: str) -> list[CorpusProfile | None]:
        """The profile of every item on ``side`` (``"train"`` or ``"val"``), in order."""
        names = self.train_corpus if side == "train" else self.val_corpus
        items = self.train if side == "train" else self.val
        if len(names) != len(items):
            return [None] * len(items)
        return [self.profiles.get(name) for name in names]


HeldOut = Callable[["InserterItem", CorpusData], bool]


def load_training_data(
    data: str | Path | Sequence[str | Path],
    subset: str | None = None,
    *,
    distractors: str = "random",
    split: str | HeldOut = "doc",
    data_seed: int = 0,
    val_fraction: float = 0.2,
    embedder: TextEmbedder | None = None,
    cache_dir: str | Path | None = None,
    pipeline: bool = False,
    index_dir: str | Path | Mapping[str, str | Path] | None = None,
    progress: bool = False,
    balance: int = 1,
) -> TrainData:
    """Build inserter items (gold + 1:1 distractors) from one or more corpora and split them.

    Each corpus (an MRAMG folder, a document folder, or ``demo``:
    :mod:`~m2io.learned_training.corpora`) gives its own items, distractors drawn from its own images,
    split on its own; the sides are then pooled. With ``pipeline=True`` every question is also
    run through the default retriever and the extractive generator
    (:func:`~m2io.learned_training.corpora.pipeline_items`), so the policy also learns from what it meets
    end to end: generated sentences, up to a dozen retrieved candidates with their source
    neighbours and retrieval rank. Those items fall on the same side of the split as the
    question's inserter-only item.

    Args:
        data: One corpus or several (``--data`` repeated).
        subset: MRAMG subset (default: the only one in each folder); only with one corpus.
        distractors: ``"random"``, ``"hard"`` or ``"both"`` (each question twice, once with
            each kind; both copies land on the same side of the split).
        split: ``"doc"`` (:func:`~m2io.evaluation.items.split_by_document`, the split that
            ``m2io eval-inserter --split val`` uses), ``"none"`` (everything trains), or a
            function ``(item, corpus) -> held out?`` (benchmarks' own splits).
        data_seed: Seeds distractors and candidate order (``eval-inserter --seed``).
        val_fraction: Held-out share for the document split.
        embedder: For hard distractors (default: the offline MiniLM, disk-cached).
        cache_dir: Embedding cache (see :func:`m2io.learned_training.grpo.embed_cached`).
        pipeline: Add pipeline items (see above).
        index_dir: Index for the pipeline items, or ``{corpus name: folder}`` with several
            corpora (default: the one ``m2io eval`` uses, built there if missing).
        progress: Progress bars on stderr (index build, pipeline runs).
        balance: With several corpora, repeat a small corpus's training items up to this many
            times so that it weighs about as much as the largest one (1 = no repeat).
    """
    if not callable(split) and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or a function, got {split!r}")
    sources = [data] if isinstance(data, (str, Path)) else list(data)
    if not sources:
        raise ValueError("no training data")
    if subset is not None and len(sources) > 1:
        raise ValueError("--subset applies to one --data only")
    modes = ("random", "hard") if distractors == "both" else (distractors,)
    if "hard" in modes:
        embedder = cached_embedder(embedder, cache_dir)
    if balance < 1:
        raise ValueError(f"balance must be >= 1, got {balance}")
    train: list[InserterItem | PipelineItem] = []
    val: list[InserterItem | PipelineItem] = []
    train_corpus: list[str] = []
    val_corpus: list[str] = []
    profiles: dict[str, CorpusProfile] = {}
    described: list[dict[str, Any]] = []
    for source in sources:
        cd = load_corpus_data(source, subset)
        if cd.name in profiles:
            raise ValueError(f"corpus {cd.name!r} given twice")
        profiles[cd.name] = corpus_profile(cd.corpus.documents)
        tr_n, va_n = len(train), len(val)
        for mode in modes:
            items = build_inserter_items(
                cd.questions, cd.corpus, distractors=mode, seed=data_seed, embedder=embedder
            )
            if callable(split):
                tr = [it for it in items if not split(it, cd)]
                va = [it for it in items if split(it, cd)]
            elif split == "doc":
                tr, va = split_by_document(items, val_fraction=val_fraction, seed=0)
            else:
                tr, va = list(items), []
            train += tr
            val += va
        n_pipeline = (0, 0)
        if pipeline and cd.habit is None:  # a re-authored corpus has no index
            held_out = {it.qid for it in val[va_n:]}
            folder = index_dir.get(cd.name) if isinstance(index_dir, Mapping) else index_dir
            items = pipeline_items(cd, folder, progress=progress)
            train += [it for it in items if it.qid not in held_out]
            val += [it for it in items if it.qid in held_out]
            n_pipeline = (
                sum(it.qid not in held_out for it in items),
                sum(it.qid in held_out for it in items),
            )
        train_corpus += [cd.name] * (len(train) - tr_n)
        val_corpus += [cd.name] * (len(val) - va_n)
        described.append(
            {
                **cd.describe(),
                "profile": profiles[cd.name].as_dict()["lift"],
                "n_train": len(train) - tr_n,
                "n_val": len(val) - va_n,
                **(
                    {"pipeline_items": dict(zip(("train", "val"), n_pipeline, strict=True))}
                    if pipeline
                    else {}
                ),
            }
        )
    if balance > 1 and len(described) > 1:
        train, train_corpus = _balanced(train, train_corpus, balance)
        for d in described:
            d["repeat"] = train_corpus.count(d["name"]) // max(d["n_train"], 1)
    n_pipe = [d.get("pipeline_items", {}) for d in described]
    description = {
        "data": ", ".join(str(d["data"]) for d in described),
        "subset": ", ".join(str(d.get("subset", d["name"])) for d in described),
        "corpora": described,
        "distractors": distractors,
        "ratio": 1.0,
        "data_seed": data_seed,
        "with_context": False,
        "split": split if isinstance(split, str) else getattr(split, "__name__", "custom"),
        **({"val_fraction": val_fraction} if split == "doc" else {}),
        "balance": balance,
        "n_train": len(train),
        "n_val": len(val),
        "pipeline_items": {
            "train": sum(p.get("train", 0) for p in n_pipe),
            "val": sum(p.get("val", 0) for p in n_pipe),
        }
        if pipeline
        else None,
    }
    return TrainData(train, val, description, train_corpus, val_corpus, profiles)


def _balanced(items: list[Any], names: list[str], cap: int) -> tuple[list[Any], list[str]]:
    """Repeat each corpus's items ``round(largest / size)`` times (at most ``cap``)."""
    sizes = {n: names.count(n) for n in dict.fromkeys(names)}
    largest = max(sizes.values(), default=0)
    out: list[Any] = []
    out_names: list[str] = []
    for name, size in sizes.items():
        repeat = min(cap, max(1, round(largest / size)))
        mine = [it for it, n in zip(items, names, strict=True) if n == name]
        out += mine * repeat
        out_names += [name] * (size * repeat)
    return out, out_names


def default_index_dir(cd: CorpusData) -> Path:
    """Where ``m2io eval`` keeps this corpus's index (``.m2io/eval-index/<name>-<hash>``)."""
    return eval_index_dir(cd.root, cd.name)


def corpus_index(
    cd: CorpusData, index_dir: str | Path | None = None, *, progress: bool = False
) -> Path:
    """The corpus's index folder, built there with the default embedder if missing or stale.

    Built with the corpus root recorded, as ``m2io eval --index DIR`` builds it, so the same
    folder serves training (pipeline items) and evaluation.
    """
    folder, _ = ensure_index(
        cd.corpus.documents,
        index_dir or default_index_dir(cd),
        progress=progress,
        corpus_root=cd.corpus.root or None,
    )
    return folder


def pipeline_items(
    cd: CorpusData,
    index_dir: str | Path | None = None,
    *,
    questions: list[QAItem] | None = None,
    progress: bool = False,
) -> list[PipelineItem]:
    """Each question (default: all of the corpus's) run through the default retriever and the
    extractive generator: what the inserter meets end to end
    (:func:`~m2io.evaluation.items.build_pipeline_items`)."""
    cfg = PipelineConfig()
    cfg.index = str(corpus_index(cd, index_dir, progress=progress))
    return build_pipeline_items(
        cd.questions if questions is None else questions,
        build_retriever(cfg),
        build_generator(cfg),
        progress=progress,
    )
