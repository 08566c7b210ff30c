"""End-to-end evaluation: the whole pipeline answers each question; answers are scored the
MRAMG-Bench way (arXiv 2502.04176).

Per answer: image precision / recall / F1 and ordering of the images it shows (reading order) vs.
the gold images, ``visual_recall`` (share of gold images among the retrieved candidates — what
the inserter could have picked), ROUGE-L and BLEU of the text, BERTScore (batched at the end,
optional) and LLM-judge scores (optional). Position accuracy does not apply: a generated answer's
sentences do not correspond to the gold answer's. Per run: stage latencies (p50/p95), tokens and
the estimated cost.

The index is built once per corpus and reused: :func:`ensure_index` keeps it under
``.m2io/eval-index/<subset>-<hash of the data path>`` in the working directory (data folders may be
read-only) and rebuilds it only when its manifest no longer matches the documents.

Example::

    folder, built_s = ensure_index(corpus.documents, eval_index_dir(data, "gimp"))
    options = E2EOptions(out="results/e2e.json", subset="gimp", system="extractive+rule")
    results = evaluate_e2e(pipeline, questions, options)
"""

from __future__ import annotations

import hashlib
import logging
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from tqdm import tqdm

from m2io.corpus.mramg import QAItem
from m2io.evaluation.results import (
    IMAGE_SET_METRICS,
    ItemLog,
    ItemRecord,
    ItemRun,
    RunOptions,
    RunResults,
    run_evaluation,
)
from m2io.index import IndexFormatError, IndexManifest, build_index, corpus_hash
from m2io.index.sentences import keeps_sentences
from m2io.llm.base import LLMError
from m2io.metrics.images import image_scores
from m2io.metrics.judge import JudgeItem, LLMJudge
from m2io.metrics.result import mean_by_key
from m2io.metrics.text import bert_score_f1, corpus_bleu, rouge_l, sentence_bleu
from m2io.types import Document, MultimodalAnswer, TextSegment

logger = logging.getLogger(__name__)

EVAL_INDEX_ROOT = Path(".m2io") / "eval-index"
IMAGE_METRICS = [*IMAGE_SET_METRICS, "visual_recall"]
JUDGE_PREFIX = "judge_"
SKIP_EMPTY_QUESTION = "empty question"


class Answerer(Protocol):
    """A pipeline: :class:`~m2io.pipeline.Pipeline` or the Single-Shot one."""

    def run(self, question: str) -> MultimodalAnswer: ...


def eval_index_dir(data: str | Path, subset: str, root: str | Path = EVAL_INDEX_ROOT) -> Path:
    """``<root>/<subset>-<12 hex of sha256(absolute data path)>``."""
    digest = hashlib.sha256(str(Path(data).resolve()).encode("utf-8")).hexdigest()[:12]
    return Path(root) / f"{subset}-{digest}"


def index_matches(
    folder: str | Path, documents: list[Document], root: str | Path | None = None
) -> bool:
    """True when ``folder`` holds an index (this format version) built from ``documents``.

    ``root`` is the folder the documents were loaded from (``Corpus.root``); paths are compared
    relative to it, so a corpus moved together with its index still matches. Pass the root
    that was given to :func:`~m2io.index.build_index` (None if none was).
    """
    try:
        manifest = IndexManifest.read(folder)
    except IndexFormatError:
        return False
    return manifest.content_hash == corpus_hash(documents, root)


def ensure_index(
    documents: list[Document],
    folder: str | Path,
    *,
    rebuild: bool = False,
    progress: bool = True,
    **build_options: Any,
) -> tuple[Path, float]:
    """Reuse the index in ``folder`` if it was built from ``documents``, else build it there.

    Returns:
        ``(folder, seconds spent building)``; 0.0 when an index was reused.
    """
    folder = Path(folder)
    if not rebuild and index_matches(folder, documents, build_options.get("corpus_root")):
        if not build_options.get("sentence_vectors") or keeps_sentences(folder):
            logger.info("reusing index %s", folder)
            return folder, 0.0
        # asked for sentence vectors the index lacks: an incremental build embeds only them
        logger.info("adding stored sentence vectors to index %s", folder)
        build_options = {**build_options, "reuse": True}
    logger.info("building index %s (%d documents)", folder, len(documents))
    t0 = time.perf_counter()
    build_index(documents, folder, progress=progress, **build_options)
    return folder, time.perf_counter() - t0


def answer_text(answer: MultimodalAnswer) -> str:
    """The answer's sentences, one paragraph each (so the metrics' splitter keeps them apart)."""
    return "\n\n".join(s.text for s in answer.segments if isinstance(s, TextSegment))


def visual_recall(gold: Sequence[str], candidate_ids: Sequence[str]) -> float:
    """Share of gold images among the retrieved candidates, in [0, 1] (1 with no gold image)."""
    g = set(gold)
    return len(g & set(candidate_ids)) / len(g) if g else 1.0


