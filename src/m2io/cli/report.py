"""``m2io report RESULTS.json... [--out DIR]``: compare evaluation runs side by side.

Writes ``DIR/report.md`` (printed too) with one table per comparable group (subset, end-to-end vs.
inserter-only, distractor setting) and PNG plots beside it: metrics per system (grouped bars) and
latency per stage. Example::

    m2io report results/*.json --out results/report
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from m2io.cli.common import add_set_argument, apply_flag_overrides
from m2io.evaluation.report import write_report

# ``--set report.KEY=VALUE`` → the flag it sets
SET_KEYS = {"out": "out", "no_plots": "no_plots"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", help="results JSON files from m2io eval / eval-inserter")
    p.add_argument("--out", default="report", help="output folder (default: ./report)")
    p.add_argument("--no-plots", action="store_true", help="write the Markdown table only")
    add_set_argument(p, "report.no_plots=true (report.KEY: " + ", ".join(SET_KEYS) + ")")


def run(args: argparse.Namespace) -> int:
    apply_flag_overrides(args, args.set, "report", SET_KEYS)
    paths = [Path(p) for p in args.results if not p.endswith(".items.jsonl")]
    report = write_report(paths, args.out, plots=not args.no_plots)
    print(report.markdown, end="")
    for reason in report.skipped:
        print(f"skipped: {reason}", file=sys.stderr)
    print(f"wrote {', '.join(str(f) for f in report.files)}", file=sys.stderr)
    return 0
