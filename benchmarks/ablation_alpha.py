"""α ablation of the learned inserter (M2IO-R1's reward-weight experiment, arXiv 2508.06328).

Trains one GRPO policy per α ∈ {0, 0.2, 0.4, 0.6, 0.8, 1.0} (reward = format × (α·recall +
(1−α)·position)) on the training side of the by-document split, and scores each on the held-out
documents with random AND hard 1:1 distractors, next to the Rule-Based baseline
(``RuleInserter``, default threshold) on the same items. Writes ``ablation_alpha.md`` (table),
``ablation_alpha.json`` and ``ablation_alpha.png`` (F1 / position accuracy / ordering vs α) into
the results folder. With ``--pipeline-items`` (the shipped recipe) the training set also holds
each training question's retrieval + extractive answer, and the table adds the end-to-end image
F1 / ordering on the held-out questions' own pipeline answers. Embeddings are cached (``$M2IO_CACHE`` or ``~/.cache/m2io``), so a rerun
costs only the training (~10–20 s per α on 2 cores).

Command (from the repository root)::

    .venv/bin/python benchmarks/ablation_alpha.py --data ../shared/bench/gimp --subset gimp \\
        --distractors both --pipeline-items --out results/ablation_alpha
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from _common import data_parser, start, training_data

from m2io.evaluation.items import PipelineItem, score_inserter
from m2io.inserters.rule import RuleInserter, candidate_text
from m2io.learned.features import FEATURE_VERSION
from m2io.learned_training import GRPOConfig
from m2io.learned_training.grpo import evaluate, prepare, train_grpo

ALPHAS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
SHOWN = (
    ("image_precision", "P"),
    ("image_recall", "R"),
    ("image_f1", "F1"),
    ("image_ordering", "Ord"),
    ("position_accuracy", "PosAcc"),
    ("position_within_1", "PosAcc±1"),
)


def main() -> None:
    p = data_parser(__doc__)
    p.add_argument(
        "--pipeline-items",
        action="store_true",
        help="train on pipeline items too (the shipped recipe) and report end-to-end F1/ordering",
    )
    p.add_argument("--alphas", default=",".join(str(a) for a in ALPHAS))
    p.add_argument("--epochs", type=int, default=GRPOConfig.epochs)
    p.add_argument("--seed", type=int, default=0)
    args, out, embedder = start(p, "results/ablation_alpha")
    train_data = training_data(args, embedder, pipeline=args.pipeline_items)
    held: dict[str, list] = {
        mode: training_data(args, embedder, distractors=mode).val for mode in ("random", "hard")
    }
    pipeline_val = [it for it in train_data.val if isinstance(it, PipelineItem)]
    every = [*train_data.train, *held["random"], *held["hard"], *pipeline_val]
    embedder.preload([candidate_text(c) for it in every for c in it.candidates])
    # the corpus's own profile (where its images sit), as the policy gets it in use
    profile = next(iter(train_data.profiles.values()), None)
    kw = {"cache_dir": args.cache_dir, "profile": profile}
    train = prepare(train_data.train, embedder, **kw)
    val = {m: prepare(items, embedder, **kw) for m, items in held.items()}
    e2e = prepare(pipeline_val, embedder, **kw) if pipeline_val else []
    rows: list[dict] = [
        {
            "system": "rule (default threshold)",
            "alpha": None,
            "seconds": 0.0,
            **{
                m: score_inserter(RuleInserter(embedder=embedder), items)
                for m, items in held.items()
            },
            **(
                {"e2e": score_inserter(RuleInserter(embedder=embedder), pipeline_val)}
                if e2e
                else {}
            ),
        }
    ]
    for alpha in [float(a) for a in args.alphas.split(",")]:
        cfg = GRPOConfig(alpha=alpha, epochs=args.epochs, seed=args.seed)
        t0 = time.perf_counter()
        policy, _ = train_grpo(train, cfg)
        rows.append(
            {
                "system": f"learned α={alpha:g}",
                "alpha": alpha,
                "seconds": round(time.perf_counter() - t0, 1),
                **{m: evaluate(policy, items, alpha) for m, items in val.items()},
                **({"e2e": evaluate(policy, e2e, alpha)} if e2e else {}),
            }
        )
        print(
            f"alpha {alpha:g}: "
            + "  ".join(
                f"{m} F1 {rows[-1][m]['image_f1']:.1f} pos {rows[-1][m]['position_accuracy']:.1f}"
                for m in val
            ),
            flush=True,
        )

    meta = {
        "data": str(Path(args.data).resolve()),
        "subset": args.subset,
        "train_distractors": args.distractors,
        "n_train": len(train),
        "pipeline_items": args.pipeline_items,
        "n_val_e2e": len(e2e),
        "n_val": {m: len(v) for m, v in val.items()},
        "epochs": args.epochs,
        "seed": args.seed,
        "ordering": "MRAMG costs (a missing gold image 3, an extra one 2; issue 11)",
        "features": f"version {FEATURE_VERSION}",
        "date": time.strftime("%Y-%m-%d"),
    }
    (out / "ablation_alpha.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    e2e_cols = ("image_f1", "image_ordering") if e2e else ()
    header = (
        "| system | "
        + " | ".join(f"{m} {s}" for m in val for _, s in SHOWN)
        + "".join(f" | e2e {k.split('_')[1]}" for k in e2e_cols)
        + " | train s |"
    )
    lines = [
        "# α ablation of the learned inserter",
        "",
        f"Training: {meta['n_train']} answers ({args.distractors} distractors"
        + (", plus pipeline items" if e2e else "")
        + "), by-document split "
        f"of `{args.subset}`; held out: {meta['n_val']['random']} answers, scored with random "
        "and hard 1:1 distractors (×100, greedy decoding). Same seed for every α.",
        "",
        header,
        "|" + "---|" * (2 + len(val) * len(SHOWN) + len(e2e_cols)),
    ]
    for r in rows:
        cells = [f"{r[m][k]:.1f}" for m in val for k, _ in SHOWN]
        cells += [f"{r['e2e'][k]:.1f}" for k in e2e_cols]
        lines.append(f"| {r['system']} | " + " | ".join(cells) + f" | {r['seconds']:.1f} |")
    (out / "ablation_alpha.md").write_text("\n".join(lines) + "\n")
    plot(rows, out / "ablation_alpha.png")
    print("\n".join(lines))


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    learned = [r for r in rows if r["alpha"] is not None]
    rule = rows[0]
    alphas = [r["alpha"] for r in learned]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, (key, label) in zip(
        axes,
        (
            ("image_f1", "image F1"),
            ("position_accuracy", "position accuracy"),
            ("image_ordering", "ordering"),
        ),
        strict=True,
    ):
        for mode, style in (("random", "-"), ("hard", "--")):
            (line,) = ax.plot(
                alphas, [r[mode][key] for r in learned], style, marker="o", label=f"learned, {mode}"
            )
            ax.axhline(rule[mode][key], ls=style, color="gray", lw=1, label=f"rule, {mode}")
        ax.set(title=label, xlabel="α (recall weight)")
    axes[0].set_ylabel("×100, held-out documents")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
