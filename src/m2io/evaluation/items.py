"""Inserter-only evaluation items, following the M2IO-Inserter protocol (arXiv 2508.06328).

Each item is a gold answer with its images taken out, split into sentences, plus candidates: the
gold images and ``ratio`` × as many distractors, either random images from other documents or the
"hard" ones whose captions are most similar to a gold image's. Candidates carry their caption but,
by default, not their source context: in derived sets such as the GIMP dev set the gold answer *is*
the source text, so the context would give each position away (``with_context=True`` is the
variant that keeps it, to be reported separately). Same seed → same candidates, same order.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from tqdm import tqdm

from m2io.corpus.chunking import image_context
from m2io.corpus.mramg import Dropped, QAItem
from m2io.corpus.report import Corpus
from m2io.embed.text import TextEmbedder, load_text_embedder
from m2io.evaluation.results import metric_names
from m2io.generators.base import Generator
from m2io.inserters.base import Inserter
from m2io.metrics.images import placement_order, score_images, score_placements
from m2io.retrievers.base import Retriever
from m2io.text import split_with_images
from m2io.types import Candidate, Document, ImageRef, Sentence, TextAnswer

DISTRACTOR_MODES = ("random", "hard")
ItemKind = Literal["inserter", "pipeline"]

# Why a question makes no item (the keys of the ``skipped`` counts in results files).
SKIP_NO_IMAGE = "no image in the gold answer"
SKIP_IMAGES_MISSING = "gold images not in the corpus"
SKIP_NO_TEXT = "no answer sentences"
SKIP_NO_CANDIDATES = "retrieval offered no image"
SKIP_EMPTY_ANSWER = "generator wrote no sentence"
# Scored, but part of the gold lies outside the corpus (``gold_gaps`` in results files).
GAP_SOME_IMAGES = "some gold images not in the corpus"
GAP_PROVENANCE = "source documents not in the corpus"


def question_gaps(questions: Sequence[QAItem], corpus: Corpus) -> dict[str, int]:
    """How many questions have gold images (``GAP_SOME_IMAGES``) or source documents
    (``GAP_PROVENANCE``) that the corpus does not hold: their scores are capped, and a run
    should say so rather than let them count as plain misses."""
    doc_ids = {d.doc_id for d in corpus.documents}
    gaps: dict[str, int] = {}
    for q in questions:
        if any(i not in corpus.images for i in q.image_ids):
            gaps[GAP_SOME_IMAGES] = gaps.get(GAP_SOME_IMAGES, 0) + 1
        if any(d not in doc_ids for d in q.provenance):
            gaps[GAP_PROVENANCE] = gaps.get(GAP_PROVENANCE, 0) + 1
    return gaps


def dropped_questions(dropped: Sequence[Dropped]) -> dict[str, int]:
    """Questions the loader left out (duplicate ids, bad records), counted as
    ``"not loaded: <reason>"`` so an evaluation's ``skipped`` says why each one is missing."""
    out: dict[str, int] = {}
    for d in dropped:
        if d.kind == "question":
            key = f"not loaded: {d.reason}"
            out[key] = out.get(key, 0) + 1
    return out


@dataclass(frozen=True)
class InserterItem:
    """One inserter-only example (``kind == "inserter"``).

    Attributes:
        qid: Question id.
        doc_ids: The documents the answer comes from (for splitting by document).
        answer: Gold answer text without images, split into sentences.
        candidates: Gold images and distractors, shuffled.
        gold: ``{image_id: after_sentence}`` of the gold images.
        gold_order: Gold image ids in reading order.
    """

    kind: ClassVar[ItemKind] = "inserter"

    qid: str
    doc_ids: tuple[str, ...]
    answer: TextAnswer
    candidates: tuple[Candidate, ...]
    gold: dict[str, int]
    gold_order: tuple[str, ...]


@dataclass(frozen=True)
class _Occurrence:
    doc: Document
    index: int


def _occurrences(corpus: Corpus) -> dict[str, _Occurrence]:
    """First place each image appears in the corpus."""
    out: dict[str, _Occurrence] = {}
    for doc in corpus.documents:
        for k, anchor in enumerate(doc.images):
            out.setdefault(anchor.image.image_id, _Occurrence(doc, k))
    return out


def _candidate(image: ImageRef, occ: _Occurrence | None, with_context: bool) -> Candidate:
    if occ is None:
        return Candidate(image)
    before, after = image_context(occ.doc, occ.index) if with_context else ("", "")
    n = max(len(occ.doc.text), 1)
    return Candidate(
        image,
        context_before=before,
        context_after=after,
        doc_id=occ.doc.doc_id,
        doc_position=occ.doc.images[occ.index].offset / n,
    )


