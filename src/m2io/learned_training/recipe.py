"""The training recipe of the learned inserter, shared by ``m2io train inserter-policy`` and the
benchmarks: training data (:mod:`~m2io.learned_training.items`) → features → GRPO
(:mod:`~m2io.learned_training.grpo`) → train / held-out metrics → a model folder
(:mod:`~m2io.learned.artifact`, :mod:`~m2io.learned_training.report`). See docs/design.md, Training.

Example:
    >>> data = load_training_data("../shared/bench/gimp", "gimp")           # doctest: +SKIP
    >>> run = train_inserter_policy(data, GRPOConfig(alpha=0.8))            # doctest: +SKIP
    >>> save_training_run("models/policy", run)                             # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from m2io.embed.text import TextEmbedder
from m2io.learned.artifact import ModelCard, save_model
from m2io.learned_training.grpo import (
    GRPOConfig,
    cached_embedder,
    evaluate_by_kind,
    prepare,
    train_grpo,
)
from m2io.learned_training.items import TrainData
from m2io.learned_training.report import TrainRun, plot_history

logger = logging.getLogger(__name__)


def train_inserter_policy(
    data: TrainData,
    config: GRPOConfig,
    *,
    embedder: TextEmbedder | None = None,
    cache_dir: str | Path | None = None,
) -> TrainRun:
    """Embed (cached), build features, train with GRPO and score both sides of the split."""
    embedder = cached_embedder(embedder, cache_dir)
    t0 = time.perf_counter()
    prepared = prepare(
        [*data.train, *data.val],
        embedder,
        cache_dir=cache_dir,
        profile=[*data.profiles_of("train"), *data.profiles_of("val")],
    )
    train, val = prepared[: len(data.train)], prepared[len(data.train) :]
    t_prep = time.perf_counter() - t0
    policy, history = train_grpo(train, config, val=val)
    return TrainRun(
        policy=policy,
        history=history,
        config=config,
        train_metrics=evaluate_by_kind(policy, train, config.alpha),
        val_metrics=evaluate_by_kind(policy, val, config.alpha),
        data={**data.description, "embedder": embedder.name},
        seconds={"features": round(t_prep, 2), "train": round(history.seconds, 2)},
    )


def save_training_run(
    folder: str | Path, run: TrainRun, *, extra: dict[str, Any] | None = None
) -> Path:
    """Save the policy, its card, ``history.json`` and (with matplotlib) ``reward_curve.png``."""
    card = ModelCard(
        alpha=run.config.alpha,
        seed=run.config.seed,
        embedder=run.data.get("embedder", ModelCard.embedder),
        training=asdict(run.config),
        data=run.data,
        metrics={
            "held_out": _rounded(run.val_metrics),
            "train": _rounded(run.train_metrics),
            "seconds": run.seconds,
        },
        extra=extra or {},
    )
    out = save_model(folder, run.policy, card)
    (out / "history.json").write_text(json.dumps(run.history.as_dict()) + "\n", "utf-8")
    try:
        plot_history(run.history, out / "reward_curve.png", title=f"GRPO, alpha={run.config.alpha}")
    except ImportError:
        logger.warning(
            "matplotlib is not installed: no reward_curve.png (pip install 'm2io[eval]')"
        )
    return out


def _rounded(metrics: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {kind: {k: round(float(v), 4) for k, v in m.items()} for kind, m in metrics.items()}
