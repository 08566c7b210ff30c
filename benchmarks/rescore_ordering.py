"""Re-score the image ordering of saved evaluation items with the current metric.

Until issue 11 the ordering score charged 2 for a missing gold image and 3 for an extra one
(MRAMG charges 3 and 2). The predictions saved in ``*.items.jsonl`` (end-to-end or inserter-only)
do not depend on the metric, so their ordering can be recomputed without re-running anything.
For each file this prints the stored mean (old metric), the mean recomputed with the old costs
(a check that the recomputation matches) and the mean with the current costs, ×100.

    .venv/bin/python benchmarks/rescore_ordering.py results/*.items.jsonl \
        --out results/rescored_ordering.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from m2io.metrics.images import ordering_score


def _old_ordering(pred: list[str], gold: list[str]) -> float:
    """The ordering score with the swapped costs m2io used before issue 11."""
    return ordering_score(pred, gold, deletion=3, insertion=2)


def _sequences(item: dict) -> tuple[list[str], list[str]]:
    """(predicted ids in reading order, gold ids in order) of an end-to-end or inserter item."""
    pred, gold = item["prediction"], item["gold"]
    if "order" in pred:  # inserter-only item
        return list(pred["order"]), list(gold["order"])
    return [str(i["image_id"]) for i in pred.get("images", [])], list(gold["images"])


def rescore(path: Path) -> dict[str, float]:
    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    seqs = [_sequences(it) for it in items]
    return {
        "n": len(items),
        "stored": round(statistics.fmean(it["scores"]["image_ordering"] for it in items), 2),
        "old_recomputed": round(100 * statistics.fmean(_old_ordering(p, g) for p, g in seqs), 2),
        "fixed": round(100 * statistics.fmean(ordering_score(p, g) for p, g in seqs), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("items", nargs="+", type=Path, help="*.items.jsonl files")
    ap.add_argument("--out", type=Path, help="write the table as JSON here")
    args = ap.parse_args()
    table = {}
    for path in args.items:
        row = rescore(path)
        table[str(path)] = row
        print(
            f"{row['stored']:6.2f} stored  {row['old_recomputed']:6.2f} old  "
            f"{row['fixed']:6.2f} fixed  n={row['n']:4d}  {path}"
        )
    if args.out:
        args.out.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