def build_inserter_items(
    questions: Sequence[QAItem],
    corpus: Corpus,
    *,
    distractors: str = "random",
    ratio: float = 1.0,
    seed: int = 0,
    with_context: bool = False,
    embedder: TextEmbedder | None = None,
    require_images: bool = True,
    skipped: dict[str, int] | None = None,
) -> list[InserterItem]:
    """Build inserter-only items from MRAMG questions.

    Args:
        questions: Questions with ``<PIC>`` in their ground truth.
        corpus: The documents, for image metadata and distractor pools.
        distractors: ``"random"`` (other documents' images) or ``"hard"`` (most similar caption).
        ratio: Distractors per gold image (1.0 = the paper's 1:1).
        seed: Seeds the random choices and the candidate order.
        with_context: Give candidates their source context (leaks positions in derived sets).
        embedder: Text embedder for hard distractors (default: the offline MiniLM).
        require_images: Skip questions without gold images (they test nothing here).
        skipped: When given, each question left out is counted here by reason
            (``SKIP_NO_IMAGE``, ``SKIP_IMAGES_MISSING``, ``SKIP_NO_TEXT``).
    """
    if distractors not in DISTRACTOR_MODES:
        raise ValueError(f"distractors must be one of {DISTRACTOR_MODES}, got {distractors!r}")
    if ratio < 0:
        raise ValueError(f"ratio must be >= 0, got {ratio}")
    occ = _occurrences(corpus)
    pool = sorted(corpus.images, key=_sort_key)
    pool_docs = {i: occ[i].doc.doc_id if i in occ else None for i in pool}
    vecs: np.ndarray | None = None
    if distractors == "hard" and pool:
        if embedder is None:
            embedder = load_text_embedder()
        vecs = embedder.encode([_caption_text(corpus.images[i], occ.get(i)) for i in pool])
    row = {image_id: r for r, image_id in enumerate(pool)}
    rng = random.Random(seed)
    items: list[InserterItem] = []
    for q in questions:
        sentences, positions = split_with_images(q.ground_truth)
        gold: dict[str, int] = {}
        order: list[str] = []
        for image_id, pos in zip(q.image_ids, positions, strict=False):
            if image_id in corpus.images and image_id not in gold:
                gold[image_id] = pos
                order.append(image_id)
        why = None
        if not sentences:
            why = SKIP_NO_TEXT
        elif require_images and not gold:
            why = SKIP_IMAGES_MISSING if q.image_ids else SKIP_NO_IMAGE
        if why is not None:
            if skipped is not None:
                skipped[why] = skipped.get(why, 0) + 1
            continue
        n_dis = round(ratio * len(gold))
        # image ids and doc ids may overlap (both numeric in MRAMG): keep the two sets apart
        source_docs = set(q.provenance)
        allowed = [i for i in pool if i not in gold and pool_docs[i] not in source_docs]
        if distractors == "random" or vecs is None:
            chosen = rng.sample(allowed, min(n_dis, len(allowed)))
        else:
            chosen = _hard(vecs, row, list(gold), allowed, n_dis)
        cands = [_candidate(corpus.images[i], occ.get(i), with_context) for i in (*order, *chosen)]
        rng.shuffle(cands)
        items.append(
            InserterItem(
                qid=q.qid,
                doc_ids=tuple(q.provenance),
                answer=TextAnswer(q.question, tuple(Sentence(s) for s in sentences)),
                candidates=tuple(cands),
                gold=gold,
                gold_order=tuple(order),
            )
        )
    return items


@dataclass(frozen=True)
class PipelineItem:
    """What an inserter sees inside a pipeline, with the gold images to score it against
    (``kind == "pipeline"``: no gold positions, since generated sentences are not the gold's).

    Attributes:
        qid: Question id.
        doc_ids: The documents the gold answer comes from (for splitting by document).
        answer: The generator's answer (its sentences carry ``source_chunk_id`` when known).
        candidates: The retriever's candidate images, in retrieval order, with their context.
        gold_order: The gold answer's image ids in reading order (some may not be candidates).
    """

    kind: ClassVar[ItemKind] = "pipeline"

    qid: str
    doc_ids: tuple[str, ...]
    answer: TextAnswer
    candidates: tuple[Candidate, ...]
    gold_order: tuple[str, ...]


# An item an inserter is measured or trained on; ``item.kind`` tells which.
Item = InserterItem | PipelineItem


def build_pipeline_items(
    questions: Sequence[QAItem],
    retriever: Retriever,
    generator: Generator,
    *,
    progress: bool = False,
    skipped: dict[str, int] | None = None,
) -> list[PipelineItem]:
    """Run retrieval and text generation for every question with gold images, and keep what
    the inserter would receive: training data for an inserter that is to work end to end.

    Questions without gold images, whose retrieval offered no image or whose answer has no
    sentence are skipped (they teach an inserter nothing); ``skipped`` counts them by reason.
    """
    skipped = {} if skipped is None else skipped
    items: list[PipelineItem] = []
    bar = tqdm(questions, desc="retrieve + generate", file=sys.stderr, disable=not progress)
    for q in bar:
        gold = tuple(dict.fromkeys(q.image_ids))
        if not gold:
            skipped[SKIP_NO_IMAGE] = skipped.get(SKIP_NO_IMAGE, 0) + 1
            continue
        retrieval = retriever.retrieve(q.question)
        answer = generator.generate(q.question, retrieval)
        why = SKIP_EMPTY_ANSWER if not answer.sentences else None
        if why is None and not retrieval.candidates:
            why = SKIP_NO_CANDIDATES
        if why is not None:
            skipped[why] = skipped.get(why, 0) + 1
            continue
        items.append(PipelineItem(q.qid, tuple(q.provenance), answer, retrieval.candidates, gold))
    return items


