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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from m2io.embed.text import TextEmbedder
from m2io.evaluation.items import DISTRACTOR_MODES
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


def _opt(default: Any, text: str, **more: Any) -> Any:
    if isinstance(default, list):
        return field(default_factory=list, metadata={"help": text, **more})
    return field(default=default, metadata={"help": text, **more})


@dataclass
class PolicyRecipe:
    """What ``m2io train inserter-policy`` trains on and where it writes the model; the GRPO
    hyper-parameters are :class:`~m2io.learned_training.grpo.GRPOConfig`. Each field is a
    command-line flag (``--val-fraction``) and a recipe key (``val_fraction``), with the help
    text in its ``metadata`` (``choices`` where the values are few), so the flags, the recipe
    and the command recorded with a model cannot drift apart.
    """

    data: list[str] = _opt(
        [],
        "training corpus: an MRAMG-layout folder, a folder of Markdown/HTML files, or 'demo'; "
        "repeat it to train on several",
    )
    subset: str | None = _opt(None, "subset name (one --data only; default: the only one)")
    distractors: str = _opt(
        "random",
        "1:1 distractors: random, hard (most similar caption) or both (each question twice)",
        choices=(*DISTRACTOR_MODES, "both"),
    )
    split: str = _opt(
        "doc",
        "hold out documents of each corpus (the eval-inserter --split val side), or none "
        "(train on everything; measure on another corpus)",
        choices=("doc", "none"),
    )
    val_fraction: float = _opt(0.2, "held-out share (doc)")
    balance: int = _opt(
        3, "repeat a small corpus's items up to N times so corpora weigh alike (1 = never)"
    )
    data_seed: int = _opt(0, "seeds distractors (as eval)")
    pipeline_items: bool = _opt(
        False,
        "also train on what the inserter meets end to end: each question run through the "
        "default retriever and the extractive generator (builds the eval index if missing)",
    )
    index: list[str] = _opt(
        [],
        "index for --pipeline-items: DIR (one --data), or NAME=DIR per corpus (NAME: the "
        "MRAMG subset, 'demo' or the folder's name); default: the one m2io eval uses",
    )
    cache_dir: str | None = _opt(
        None,
        "embedding cache (default ~/.cache/m2io; the command line: $M2IO_CACHE)",
        recorded=False,
    )
    out: str | None = _opt(None, "model folder to write (required, here or in the recipe)")


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
