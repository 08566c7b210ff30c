"""What a training run leaves beside its model: the reward curve (``reward_curve.png``) and the
``README.md`` that says how the policy was made and what it scores.

Example:
    >>> write_model_readme("models/policy", run, command="m2io train inserter-policy …")  # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from m2io.learned.features import FEATURE_NAMES
from m2io.learned.policy import Policy
from m2io.learned_training.grpo import GRPOConfig, History


@dataclass
class TrainRun:
    """A trained policy with its history and train / held-out metrics: ``{item kind: {metric:
    value}}`` (×100, plus ``reward``; :func:`~m2io.learned_training.grpo.evaluate_by_kind`)."""

    policy: Policy
    history: History
    config: GRPOConfig
    train_metrics: dict[str, dict[str, float]]
    val_metrics: dict[str, dict[str, float]]
    data: dict[str, Any]
    seconds: dict[str, float]


def plot_history(history: History, path: str | Path, *, title: str = "") -> None:
    """Mean sampled reward per step and per epoch, and the held-out greedy reward per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(history.step_reward, lw=0.8, color="tab:blue")
    ax1.set(xlabel="step", ylabel="mean reward of sampled plans", title="per step")
    epochs = range(1, len(history.epoch_reward) + 1)
    ax2.plot(epochs, history.epoch_reward, label="train (sampled)")
    if history.epoch_val:
        ax2.plot(epochs, [v["reward"] for v in history.epoch_val], label="held-out (greedy)")
    ax2.set(xlabel="epoch", ylabel="mean reward", title="per epoch")
    ax2.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# (item kind, metric, row label): the metric names are the evaluations' (one name per metric).
_METRIC_ROWS = (
    ("inserter", "image_precision", "image precision"),
    ("inserter", "image_recall", "image recall"),
    ("inserter", "image_f1", "image F1"),
    ("inserter", "image_ordering", "image ordering"),
    ("inserter", "position_accuracy", "position accuracy"),
    ("inserter", "position_within_1", "position accuracy ±1 sentence"),
    ("inserter", "position", "position reward ×100"),
    ("pipeline", "image_precision", "end-to-end image precision (pipeline items)"),
    ("pipeline", "image_recall", "end-to-end image recall (pipeline items)"),
    ("pipeline", "image_f1", "end-to-end image F1 (pipeline items)"),
    ("pipeline", "image_ordering", "end-to-end image ordering (pipeline items)"),
)


def _metric_rows(sides: list[tuple[str, dict[str, dict[str, float]]]], alpha: float) -> str:
    """The table's rows: each metric, then the mean reward of each kind of item."""
    rows = [(kind, key, label, ".1f") for kind, key, label in _METRIC_ROWS]
    rows += [
        (kind, "reward", f"mean reward, {kind} items (α = {alpha})", ".3f")
        for kind in ("inserter", "pipeline")
    ]
    return "\n".join(
        f"| {label} | "
        + " | ".join(f"{m.get(kind, {}).get(key, float('nan')):{fmt}}" for _, m in sides)
        + " |"
        for kind, key, label, fmt in rows
        if any(key in m.get(kind, {}) for _, m in sides)
    )


def write_model_readme(folder: str | Path, run: TrainRun, *, command: str) -> Path:
    """Write ``README.md`` in a model folder: how it was made and what it scores."""
    d = run.data
    sides = [("held out", run.val_metrics)] if run.val_metrics else []
    sides.append(("train", run.train_metrics))
    rows = _metric_rows(sides, run.config.alpha)
    head = "| metric | " + " | ".join(name for name, _ in sides) + " |"
    rule = "|---|" + "---|" * len(sides)
    split = {
        "doc": f"by document within each corpus (`split_by_document`, val_fraction "
        f"{d.get('val_fraction')}, seed 0 — the `m2io eval-inserter --split val` side is held out)",
        "none": "none (every answer trains; measure it on another corpus)",
    }.get(str(d.get("split")), f"{d.get('split')} (a benchmark's own split)")
    corpora = "; ".join(
        f"`{c.get('name')}` ({c.get('kind')}, {c.get('n_train')} train / {c.get('n_val')} held out)"
        for c in d.get("corpora", [])
    )
    profiles = "; ".join(
        f"`{c.get('name')}` "
        + ", ".join(f"{k} {v:+.2f}" for k, v in (c.get("profile") or {}).items())
        for c in d.get("corpora", [])
    )
    distractors = (
        "distractors, each answer twice (once random, once hard)"
        if d.get("distractors") == "both"
        else f"{d.get('distractors')} distractors"
    )
    pipe = d.get("pipeline_items")
    pipeline = (
        f"; plus pipeline items ({pipe['train']} train / {pipe['val']} held out): each question "
        "run through the default hybrid retriever and the extractive generator, the generated "
        "answer with its retrieved candidates (retrieval order, source context), rewarded with "
        "the mean of end-to-end image F1 and ordering"
        if pipe
        else ""
    )
    text = f"""# Learned inserter policy

A placement policy for `m2io`'s learned image inserter (`--inserter learned`), trained with
GRPO on the outcome reward `format × (α·recall + (1−α)·position)`, α = {run.config.alpha}.

## How it was made

- Date: {datetime.date.today().isoformat()}
- Command:

  ```
  {command}
  ```

- Data: {corpora or f"`{d.get('data')}`"}; inserter-only items (gold answer text
  without its images, candidates = gold images + 1:1 {distractors}, data
  seed {d.get("data_seed")}, captions only — no source context){pipeline}.
- Split: {split}; {d.get("n_train")} training answers, {d.get("n_val")} held out.
- Text embedder: `{d.get("embedder")}`; {len(FEATURE_NAMES)} features (listed in
  `config.json`).
- Corpus profiles (where each corpus's images sit, log-lift per boundary kind, measured on its
  documents: `m2io.learned.profile`): {profiles or "none"}. Give the policy the profile of the
  corpus it serves: `--set inserter.profile=CORPUS_OR_INDEX_DIR` (without one it is neutral).
- GRPO: {", ".join(f"{k}={v}" for k, v in asdict(run.config).items())}.
- Training took {run.seconds["train"]:.1f} s (+ {run.seconds["features"]:.1f} s for embeddings
  and features) on {os.cpu_count()} CPU cores ({platform.machine()}, {platform.system()}).

## Metrics (×100, greedy decoding)

{head}
{rule}
{rows}

`reward_curve.png` and `history.json` hold the reward per step and per epoch.
"""
    path = Path(folder) / "README.md"
    path.write_text(text, "utf-8")
    return path
