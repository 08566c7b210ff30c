"""Save and load a trained placement policy: ``model.safetensors`` + ``config.json``.

A model folder holds:

- ``model.safetensors``: the policy's arrays (``u``, ``w``, and ``W1``/``b1``/``v`` for an MLP),
  written with ``safetensors.numpy`` (no pickle, loads without torch);
- ``config.json``: ``format_version``, ``kind``, ``feature_version`` and the ordered
  ``slot_features`` / ``keep_features`` lists the weights were trained on, the text ``embedder``, ``alpha``, ``seed``, the
  training config, a description of the training data and the measured ``metrics``;
- optionally ``README.md`` and reward-curve plots, written by the trainer.

Loading checks the format version and that the feature list matches this version of m2io, so a
model never silently runs on features it was not trained with.

Example:
    >>> save_model("models/inserter", policy, ModelCard(alpha=0.8, seed=0))  # doctest: +SKIP
    >>> policy, card = load_model("models/inserter")                         # doctest: +SKIP
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

from m2io.embed.text import DEFAULT_TEXT_MODEL
from m2io.learned.features import FEATURE_VERSION, KEEP_FEATURES, SLOT_FEATURES
from m2io.learned.policy import Policy

# The policy that ships in the package (``--inserter learned`` without ``--model``).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"
FORMAT_VERSION = 1
KIND = "m2io.learned.placement-policy"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


class ModelError(ValueError):
    """A model folder that is missing, incomplete or made for other features."""


@dataclass
class ModelCard:
    """Everything about a trained policy except its weights.

    Attributes:
        alpha: Reward weight of recall vs. position it was trained with.
        seed: Training seed.
        embedder: Text embedder whose vectors the features use.
        training: Hyper-parameters (a :class:`~m2io.learned_training.grpo.GRPOConfig` as a dict).
        data: How the training data was made (path, subset, distractors, split, sizes).
        metrics: Held-out metrics measured after training.
        extra: Anything else worth keeping (timings, command line, date).
    """

    alpha: float = 0.8
    seed: int = 0
    embedder: str = DEFAULT_TEXT_MODEL
    training: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def save_model(folder: str | Path, policy: Policy, card: ModelCard) -> Path:
    """Write ``policy`` and ``card`` into ``folder`` (created if needed); return the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    if (policy.n_slot, policy.n_keep) != (len(SLOT_FEATURES), len(KEEP_FEATURES)):
        raise ModelError(
            f"policy has {policy.n_slot}/{policy.n_keep} inputs, this m2io's features "
            f"{len(SLOT_FEATURES)}/{len(KEEP_FEATURES)}"
        )
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in policy.params.items()},
        str(out / WEIGHTS),
    )
    config = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "feature_version": FEATURE_VERSION,
        "slot_features": list(SLOT_FEATURES),
        "keep_features": list(KEEP_FEATURES),
        "hidden": policy.hidden,
        **asdict(card),
    }
    (out / WEIGHTS).chmod(0o644)  # safetensors writes 0600; a shipped model must be readable
    (out / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return out


def load_model(folder: str | Path) -> tuple[Policy, ModelCard]:
    """Read a model folder written by :func:`save_model`.

    Raises:
        ModelError: The folder or one of its files is missing, the format version is unknown,
            or the features differ from this version of m2io.
    """
    path = Path(folder)
    if not path.is_dir():
        raise ModelError(f"learned inserter model folder not found: {path}")
    missing = [name for name in (CONFIG, WEIGHTS) if not (path / name).is_file()]
    if missing:
        raise ModelError(
            f"{path} is not a learned inserter model: missing {', '.join(missing)} "
            f"(train one with: m2io train inserter-policy --data DIR --subset NAME --out {path})"
        )
    try:
        config = json.loads((path / CONFIG).read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f"{path / CONFIG}: unreadable config: {err}") from err
    if config.get("kind") != KIND:
        raise ModelError(f"{path}: kind {config.get('kind')!r}, expected {KIND!r}")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"{path}: format version {config.get('format_version')!r}; this m2io reads "
            f"{FORMAT_VERSION}"
        )
    if (config.get("slot_features"), config.get("keep_features")) != (
        list(SLOT_FEATURES),
        list(KEEP_FEATURES),
    ):
        raise ModelError(
            f"{path}: trained on other features (feature version "
            f"{config.get('feature_version')!r}, this m2io has {FEATURE_VERSION}); retrain it"
        )
    try:
        params = load_file(str(path / WEIGHTS))
    except Exception as err:  # safetensors raises its own error types
        raise ModelError(f"{path / WEIGHTS}: unreadable weights: {err}") from err
    try:
        policy = Policy({k: v.astype(np.float64) for k, v in params.items()})
    except ValueError as err:
        raise ModelError(f"{path / WEIGHTS}: {err}") from err
    if (policy.n_slot, policy.n_keep) != (len(SLOT_FEATURES), len(KEEP_FEATURES)):
        raise ModelError(
            f"{path}: weights have {policy.n_slot}/{policy.n_keep} inputs, expected "
            f"{len(SLOT_FEATURES)}/{len(KEEP_FEATURES)}"
        )
    names = {f.name for f in ModelCard.__dataclass_fields__.values()}
    card = ModelCard(**{k: v for k, v in config.items() if k in names})
    return policy, card
