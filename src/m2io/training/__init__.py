"""Training the LLM image inserter: M2IO-Inserter data, SFT and GRPO with TRL (arXiv 2508.06328).

- :mod:`m2io.training.data` — the training set (``m2io build-inserter-data``);
- :mod:`m2io.training.sft` — supervised fine-tuning on the gold outputs (``m2io train sft``);
- :mod:`m2io.training.grpo` — GRPO on the shared rewards of :mod:`m2io.rewards`
  (``m2io train grpo``).

Both trainers are configured by a dataclass recipe loaded from YAML (``recipes/train-*.yaml``)
plus ``key=value`` overrides; this module holds what they share: the base recipe, its loader,
the model/LoRA setup and the run's outputs (final model folder, ``log_history.json``,
``curves.png``). Heavy imports (torch, transformers, trl, peft) happen inside functions, so
``import m2io.training`` stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

log = logging.getLogger(__name__)

R = TypeVar("R", bound="TrainRecipe")


def opt(default: Any, help: str) -> Any:  # noqa: A002 (mirrors argparse/TRL's "help")
    """A recipe field with a default and a help text."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: default.copy(), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainRecipe:
    """What SFT and GRPO recipes share. Every field can be set in YAML or as ``key=value``."""

    model: str = opt("smollm2-135m", "start model: folder, hub id, or 'smollm2-135m'")
    data: str = opt(".m2io/train/gimp-inserter", "folder written by 'm2io build-inserter-data'")
    output_dir: str = opt(".m2io/train/inserter", "checkpoints, final model, curves.png go here")
    lora: bool = opt(True, "train LoRA adapters (merged into the final model) vs. full model")
    lora_r: int = opt(16, "LoRA rank")
    lora_alpha: int = opt(32, "LoRA scaling alpha")
    lora_dropout: float = opt(0.05, "LoRA dropout")
    lora_target_modules: str | list[str] = opt("all-linear", "modules LoRA adapts")
    learning_rate: float = opt(1e-4, "peak learning rate")
    max_steps: int = opt(100, "optimizer steps")
    per_device_train_batch_size: int = opt(4, "sequences (GRPO: completions) per device step")
    gradient_accumulation_steps: int = opt(1, "micro-batches per optimizer step")
    max_train_samples: int | None = opt(None, "use only the first N training rows")
    logging_steps: int = opt(1, "log every N steps")
    save_steps: int = opt(50, "checkpoint every N steps")
    save_total_limit: int | None = opt(2, "checkpoints kept")
    seed: int = opt(0, "random seed")
    use_cpu: bool | None = opt(None, "force CPU (default: CPU when no CUDA device)")
    bf16: bool | None = opt(None, "bfloat16 (default: on CUDA when supported; never on CPU)")
    gradient_checkpointing: bool = opt(False, "trade compute for memory")
    resume_from_checkpoint: str | None = opt(
        None, "'latest' (last checkpoint in output_dir) or a checkpoint folder"
    )
    num_threads: int | None = opt(None, "CPU threads for torch")
    report_to: str = opt("none", "'none', 'tensorboard', 'wandb', ...")

    def validate(self) -> None:
        for name in ("lora_r", "lora_alpha", "max_steps", "per_device_train_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.gradient_accumulation_steps < 1 or self.logging_steps < 1 or self.save_steps < 1:
            raise ValueError("gradient_accumulation_steps, logging_steps, save_steps must be >= 1")
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def recipe_help(cls: type[TrainRecipe]) -> str:
    """One line per recipe field: ``name (default): help``."""
    lines = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        lines.append(f"  {f.name} ({default!r}): {f.metadata.get('help', '')}")
    return "\n".join(lines)


def load_recipe(cls: type[R], path: str | Path | None = None, overrides: list[str] = ()) -> R:  # type: ignore[assignment]
    """A recipe from YAML (optional) then ``key=value`` overrides (values parsed as YAML).

    Raises:
        ValueError: Unknown keys (the message lists the valid ones) or invalid values.
    """
    values: dict[str, Any] = {}
    if path is not None:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a recipe is a YAML mapping of field: value")
        values.update(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} is not key=value")
        values[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} field(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
        )
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    recipe = cls(**{k: _coerce(k, v, types[k]) for k, v in values.items()})
    recipe.validate()
    return recipe


def _coerce(name: str, value: Any, annotation: str) -> Any:
    """Numbers YAML reads as strings (``1e-4`` is a string in YAML 1.1) → the field's type."""
    if not isinstance(value, str) or value.lower() in ("none", "null"):
        return (
            None
            if isinstance(value, str) and "None" in annotation and value.lower() in ("none", "null")
            else value
        )
    kinds = [k.strip() for k in annotation.split("|")]
    try:
        if "float" in kinds:
            return float(value)
        if "int" in kinds:
            return int(value)
    except ValueError as err:
        raise ValueError(f"{name}: {value!r} is not a number") from err
    if "bool" in kinds:
        if value.lower() in ("true", "yes", "on", "1"):
            return True
        if value.lower() in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"{name}: {value!r} is not true/false")
    return value


