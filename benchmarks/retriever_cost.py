"""Retriever-only latency of the default HybridRetriever beside one with some options changed,
on one open index, in one process (rounds interleave, in alternating order, so both see the
same load).

For each configuration: the first question (what is computed on first use: heading vectors read,
page kinds) and the median of the following questions over ``--rounds`` rounds. The questions
come from a questions file (``results/howto_unseen/questions.json`` layout) or a text file, one a
line.

    PYTHONPATH=src .venv/bin/python benchmarks/retriever_cost.py --index /tmp/idx/octave \
        --questions results/fresh_reads/octave-questions.json \
        --set changes_weight=0 --set intro_weight=0 --set variant_weight=0 --out OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from _report import machine, write_result


def read_questions(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [q["question"] for q in json.loads(text)["questions"]]
    return [q.strip() for q in text.splitlines() if q.strip() and not q.startswith("#")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True, help="index folder")
    ap.add_argument("--questions", required=True, help="questions JSON or text file")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", required=True, help="JSON result file")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    load = os.getloadavg()

    from m2io.index import Index
    from m2io.retrievers.hybrid import HybridRetriever

    options = {}
    for item in args.overrides:
        key, _, value = item.partition("=")
        options[key] = json.loads(value)
    questions = read_questions(Path(args.questions))
    index = Index.open(args.index)
    configs = {"default": {}, "changed": options}
    retrievers, first, times = {}, {}, {name: [] for name in configs}
    for name, opts in configs.items():
        t = time.perf_counter()
        retrievers[name] = HybridRetriever(index, **opts)
        retrievers[name].retrieve(questions[0])
        first[name] = time.perf_counter() - t
    for n in range(args.rounds):  # the order alternates, so neither always runs second
        for name, retriever in list(retrievers.items())[:: 1 if n % 2 == 0 else -1]:
            for q in questions:
                t = time.perf_counter()
                retriever.retrieve(q)
                times[name].append(time.perf_counter() - t)
    result = {
        "index": args.index,
        "questions": len(questions),
        "rounds": args.rounds,
        "changed_options": options,
        "first_question_s": {k: round(v, 3) for k, v in first.items()},
        "median_ms": {k: round(1000 * statistics.median(v), 1) for k, v in times.items()},
        "machine": machine(load),
    }
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
