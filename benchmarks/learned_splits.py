"""Does the learned inserter generalise? Train on one part of a dev set, test on the rest.

For each split — by document (the ``--split val`` side held out, as the shipped policy), and by
chapter in both directions (train on ``filters``, test on the other chapters; and the reverse) —
this trains a policy with the shipped recipe (random and hard 1:1 distractors + pipeline items, α = 0.8,
seed 0) and scores it on the held-out side next to the Rule-Based baseline on the same items:

- inserter-only, gold answer text, random and hard 1:1 distractors (P/R/F1/ordering/position);
- end to end: the held-out questions' own retrieval + extractive answers (pipeline items), image
  F1 and ordering — what ``m2io eval --split val`` reports for the document split.

Writes ``learned_splits.md`` and ``learned_splits.json`` into ``--out``. Embeddings are cached
(``$M2IO_CACHE`` or ``~/.cache/m2io``); the index is the one ``m2io eval`` uses (built if missing).

Command (from the repository root)::

    .venv/bin/python benchmarks/learned_splits.py --data ../shared/bench/gimp --subset gimp \\
        --distractors both --out results/learned_splits
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from m2io.embed.text import load_text_embedder
from m2io.evaluation.items import PipelineItem, score_inserter
from m2io.inserters.rule import RuleInserter
from m2io.learned import CHAPTERS, GRPOConfig, load_training_data
from m2io.learned.grpo import CachedEmbedder, evaluate, prepare, train_grpo

SPLITS: dict[str, dict[str, Any]] = {
    "documents (466 → 118)": {"split": "doc"},
    "filters → other chapters": {"split": "chapter", "train_chapters": ("filters",)},
    "other chapters → filters": {
        "split": "chapter",
        "train_chapters": tuple(c for c in CHAPTERS if c != "filters"),
    },
}
SHOWN = ("precision", "recall", "f1", "ordering", "position_accuracy")


def run_split(
    name: str, spec: dict[str, Any], args: argparse.Namespace, embedder: CachedEmbedder
) -> dict[str, Any]:
    common = {"embedder": embedder, "cache_dir": args.cache_dir, **spec}
    data = load_training_data(
        args.data, args.subset, distractors=args.distractors, pipeline=True, **common
    )
    random_val = load_training_data(args.data, args.subset, distractors="random", **common).val
    held = {
        "random": random_val,
        "hard": load_training_data(args.data, args.subset, distractors="hard", **common).val,
        "end to end": [it for it in data.val if isinstance(it, PipelineItem)],
    }
    train = prepare(data.train, embedder, cache_dir=args.cache_dir)
    config = GRPOConfig(alpha=0.8, seed=args.seed)
    t0 = time.perf_counter()
    policy, _ = train_grpo(train, config)
    seconds = time.perf_counter() - t0
    rule = RuleInserter(embedder=embedder)
    out: dict[str, Any] = {
        "split": name,
        "n_train": len(data.train),
        "n_held_out": {k: len(v) for k, v in held.items()},
        "train_s": round(seconds, 1),
    }
    for kind, items in held.items():
        prepared = prepare(items, embedder, cache_dir=args.cache_dir)
        out[kind] = {"rule": score_inserter(rule, items), "learned": evaluate(policy, prepared)}
    return out


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| split | held out | system | P | R | F1 | ordering | position acc |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        for kind in ("random", "hard", "end to end"):
            for system in ("rule", "learned"):
                m = r[kind][system]
                prefix = "pipeline_" if kind == "end to end" else ""
                cells = [
                    f"{m[prefix + k]:.1f}" if prefix + k in m else "–"
                    for k in SHOWN
                    if not (prefix and k == "position_accuracy")
                ]
                if prefix:
                    cells.append("–")
                label = f"{kind} ({r['n_held_out'][kind]})"
                lines.append(f"| {r['split']} | {label} | {system} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default="../shared/bench/gimp", help="MRAMG-layout folder")
    p.add_argument("--subset", default="gimp")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--distractors",
        default="both",
        choices=("random", "hard", "both"),
        help="distractors of the training items (the shipped recipe: both)",
    )
    p.add_argument("--only", help="run only the splits whose name contains this text")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--out", default="results/learned_splits")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    embedder = CachedEmbedder(load_text_embedder(), args.cache_dir)
    rows = []
    for name, spec in SPLITS.items():
        if args.only and args.only not in name:
            continue
        rows.append(run_split(name, spec, args, embedder))
        print(f"{name}: done in {rows[-1]['train_s']} s of training", flush=True)
    meta = {
        "data": str(Path(args.data).resolve()),
        "subset": args.subset,
        "recipe": f"{args.distractors} 1:1 distractors + pipeline items, alpha 0.8, "
        "GRPOConfig defaults",
        "seed": args.seed,
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / "learned_splits.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        "# Learned inserter: held-out splits",
        "",
        f"Data `{meta['data']}` ({args.subset}); recipe: {meta['recipe']}, seed {args.seed}. "
        "Rule = RuleInserter (threshold 0.4) on the same held-out items. ×100, greedy decoding. "
        "'end to end' = each held-out question's own retrieval + extractive answer.",
        "",
        *table(rows),
    ]
    (out / "learned_splits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