def device_flags(recipe: TrainRecipe) -> dict[str, Any]:
    """``use_cpu``/``bf16`` for the TRL config, resolved against the hardware present."""
    import torch

    if recipe.num_threads is not None:
        torch.set_num_threads(recipe.num_threads)
    cuda = torch.cuda.is_available()
    use_cpu = (not cuda) if recipe.use_cpu is None else recipe.use_cpu
    bf16 = (not use_cpu and torch.cuda.is_bf16_supported()) if recipe.bf16 is None else recipe.bf16
    if use_cpu and bf16:
        raise ValueError("bf16 training needs a GPU here; set bf16: false with use_cpu")
    return {"use_cpu": use_cpu, "bf16": bf16}


def model_path(recipe: TrainRecipe) -> str:
    """The start model as something ``from_pretrained`` loads (converts SmolLM2 on first use)."""
    from m2io.llm.smollm2 import resolve_model

    path = resolve_model(recipe.model)
    # absolute, so LoRA checkpoints (adapter_config.json names the base) load from anywhere
    return str(Path(path).resolve()) if Path(path).exists() else path


def peft_config(recipe: TrainRecipe) -> Any:
    """A PEFT ``LoraConfig`` for causal-LM training, or None for a full fine-tune."""
    if not recipe.lora:
        return None
    from m2io.registry import require

    peft = require("peft", "train")
    return peft.LoraConfig(
        r=recipe.lora_r,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=recipe.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def resume_arg(recipe: TrainRecipe) -> str | bool | None:
    """``resume_from_checkpoint`` for ``Trainer.train``: 'latest' → True, a folder as is."""
    value = recipe.resume_from_checkpoint
    if value in (None, "", False):
        return None
    if value == "latest" or value is True:
        out = Path(recipe.output_dir)
        if not any(out.glob("checkpoint-*")):
            raise FileNotFoundError(f"resume_from_checkpoint=latest but {out} holds no checkpoint")
        return True
    if not Path(str(value)).is_dir():
        raise FileNotFoundError(f"resume_from_checkpoint: {value} is not a checkpoint folder")
    return str(value)


def save_final(trainer: Any, recipe: TrainRecipe) -> Path:
    """Save a plain model folder in ``output_dir`` (LoRA merged), usable as ``--model DIR``.

    Also writes ``recipe.yaml``, ``log_history.json`` and ``curves.png``.
    """
    out = Path(recipe.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    trainer.processing_class.save_pretrained(out)
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe.to_dict(), sort_keys=False))
    history = trainer.state.log_history
    (out / "log_history.json").write_text(json.dumps(history, indent=1) + "\n")
    plot_curves(history, out / "curves.png", title=f"{type(recipe).__name__}: {recipe.model}")
    return out


def plot_curves(history: list[dict[str, Any]], path: str | Path, *, title: str = "") -> Path | None:
    """Loss and reward curves from ``trainer.state.log_history`` as a PNG (matplotlib Agg).

    Panels: ``loss``; and, when logged (GRPO), ``reward`` and each ``rewards/<name>/mean``.
    Returns None (and logs) when matplotlib is missing or nothing was logged.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed (pip install 'm2io[eval]'); no curves.png")
        return None
    steps = [h for h in history if "step" in h and ("loss" in h or "reward" in h)]
    if not steps:
        return None
    reward_keys = sorted(
        {k for h in steps for k in h if k.startswith("rewards/") and k.endswith("/mean")}
    )
    panels = [["loss"]] + ([["reward", *reward_keys]] if any("reward" in h for h in steps) else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4), squeeze=False)
    for ax, keys in zip(axes[0], panels, strict=True):
        for key in keys:
            xs = [h["step"] for h in steps if key in h]
            ys = [h[key] for h in steps if key in h]
            if xs:
                ax.plot(
                    xs, ys, marker=".", label=key.removeprefix("rewards/").removesuffix("/mean")
                )
        ax.set_xlabel("step")
        ax.set_title(keys[0])
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


__all__ = [
    "TrainRecipe",
    "device_flags",
    "load_recipe",
    "model_path",
    "opt",
    "peft_config",
    "plot_curves",
    "recipe_help",
    "resume_arg",
    "save_final",
]
