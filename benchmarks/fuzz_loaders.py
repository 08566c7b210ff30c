"""Fuzz the corpus loaders with 100 000 mutated inputs and count unhandled exceptions.

The same harness as ``tests/test_fuzz_loaders.py`` (``m2io.testing.fuzz``), run longer: each case
mutates a seed Markdown page, HTML page, MRAMG ``doc_*.jsonl``, ``*_mqa.jsonl`` or image
collection (byte flips, hostile tokens such as ``![``, ``<img``, ``<!--``, ``<PIC>``, U+E000,
NUL, long runs, nesting, truncation, splicing) and feeds it to ``markdown_to_text``,
``html_to_text``, ``load_folder``, ``load_mramg`` or ``load_questions``. Success and
``CorpusError`` are the allowed outcomes; everything else is counted as unhandled, with samples.
Cases slower than ``--slow`` seconds are counted too (every loader is meant to be linear).
Prints the counts per loader and writes them as JSON to ``--out``.

Command (from the repository root)::

    .venv/bin/python benchmarks/fuzz_loaders.py --cases 100000 --seed 0 \\
        --out results/fuzz_loaders.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from m2io.testing.fuzz import KINDS, FuzzResult, run_fuzz


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="inputs in all")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--kinds", nargs="*", choices=list(KINDS), help="loaders (default all)")
    parser.add_argument("--slow", type=float, default=2.0, help="seconds that make a case slow")
    parser.add_argument("--out", default="results/fuzz_loaders.json", help="JSON result file")
    args = parser.parse_args(argv)

    def progress(done: int, partial: FuzzResult) -> None:
        if done % 10_000 == 0:
            print(f"  {done} cases, {partial.unhandled} unhandled", file=sys.stderr, flush=True)

    kinds = tuple(args.kinds) if args.kinds else None
    result = run_fuzz(args.cases, seed=args.seed, kinds=kinds, slow_s=args.slow, progress=progress)
    summary = result.to_dict()
    summary["command"] = " ".join(["benchmarks/fuzz_loaders.py", *(argv or sys.argv[1:])])
    summary["python"] = platform.python_version()
    print(f"{sum(result.cases.values())} cases in {result.seconds:.0f} s (seed {result.seed})")
    for kind in sorted(result.cases):
        print(
            f"  {kind:18s} {result.cases[kind]:7d} cases  "
            f"{result.handled.get(kind, 0):6d} CorpusError  "
            f"{sum(c.kind == kind for c in result.crashes):4d} unhandled"
        )
    print(
        f"unhandled exceptions: {result.unhandled}; slow cases (> {args.slow} s): {len(result.slow)}"
    )
    print(f"slowest case: {result.slowest:.3f} s")
    for crash in result.crashes[:5]:
        print(f"  {crash.kind} #{crash.case}: {crash.error[:160]} at {crash.where}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 1 if result.unhandled else 0


if __name__ == "__main__":
    raise SystemExit(main())