def _sort_key(image_id: str) -> tuple[int, int | str]:
    return (0, int(image_id)) if image_id.isdigit() else (1, image_id)


def _caption_text(image: ImageRef, occ: _Occurrence | None) -> str:
    if image.caption.strip():
        return image.caption
    if occ is None:
        return image.image_id
    before, after = image_context(occ.doc, occ.index, chars=160)
    return f"{before} {after}".strip() or image.image_id


def _hard(
    vecs: np.ndarray, row: dict[str, int], gold: list[str], allowed: list[str], n: int
) -> list[str]:
    """The ``n`` allowed images most similar to any gold image, round-robin over gold images."""
    if n <= 0 or not allowed:
        return []
    idx = np.array([row[i] for i in allowed])
    sims = vecs[[row[g] for g in gold]] @ vecs[idx].T  # (gold, allowed)
    ranked = [list(np.argsort(-s, kind="stable")) for s in sims]
    chosen: list[str] = []
    taken: set[int] = set()
    cursor = [0] * len(gold)
    while len(chosen) < min(n, len(allowed)):
        for g in range(len(gold)):
            while cursor[g] < len(allowed) and ranked[g][cursor[g]] in taken:
                cursor[g] += 1
            if cursor[g] < len(allowed) and len(chosen) < n:
                taken.add(ranked[g][cursor[g]])
                chosen.append(allowed[ranked[g][cursor[g]]])
    return chosen


def split_by_document(
    items: Sequence[InserterItem], *, val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[InserterItem], list[InserterItem]]:
    """Train/validation split in which no document feeds both sides.

    Items are grouped by their first provenance document; whole groups go to validation until
    it holds about ``val_fraction`` of the items.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    groups: dict[str, list[InserterItem]] = {}
    for it in items:
        groups.setdefault(it.doc_ids[0] if it.doc_ids else it.qid, []).append(it)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    val_keys: set[str] = set()
    n_val = 0
    for k in keys:
        if n_val >= val_fraction * len(items):
            break
        val_keys.add(k)
        n_val += len(groups[k])
    train = [it for k in sorted(groups) if k not in val_keys for it in groups[k]]
    val = [it for k in sorted(groups) if k in val_keys for it in groups[k]]
    return train, val


SPLIT_SIDES = ("all", "val", "train")


def split_questions(
    questions: Sequence[QAItem], corpus: Corpus, side: str, *, val_fraction: float = 0.2
) -> list[QAItem]:
    """The questions on one side of the by-document split that ``m2io eval-inserter --split``
    and ``m2io train inserter-policy`` use, so an end-to-end run can be scored on documents a
    learned inserter never saw. ``"all"`` returns every question; questions that make no
    inserter item (no gold image) count as training side."""
    if side not in SPLIT_SIDES:
        raise ValueError(f"split must be one of {SPLIT_SIDES}, got {side!r}")
    if side == "all":
        return list(questions)
    items = build_inserter_items(questions, corpus, distractors="random", ratio=0.0)
    _, val = split_by_document(items, val_fraction=val_fraction, seed=0)
    held_out = {it.qid for it in val}
    return [q for q in questions if (q.qid in held_out) == (side == "val")]


def score_inserter(inserter: Inserter, items: Sequence[Item]) -> dict[str, float]:
    """Metrics ×100 of ``inserter`` on items of one kind, for benchmarks and quick checks, under
    the names the evaluations use (``image_f1``, ``position_accuracy``, …).

    Inserter items give the placement metrics (image precision … ``position_within_1`` and the
    ``position`` reward); pipeline items give the image metrics of end-to-end evaluation. The
    keys are those :func:`m2io.learned_training.grpo.evaluate` gives a policy on the same items.
    """
    kinds = {it.kind for it in items}
    if len(kinds) > 1:
        raise ValueError("score_inserter needs items of one kind (inserter or pipeline items)")
    preds = [inserter.insert(it.answer, it.candidates).as_dict() for it in items]
    if kinds == {"pipeline"}:
        golds = [list(it.gold_order) for it in items]
        return metric_names(score_images([placement_order(p) for p in preds], golds).aggregate)
    golds_at = [it.gold for it in items if isinstance(it, InserterItem)]
    return metric_names(score_placements(preds, golds_at).aggregate)
