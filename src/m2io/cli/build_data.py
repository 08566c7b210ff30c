"""``m2io build-inserter-data``: write the M2IO-Inserter training set from an MRAMG-layout subset.

Gold answers without their images, gold images + 1:1 distractors as candidates, the inserter
prompt and the gold output, split train/validation by document. Example::

    m2io build-inserter-data --data ../shared/bench/gimp --subset gimp \\
        --out .m2io/train/gimp-inserter --distractors random --seed 0
"""

from __future__ import annotations

import argparse
import sys

from m2io.cli.common import add_item_arguments, add_set_argument, apply_flag_overrides

# ``--set data.KEY=VALUE`` → the flag it sets (the pipeline commands' syntax for these options)
SET_KEYS = {
    "subset": "subset",
    "distractors": "distractors",
    "ratio": "ratio",
    "seed": "seed",
    "with_context": "with_context",
    "out": "out",
    "no_hf": "no_hf",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_item_arguments(p)
    p.add_argument("--out", required=True, help="output folder (JSONL + meta.json + hf/)")
    p.add_argument(
        "--no-hf",
        action="store_true",
        help="skip the Hugging Face datasets folder (no 'datasets' needed)",
    )
    add_set_argument(p, "data.seed=1 (data.KEY: " + ", ".join(SET_KEYS) + ")")


def run(args: argparse.Namespace) -> int:
    from m2io.training.data import build_inserter_dataset, write_dataset

    apply_flag_overrides(args, args.set, "data", SET_KEYS)
    splits = build_inserter_dataset(
        args.data,
        args.subset,
        distractors=args.distractors,
        ratio=args.ratio,
        seed=args.seed,
        with_context=args.with_context,
    )
    meta = {
        "data": str(args.data),
        "subset": args.subset,
        "distractors": args.distractors,
        "ratio": args.ratio,
        "seed": args.seed,
        "with_context": args.with_context,
    }
    out = write_dataset(splits, args.out, meta=meta, hf=not args.no_hf)
    for name, rows in splits.items():
        print(f"{name}: {len(rows)} rows")
    print(f"wrote {out}", file=sys.stderr)
    return 0
