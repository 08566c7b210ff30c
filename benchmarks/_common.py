"""What the learned-inserter benchmarks share (``ablation_alpha.py``, ``learned_splits.py``,
``loco_inserter.py``): the inserter metrics their tables show, the data options, and the start of
a run (options parsed, results folder made, a cached text embedder).

Imported as ``from _common import ...``: a benchmark runs as ``python benchmarks/NAME.py``, which
puts this folder first on ``sys.path``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from m2io.cli import environment
from m2io.embed.text import load_text_embedder
from m2io.learned_training import TrainData, load_training_data
from m2io.learned_training.grpo import CachedEmbedder

# The inserter metrics of a held-out table, in column order (see docs/design.md, Metrics).
SHOWN = (
    "image_precision",
    "image_recall",
    "image_f1",
    "image_ordering",
    "position_accuracy",
    "position_within_1",
)


def data_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with ``--data``, ``--subset`` and the training items' ``--distractors``."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp", help="MRAMG-layout folder")
    p.add_argument("--subset", default="gimp")
    p.add_argument(
        "--distractors",
        default="both",
        choices=("random", "hard", "both"),
        help="distractors of the training items (the shipped recipe: both)",
    )
    return p


def start(
    p: argparse.ArgumentParser, out_default: str
) -> tuple[argparse.Namespace, Path, CachedEmbedder]:
    """Add ``--cache-dir``, ``--index`` and ``--out``, parse the command line, make the results
    folder and load the text embedder behind the embedding cache."""
    p.add_argument(
        "--cache-dir",
        default=environment.cache_dir(),  # read here, at the edge, as the command line does
        help="embedding cache (default: $M2IO_CACHE, $XDG_CACHE_HOME/m2io or ~/.cache/m2io)",
    )
    p.add_argument("--index", help="index for the pipeline items (default: the m2io eval one)")
    p.add_argument("--out", default=out_default)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return args, out, CachedEmbedder(load_text_embedder(), args.cache_dir)


def training_data(args: argparse.Namespace, embedder: CachedEmbedder, **options: Any) -> TrainData:
    """:func:`~m2io.learned.load_training_data` on the command line's ``--data``, ``--subset``,
    ``--distractors`` and ``--index`` (pipeline items only); ``options``: its other keyword
    arguments, or these overridden."""
    options = {"distractors": args.distractors, "index_dir": args.index, **options}
    return load_training_data(args.data, args.subset, embedder=embedder, **options)