def score_answer(
    q: QAItem, answer: MultimodalAnswer, *, judge: LLMJudge | None = None
) -> ItemRecord:
    """The per-item record of one answer (scores ×100, BERTScore added later in batch)."""
    pred_ids = [s.image_id for s in answer.images]
    cand_ids = [c.image_id for c in answer.candidates]
    text = answer_text(answer)
    img = image_scores(pred_ids, list(q.image_ids))
    scores: dict[str, float] = {f"image_{k}": 100.0 * v for k, v in img.items()}
    scores["visual_recall"] = 100.0 * visual_recall(q.image_ids, cand_ids)
    scores["rouge_l"] = 100.0 * rouge_l(text, q.ground_truth)
    scores["bleu"] = sentence_bleu(text, q.ground_truth)
    notes = list(answer.notes)
    if judge is not None:
        try:
            verdict = judge.score([JudgeItem.from_answer(answer, q.ground_truth)])
        except LLMError as err:  # one failed judgement must not end a long run
            notes.append(f"judge: request failed: {err}")
        else:
            scores.update({JUDGE_PREFIX + k: v for k, v in verdict.per_item[0].items()})
            if verdict.unscored:
                notes.append("judge: no usable verdict")
    return ItemRecord(
        id=q.qid,
        question=q.question,
        prediction={
            "text": text,
            "images": [
                {"image_id": s.image_id, "after_sentence": s.after_sentence} for s in answer.images
            ],
            "candidates": cand_ids,
            **_raw(answer),
        },
        # gold text stays in the dataset (by id): results files must not copy a corpus
        gold={"images": list(q.image_ids)},
        scores=scores,
        latency_ms=dict(answer.timings_ms),
        usage=answer.usage,
        notes=notes,
    )


def _raw(answer: MultimodalAnswer) -> dict[str, str]:
    """The inserter's raw model output, where the answer carries it (an LLM inserter's reply)."""
    return {"inserter_raw": answer.inserter_raw} if answer.inserter_raw is not None else {}


def add_bert_scores(
    records: list[ItemRecord],
    questions: dict[str, QAItem],
    *,
    model: str | None = None,
    num_layers: int | None = None,
    progress: bool = True,
    chunk: int = 128,
) -> None:
    """Add ``bert_score`` (×100) to each record's scores.

    Pairs are scored ``chunk`` at a time, shortest first, so each chunk pads little and a
    progress bar can follow (BERTScore without idf weighting scores each pair on its own).
    """
    preds = [r.prediction["text"] for r in records]
    refs = [questions[r.id].ground_truth for r in records]
    order = sorted(range(len(records)), key=lambda i: max(len(preds[i]), len(refs[i])))
    with tqdm(
        total=len(records),
        desc="bert_score",
        unit="item",
        file=sys.stderr,
        disable=not progress or not records,
    ) as bar:
        for start in range(0, len(order), chunk):
            part = order[start : start + chunk]
            f1s = bert_score_f1(
                [preds[i] for i in part],
                [refs[i] for i in part],
                model=model,
                num_layers=num_layers,
            )
            for i, f1 in zip(part, f1s, strict=True):
                records[i].scores["bert_score"] = 100.0 * f1
            bar.update(len(part))


def summarise_metrics(records: list[ItemRecord], refs: dict[str, str]) -> dict[str, float]:
    """Mean of each per-item score; corpus BLEU for ``bleu``; judge keys over judged items."""
    keys = [*IMAGE_METRICS, "rouge_l", "bleu"]
    if records and "bert_score" in records[0].scores:
        keys.append("bert_score")
    metrics = mean_by_key([r.scores for r in records], keys)
    if records:
        metrics["bleu"] = corpus_bleu(
            [r.prediction["text"] for r in records], [refs[r.id] for r in records]
        )
    judge_keys = sorted({k for r in records for k in r.scores if k.startswith(JUDGE_PREFIX)})
    for k in judge_keys:
        values = [r.scores[k] for r in records if k in r.scores]
        metrics[k] = sum(values) / len(values) if values else math.nan
    return metrics


@dataclass
class E2EOptions(RunOptions):
    """:class:`~m2io.evaluation.results.RunOptions`, plus what only end-to-end runs score.

    Attributes:
        bert: Compute BERTScore (``bert_model``/``bert_num_layers`` pick the model).
        judge: An :class:`~m2io.metrics.judge.LLMJudge` to rate each answer, or None.
    """

    bert: bool = True
    bert_model: str | None = None
    bert_num_layers: int | None = None
    judge: LLMJudge | None = None


def evaluate_e2e(
    pipeline: Answerer, questions: Sequence[QAItem], options: E2EOptions
) -> RunResults:
    """Answer every question with ``pipeline``, score the answers and write ``options.out`` +
    its JSONL (the loop: :func:`~m2io.evaluation.results.run_evaluation`).

    An empty question is skipped (counted in ``skipped``), not a crash. BERTScore is added at
    the end, when the per-item file is rewritten; on Ctrl-C it is skipped and a note says so.
    """
    skipped = dict(options.skipped)
    empty = [q for q in questions if not q.question.strip()]
    if empty:
        skipped[SKIP_EMPTY_QUESTION] = skipped.get(SKIP_EMPTY_QUESTION, 0) + len(empty)
        questions = [q for q in questions if q.question.strip()]

    def finish(run: ItemRun, log: ItemLog, notes: list[str], setup: dict[str, float]) -> None:
        if not options.bert:
            return
        if run.interrupted:
            notes.append("bert_score skipped: run interrupted")
            return
        t_bert = time.perf_counter()
        add_bert_scores(
            run.records,
            {q.qid: q for q in questions},
            model=options.bert_model,
            num_layers=options.bert_num_layers,
            progress=options.progress,
        )
        setup["bert_score"] = time.perf_counter() - t_bert
        log.rewrite(run.records)

    refs = {q.qid: q.ground_truth for q in questions}
    return run_evaluation(
        questions,
        lambda q: score_answer(q, pipeline.run(q.question), judge=options.judge),
        replace(options, skipped=skipped),
        kind="e2e",
        summarise=lambda records: summarise_metrics(records, refs),
        warm_up=lambda: pipeline.run(questions[0].question),
        finish=finish,
    )
