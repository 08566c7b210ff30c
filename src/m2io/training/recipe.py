"""Training recipes: TRL's own config classes plus m2io's few fields, parsed by TRL's parser.

:class:`~m2io.training.sft.SFTRecipe` subclasses ``trl.SFTConfig`` and
:class:`~m2io.training.grpo.GRPORecipe` subclasses ``trl.GRPOConfig``; both mix in
:class:`TrainRecipe`, which adds what TRL does not know — the start model, the data folder, LoRA,
a row limit, CPU threads — and m2io's defaults for a handful of TRL's fields (small CPU runs:
``max_steps=100``, ``logging_steps=1``, no gradient checkpointing, ``seed=0``, ...). Every other
field of the TRL config works as in TRL. A recipe is the trainer's ``args`` itself; nothing is
copied field by field.

:func:`load_recipe` reads a YAML file and ``key=value`` overrides the way TRL's scripts do
(``TrlParser``: the YAML sets the parser's defaults, the overrides are parsed as its command-line
flags, so ``1e-4`` is a float and ``false`` a bool). ``use_cpu`` and ``bf16`` left unset follow
the hardware (:func:`m2io.training.device.resolve_precision`).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from m2io.registry import require
from m2io.training.device import hardware_problem, resolve_precision

R = TypeVar("R")


def opt(default: Any, help: str) -> Any:  # noqa: A002 (mirrors argparse/TRL's "help")
    """A recipe field with a default and a help text."""
    if isinstance(default, list | dict):
        return field(default_factory=lambda: default.copy(), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class TrainRecipe:
    """m2io's fields, mixed into TRL's ``SFTConfig``/``GRPOConfig`` (never used alone).

    The fields below ``num_threads`` are TRL's, given m2io's defaults.
    """

    model: str = opt("smollm2-135m", "start model: folder, hub id, or 'smollm2-135m'")
    data: str = opt(".m2io/train/gimp-inserter", "folder written by 'm2io build-inserter-data'")
    lora: bool = opt(True, "train LoRA adapters (merged into the final model) vs. full model")
    lora_r: int = opt(16, "LoRA rank")
    lora_alpha: int = opt(32, "LoRA scaling alpha")
    lora_dropout: float = opt(0.05, "LoRA dropout")
    lora_target_modules: list[str] = opt(
        ["all-linear"], "modules LoRA adapts (one name: 'all-linear', or a list)"
    )
    max_train_samples: int | None = opt(None, "use only the first N training rows")
    num_threads: int | None = opt(None, "CPU threads for torch")
    model_cache_dir: str | None = opt(
        None, "where 'smollm2-135m' is converted (default ~/.cache/m2io; the CLI: $M2IO_CACHE)"
    )
    # TRL's fields, with m2io's defaults
    max_steps: int = opt(100, "optimizer steps")
    per_device_train_batch_size: int = opt(4, "sequences (GRPO: completions) per device step")
    logging_steps: float = opt(1, "log every N steps")
    save_steps: float = opt(50, "checkpoint every N steps")
    save_total_limit: int | None = opt(2, "checkpoints kept")
    seed: int = opt(0, "random seed")
    use_cpu: bool | None = opt(None, "force CPU (default: CPU when no CUDA device)")
    bf16: bool | None = opt(None, "bfloat16 (default: on CUDA when supported; never on CPU)")
    gradient_checkpointing: bool | None = opt(
        None,
        "trade compute for memory (off unless set; TRL's newer name: activation_checkpointing)",
    )
    resume_from_checkpoint: str | None = opt(
        None, "'latest' (last checkpoint in output_dir) or a checkpoint folder"
    )

    def validate(self) -> None:
        """m2io's checks, run before TRL's so their messages name m2io's fields."""
        for name in ("lora_r", "lora_alpha", "max_steps", "per_device_train_batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.gradient_accumulation_steps < 1 or self.logging_steps < 1 or self.save_steps < 1:  # type: ignore[attr-defined]
            raise ValueError("gradient_accumulation_steps, logging_steps, save_steps must be >= 1")
        if self.learning_rate <= 0:  # type: ignore[attr-defined]
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")  # type: ignore[attr-defined]
        if not 0.0 <= self.lora_dropout < 1.0:
            raise ValueError(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {self.num_threads}")

    def __post_init__(self) -> None:
        self.validate()
        self.use_cpu, self.bf16 = resolve_precision(self.use_cpu, self.bf16)
        if isinstance(self.lora_target_modules, list) and len(self.lora_target_modules) == 1:
            self.lora_target_modules = self.lora_target_modules[0]  # "all-linear" is a keyword
        if self.model_init_kwargs is None:  # type: ignore[has-type]
            self.model_init_kwargs = {"dtype": "float32" if self.use_cpu else "auto"}
        # TRL checks the hardware when its config is built; m2io when training starts, so a GPU
        # recipe can be loaded (and inspected) anywhere.
        bf16, self.hardware_problem = self.bf16, hardware_problem(self.use_cpu, self.bf16)
        if self.hardware_problem:
            self.bf16 = False
        super().__post_init__()  # type: ignore[misc]  # TRL's config, next in the MRO
        self.bf16 = bf16

    def m2io_dict(self) -> dict[str, Any]:
        """The fields m2io declares (its own and its defaults for TRL's): what ``recipe.yaml``
        records, and what :func:`load_recipe` reads back."""
        return {name: getattr(self, name) for name in m2io_fields(type(self))}


def m2io_fields(cls: type) -> list[str]:
    """Names of the fields m2io's classes declare (not TRL's), in declaration order."""
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        if klass.__module__.startswith("m2io."):
            names += [n for n in vars(klass).get("__annotations__", {}) if n not in names]
    return names


def recipe_help(cls: type) -> str:
    """One line per field m2io declares: ``name (default): help``; then where TRL's are."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    lines = []
    for name in m2io_fields(cls):
        f = fields[name]
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        lines.append(f"  {name} ({default!r}): {f.metadata.get('help', '')}")
    trl_base = next(k for k in cls.__mro__ if k.__module__.startswith("trl."))
    lines.append(
        f"  ... and every other field of trl.{trl_base.__name__} "
        f"({len(fields) - len(lines)} more; see TRL's documentation)"
    )
    return "\n".join(lines)


def load_recipe(
    cls: type[R],
    path: str | Path | None = None,
    overrides: list[str] = (),  # type: ignore[assignment]
    *,
    values: dict[str, Any] | None = None,
) -> R:
    """A recipe from YAML (optional), then ``values`` (typed already: a command's flags, taken
    as they are), then ``key=value`` overrides, parsed by ``trl.TrlParser``.

    Raises:
        ValueError: Unknown keys (the message suggests close names), values of the wrong type,
            or values the recipe or TRL reject.
    """
    trl = require("trl", "train")
    config: dict[str, Any] = {}
    if path is not None:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: a recipe is a YAML mapping of field: value")
        config.update(data)
    config.update(values or {})
    args: list[str] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"override {item!r} is not key=value")
        if raw.strip().lower() in ("", "none", "null"):
            config[key] = None
        else:
            config.pop(key, None)
            args += [f"--{key}", *(raw.split(",") if key == "lora_target_modules" else [raw])]
    _check_names(cls, [*config, *(a[2:] for a in args if a.startswith("--"))])
    parser = trl.TrlParser(cls, exit_on_error=False)
    parser.set_defaults_with_config(**config)
    try:
        (recipe,) = parser.parse_args_into_dataclasses(args=args)
    except argparse.ArgumentError as err:
        raise ValueError(f"{cls.__name__}: {err}") from err
    return recipe


def _check_names(cls: type, keys: list[str]) -> None:
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(keys) - names)
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, names, n=1)
        hints.append(f"{key} (did you mean {close[0]}?)" if close else key)
    own = ", ".join(m2io_fields(cls))
    raise ValueError(
        f"unknown {cls.__name__} field(s) {', '.join(hints)}; valid: m2io's ({own}) and every "
        "field of TRL's config (--show-fields)"
    )
