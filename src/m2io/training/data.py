"""The M2IO-Inserter training set (arXiv 2508.06328) from an MRAMG-layout subset.

Each row is one inserter-only item (:func:`m2io.evaluation.items.build_inserter_items`: gold
answer text without its images, candidates = gold images + 1:1 distractors) turned into:

- ``prompt``: chat messages built by :mod:`m2io.inserters.prompt` — the same prompt the
  :class:`~m2io.inserters.llm.LLMInserter` sends at run time;
- ``completion``: the gold output ``<think>…</think><answer>{"<img2>": 1}</answer>`` as an
  assistant message (the SFT target; GRPO ignores it);
- ``gold`` (JSON ``{"<imgK>": sentence}``), ``candidates`` (``["<img1>", …]``), ``n_sentences``:
  the columns the rewards in :mod:`m2io.rewards` read;
- ``qid``, ``doc_ids``, ``candidate_ids`` (the real image ids behind the tags).

Train and validation are split by document with :func:`m2io.evaluation.items.split_by_document`
(20 %, seed 0) — the same split ``m2io eval-inserter --split val`` scores, so validation
documents stay unseen in training. Written as ``train.jsonl``, ``validation.jsonl``,
``meta.json`` and a Hugging Face ``datasets`` folder ``hf/`` (``load_from_disk``).

Example::

    m2io build-inserter-data --data ../shared/bench/gimp --subset gimp \\
        --out .m2io/train/gimp-inserter --distractors random --seed 0
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from m2io.evaluation.items import InserterItem, build_inserter_items, split_by_document
from m2io.inserters.prompt import (
    build_inserter_messages,
    candidate_pairs,
    candidate_tags,
    think_for,
)
from m2io.protocol import render_placement_output

log = logging.getLogger(__name__)

SPLITS = ("train", "validation")
VAL_FRACTION = 0.2  # what eval-inserter's --split val uses
SPLIT_SEED = 0


def item_row(item: InserterItem) -> dict[str, Any]:
    """One dataset row (see the module docstring) for one inserter item."""
    tags = candidate_tags(len(item.candidates))
    tag_of = {c.image_id: t for t, c in zip(tags, item.candidates, strict=True)}
    gold = {tag_of[i]: item.gold[i] for i in item.gold_order if i in tag_of}
    captions = {t: c.image.caption for t, c in zip(tags, item.candidates, strict=True)}
    sentences = [s.text for s in item.answer.sentences]
    prompt = build_inserter_messages(
        item.answer.question, sentences, candidate_pairs(item.candidates)
    )
    target = render_placement_output(gold, think=think_for(gold, captions))
    return {
        "qid": item.qid,
        "doc_ids": list(item.doc_ids),
        "prompt": prompt,
        "completion": [{"role": "assistant", "content": target}],
        "gold": json.dumps(gold),
        "candidates": tags,
        "candidate_ids": [c.image_id for c in item.candidates],
        "n_sentences": len(sentences),
    }


def build_inserter_dataset(
    data: str | Path,
    subset: str | None = None,
    *,
    distractors: str = "random",
    ratio: float = 1.0,
    seed: int = 0,
    with_context: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """``{"train": rows, "validation": rows}`` for an MRAMG-layout subset.

    Args:
        data: MRAMG-layout folder.
        subset: Subset name (default: the only one in ``data``).
        distractors: ``"random"`` or ``"hard"`` (most similar caption; loads the text embedder).
        ratio: Distractors per gold image (1.0 = the paper's 1:1).
        seed: Seeds distractors and candidate order.
        with_context: Give candidates their source context (leaks positions in derived sets
            such as the GIMP dev set, where the gold answer is the source text).
    """
    from m2io.corpus.mramg import load_mramg, load_questions, resolve_subset

    root = Path(data).resolve()
    subset = resolve_subset(root, subset)
    corpus = load_mramg(root, subset)
    questions = load_questions(root, subset)
    items = build_inserter_items(
        questions,
        corpus,
        distractors=distractors,
        ratio=ratio,
        seed=seed,
        with_context=with_context,
    )
    if not items:
        raise ValueError(f"no inserter items in {root} ({subset}): no question has gold images")
    train, val = split_by_document(items, val_fraction=VAL_FRACTION, seed=SPLIT_SEED)
    return {"train": [item_row(i) for i in train], "validation": [item_row(i) for i in val]}


def write_dataset(
    splits: dict[str, list[dict[str, Any]]],
    out: str | Path,
    *,
    meta: dict[str, Any] | None = None,
    hf: bool = True,
) -> Path:
    """Write ``<split>.jsonl``, ``meta.json`` and (with ``hf``) a ``datasets`` folder ``hf/``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    docs = {name: sorted({d for r in rows for d in r["doc_ids"]}) for name, rows in splits.items()}
    info = {
        **(meta or {}),
        "n": {name: len(rows) for name, rows in splits.items()},
        "n_documents": {name: len(d) for name, d in docs.items()},
        "columns": sorted(next(iter(r for rows in splits.values() for r in rows), {})),
    }
    (out / "meta.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    if hf:
        from m2io.registry import require

        datasets = require("datasets", "train")
        dd = datasets.DatasetDict(
            {name: datasets.Dataset.from_list(rows) for name, rows in splits.items()}
        )
        dd.save_to_disk(str(out / "hf"))
    return out


def read_rows(folder: str | Path, split: str) -> list[dict[str, Any]]:
    """The rows of ``<folder>/<split>.jsonl``."""
    path = Path(folder) / f"{split}.jsonl"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found; build the set with: m2io build-inserter-data --out {folder} ..."
        )
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_split(
    folder: str | Path,
    split: str,
    *,
    columns: Sequence[str] | None = None,
    limit: int | None = None,
) -> Any:
    """A ``datasets.Dataset`` of one split, restricted to ``columns`` and the first ``limit`` rows.

    Reads the JSONL (the ``hf/`` folder holds the same rows, for other tools).
    """
    from m2io.registry import require

    datasets = require("datasets", "train")
    rows = read_rows(folder, split)
    if limit is not None:
        rows = rows[:limit]
    if columns is not None:
        missing = [c for c in columns if rows and c not in rows[0]]
        if missing:
            raise ValueError(f"{folder}/{split}.jsonl lacks columns {missing}")
        rows = [{c: r[c] for c in columns} for r in rows]
    if not rows:
        raise ValueError(f"{folder}/{split}.jsonl has no rows")
    return datasets.Dataset.from_list(rows)
