"""The start model of a training run: where it loads from, and its LoRA adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from m2io.llm.smollm2 import resolve_model
from m2io.registry import require
from m2io.training.recipe import TrainRecipe


def model_path(recipe: TrainRecipe) -> str:
    """The start model as something ``from_pretrained`` loads (converts SmolLM2 on first use)."""
    path = resolve_model(recipe.model, recipe.model_cache_dir)
    # absolute, so LoRA checkpoints (adapter_config.json names the base) load from anywhere
    return str(Path(path).resolve()) if Path(path).exists() else path


def peft_config(recipe: TrainRecipe) -> Any:
    """A PEFT ``LoraConfig`` for causal-LM training, or None for a full fine-tune."""
    if not recipe.lora:
        return None
    peft = require("peft", "train")
    return peft.LoraConfig(
        r=recipe.lora_r,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=recipe.lora_target_modules,
        task_type="CAUSAL_LM",
    )
