"""Calibrate the retriever's "nothing relevant found" floor on the dev sets.

For every real question of each MRAMG-layout dev set, and for a fixed list of unrelated queries
(off-topic questions, other languages, random words, punctuation), it records the best chunk's
dense cosine and BM25 score. The dev questions share a template ("What does the GIMP
documentation say about ...") whose words lift every score, so the floor is not put just under
them: it is the lowest floor (0.01 steps) that refuses at least ``--refuse`` (80 %) of the unrelated
queries on every set, provided it keeps at least ``--keep`` of the real questions; the bare
section titles of the questions (terse real queries) are reported against it too. The result is
the default of ``HybridRetriever(min_score=None)`` (``m2io.retrievers.floor.CALIBRATED_FLOOR``).

Run (from the repository root; indexes are built under --work if missing)::

    python benchmarks/calibrate_floor.py --data ../shared/bench/gimp ../shared/bench/gnucash \\
        --work /tmp/calibrate --out results/calibrate_floor.json
"""

from __future__ import annotations

import argparse
import json
import logging
import math
from pathlib import Path

import numpy as np

from m2io.corpus import load_corpus
from m2io.corpus.mramg import find_subsets
from m2io.index import Index, build_index
from m2io.retrievers.hybrid import HybridRetriever
from m2io.text import tokenize

UNRELATED = [
    "What is the capital of Peru?",
    "Best pizza recipe",
    "Who won the football world cup in 2014?",
    "How tall is Mount Everest?",
    "What is the boiling point of water at sea level?",
    "Recommend a good science fiction novel",
    "How do I train for a marathon?",
    "What are the symptoms of the flu?",
    "Translate good morning into Japanese",
    "Why is the sky blue?",
    "How many legs does a spider have?",
    "What time is sunset in Tokyo today?",
    "Explain the rules of cricket",
    "How do I bake sourdough bread?",
    "Who painted the Mona Lisa?",
    "What is the population of Canada?",
    "How do vaccines work?",
    "Plan a three day trip to Rome",
    "What is the square root of 144?",
    "Write a poem about the ocean",
    "Quelle est la capitale de la France ?",
    "Wie spät ist es in Berlin?",
    "¿Dónde está la biblioteca?",
    "Как приготовить борщ?",
    "如何煮米饭？",
    "東京の天気はどうですか",
    "banana telescope umbrella giraffe",
    "purple elephant quantum sandwich",
    "zebra volcano harmonica",
    "lorem ipsum dolor sit amet",
    "asdf qwerty zxcv",
    "???",
    "...",
    "!!! ???",
    "-- // **",
]


def _index(data: Path, work: Path) -> tuple[Index, str]:
    subset = find_subsets(data)[0]
    folder = work / f"idx-{subset}"
    if not (folder / "manifest.json").is_file():
        corpus = load_corpus(data)
        build_index(corpus.documents, folder, corpus_root=corpus.root, progress=False)
    return Index.open(folder), subset


def _questions(data: Path, subset: str, key: str = "question") -> list[str]:
    path = data / f"{subset}_mqa.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    return [str(r.get(key) or "") for r in rows if str(r.get(key) or "").strip()]


def _top_scores(r: HybridRetriever, query: str) -> tuple[float | None, float | None]:
    """(best dense cosine, best BM25) over chunks retrievers may return; None if not searched."""
    if not tokenize(query):
        return None, None
    index = r.index
    allowed = np.array([i not in r.excluded_rows for i in range(len(index.chunks))])
    qvec = index.embed_query(query)
    dense = index.chunk_similarity(qvec, list(range(len(index.chunks))))
    lexical = index.lexical.scores(query)
    return float(dense[allowed].max()), float(lexical[allowed].max())


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else math.nan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path(".m2io/calibrate"))
    parser.add_argument("--out", type=Path, default=Path("results/calibrate_floor.json"))
    parser.add_argument("--keep", type=float, default=0.99, help="share of real questions kept")
    parser.add_argument(
        "--refuse", type=float, default=0.8, help="share of unrelated queries refused"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sets = {}
    titles: dict[str, list[float]] = {}
    unrelated: dict[str, list[tuple[str, float | None, float | None]]] = {}
    for data in args.data:
        index, subset = _index(data, args.work)
        r = HybridRetriever(index, min_score=0.0)
        real = [_top_scores(r, q) for q in _questions(data, subset)]
        sets[subset] = [(d, b) for d, b in real if d is not None]
        short = [_top_scores(r, q)[0] for q in set(_questions(data, subset, "section_title"))]
        titles[subset] = [d for d in short if d is not None]
        unrelated[subset] = [(q, *_top_scores(r, q)) for q in UNRELATED]
    # highest floor (0.01 steps) keeping >= keep of the real questions of every set
    ceiling = min(
        math.floor(100 * _pct([d for d, _ in v], 100 * (1 - args.keep))) / 100
        for v in sets.values()
    )
    # lowest floor refusing >= refuse of the unrelated queries on every set
    wanted = max(
        math.ceil(100 * _pct([d for _, d, _ in v if d is not None], 100 * args.refuse)) / 100
        for v in unrelated.values()
    )
    floor = min(wanted, ceiling)
    report: dict[str, object] = {
        "floor": floor,
        "keep": args.keep,
        "refuse": args.refuse,
        "highest_floor_keeping": ceiling,
        "lowest_floor_refusing": wanted,
        "sets": {},
    }
    for subset, real in sets.items():
        dense = [d for d, _ in real]
        off = unrelated[subset]
        searched = [d for _, d, _ in off if d is not None]
        refused = sum(1 for _, d, _ in off if d is None or d < floor)
        report["sets"][subset] = {  # type: ignore[index]
            "real_questions": len(dense),
            "real_kept": sum(d >= floor for d in dense) / len(dense),
            "real_dense": {q: round(_pct(dense, q), 4) for q in (0, 1, 5, 50)},
            "real_bm25": {q: round(_pct([b for _, b in real], q), 3) for q in (0, 1, 5, 50)},
            "section_titles": len(titles[subset]),
            "section_titles_kept": sum(d >= floor for d in titles[subset])
            / max(len(titles[subset]), 1),
            "unrelated_queries": len(off),
            "unrelated_refused": refused / len(off),
            "unrelated_dense": {q: round(_pct(searched, q), 4) for q in (50, 90, 100)},
            "unrelated_kept": [q for q, d, _ in off if d is not None and d >= floor],
            "unrelated_scores": [
                {"query": q, "dense": None if d is None else round(d, 4), "bm25": b}
                for q, d, b in off
            ],
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
