"""What a training run leaves behind: checkpoints to resume from, the final model, its curves.

:func:`run_trainer` is the tail both trainers share: build the TRL trainer on the recipe (which is
TRL's config itself), train (resuming when asked), save the final model folder.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from m2io.training.device import set_threads
from m2io.training.model import model_path, peft_config
from m2io.training.recipe import TrainRecipe

log = logging.getLogger(__name__)


def run_trainer(trainer_cls: Any, recipe: Any, train_dataset: Any, **extra: Any) -> Path:
    """Train ``trainer_cls`` (``trl.SFTTrainer``/``trl.GRPOTrainer``) as ``recipe`` says and
    return the folder of the final (merged) model.

    A model *path* (not an object) lets TRL pick the class and the processor: a causal LM with
    its tokenizer, or a vision-language model (Qwen2.5-VL) with its ``AutoProcessor``
    (left-padded for generation in GRPO).
    """
    if recipe.hardware_problem:
        raise ValueError(f"cannot train {type(recipe).__name__} here: {recipe.hardware_problem}")
    set_threads(recipe.num_threads)
    trainer = trainer_cls(
        model=model_path(recipe),
        args=recipe,
        train_dataset=train_dataset,
        peft_config=peft_config(recipe),
        **extra,
    )
    trainer.train(resume_from_checkpoint=resume_arg(recipe))
    out = save_final(trainer, recipe)
    log.info("%s done: %s", type(recipe).__name__, out)
    return out


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

    Also writes ``recipe.yaml`` (the fields m2io declares; TRL's full arguments are in each
    checkpoint's ``training_args.bin``), ``log_history.json`` and ``curves.png``.
    """
    out = Path(recipe.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    trainer.processing_class.save_pretrained(out)
    (out / "recipe.yaml").write_text(yaml.safe_dump(recipe.m2io_dict(), sort_keys=False))
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
