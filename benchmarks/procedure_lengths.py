"""How long are a manual's numbered procedures? The figures behind the how-to answer's cap.

Every section of each index (a document's chunks under one heading, as the retriever assembles
them) is cut into units and sections as the extractive generator cuts a retrieved context, and
its numbered procedure found as a how-to answer finds it
(:func:`m2io.generators.procedures.numbered`); its length is the words the answer would spend
on it (the introducing sentence and every step, :func:`m2io.generators.focus.words`). Prints,
per manual and over all, the median and 90th percentile length and the share of procedures
that fit whole in 1, 1.5, 2, 2.5 and 3 times the how-to budget; writes the JSON with ``--out``.

    .venv/bin/python benchmarks/procedure_lengths.py --index octave=/work/idx/final/octave \
        --index gimp=/work/idx/dev/gimp --out results/procedure_lengths.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

from _report import machine, write_result

FACTORS = (1.0, 1.5, 2.0, 2.5, 3.0)


def section_chunks(index: Path) -> list[list[dict]]:
    """The chunk rows of ``index``'s chunks.jsonl grouped by (document, section span), each
    group in document order."""
    groups: dict[tuple[str, tuple[int, int]], list[dict]] = defaultdict(list)
    with (index / "chunks.jsonl").open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            span = tuple(row.get("section") or (row["start"], row["start"] + len(row["text"])))
            groups[(row["doc_id"], span)].append(row)
    return [sorted(g, key=lambda r: r["start"]) for g in groups.values()]


def lengths(index: Path) -> list[int]:
    """Words of each numbered procedure of ``index`` (one per section that holds one)."""
    from m2io.generators.focus import passages, units
    from m2io.generators.procedures import numbered
    from m2io.generators.sections import sections
    from m2io.types import Chunk, Retrieval, RetrievedChunk, Source

    out = []
    for rows in section_chunks(index):
        chunks = tuple(
            RetrievedChunk(
                Chunk(
                    r["chunk_id"],
                    r["doc_id"],
                    r["text"],
                    start=r["start"],
                    source=Source(r["doc_id"], **(r.get("source") or {})),
                ),
                1.0,
            )
            for r in rows
        )
        ps = passages(Retrieval("", chunks, ()))
        all_units = [u for k, p in enumerate(ps) for u in units(p, k)]
        for s in sections(all_units, ps):
            proc = numbered(s, ps, all_units, frozenset())
            if proc is not None and len(proc.steps) >= 2:
                out.append(sum(u.words for u in proc.units))
    return out


def summary(words: list[int], budget: int) -> dict[str, object]:
    ordered = sorted(words)
    n = len(ordered)
    if not n:
        return {"procedures": 0}
    return {
        "procedures": n,
        "median_words": ordered[n // 2],
        "p90_words": ordered[min(n - 1, (9 * n) // 10)],
        "max_words": ordered[-1],
        "fit_whole": {
            f"{f:g}x ({round(f * budget)} words)": round(
                100 * sum(w <= f * budget for w in ordered) / n, 1
            )
            for f in FACTORS
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", action="append", required=True, metavar="NAME=FOLDER")
    ap.add_argument("--budget", type=int, default=180, help="the how-to budget (default 180)")
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    load = os.getloadavg()
    per: dict[str, dict[str, object]] = {}
    every: list[int] = []
    for item in args.index:
        name, _, folder = item.partition("=")
        words = lengths(Path(folder))
        every += words
        per[name] = summary(words, args.budget)
        print(name, json.dumps(per[name]))
    per["all"] = summary(every, args.budget)
    print("all", json.dumps(per["all"]))
    if args.out:
        write_result(args.out, {"budget": args.budget, "manuals": per, "machine": machine(load)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
