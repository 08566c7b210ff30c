"""Supervised fine-tuning of the LLM inserter on the gold outputs, with TRL's ``SFTTrainer``.

The model learns to answer the inserter prompt with the gold
``<think>…</think><answer>{…}</answer>`` (the ``completion`` column of the M2IO-Inserter set);
the loss covers the completion only. This is the paper's SFT baseline and a warm start for
GRPO (a small base model rarely follows the format, and GRPO gets no signal from all-zero
rewards). Runs on CPU (``use_cpu``, float32) or one GPU.

Example::

    m2io build-inserter-data --data ../shared/bench/gimp --subset gimp --out .m2io/train/gimp-inserter
    m2io train sft --recipe recipes/train-sft-smollm2.yaml max_steps=50

    >>> from m2io.training.sft import SFTRecipe, train_sft
    >>> train_sft(SFTRecipe(data=".m2io/train/gimp-inserter", output_dir=".m2io/train/sft"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from m2io.registry import require
from m2io.training import (
    TrainRecipe,
    device_flags,
    model_path,
    opt,
    peft_config,
    resume_arg,
    save_final,
)
from m2io.training.data import load_split

log = logging.getLogger(__name__)


@dataclass
class SFTRecipe(TrainRecipe):
    """SFT settings (YAML: ``recipes/train-sft-*.yaml``)."""

    output_dir: str = opt(
        ".m2io/train/inserter-sft", "checkpoints, final model, curves.png go here"
    )
    learning_rate: float = opt(2e-4, "peak learning rate (LoRA likes ~1e-4..2e-4)")
    max_length: int = opt(2048, "token cap per prompt + completion (longer rows are cut)")
    num_train_epochs: float = opt(1.0, "epochs, when max_steps is -1")
    warmup_steps: float = opt(0.05, "warmup: steps (int) or share of all steps (float < 1)")

    def validate(self) -> None:
        if self.max_steps == -1:  # train by epochs
            self.max_steps = 10**9
            super().validate()
            self.max_steps = -1
        else:
            super().validate()
        if self.max_length < 32:
            raise ValueError(f"max_length must be >= 32, got {self.max_length}")


def train_sft(recipe: SFTRecipe) -> Path:
    """Run SFT as ``recipe`` says; return the folder of the final (merged) model."""
    trl = require("trl", "train")
    flags = device_flags(recipe)
    path = model_path(recipe)
    train = load_split(
        recipe.data, "train", columns=("prompt", "completion"), limit=recipe.max_train_samples
    )
    args = trl.SFTConfig(
        output_dir=recipe.output_dir,
        learning_rate=recipe.learning_rate,
        max_steps=recipe.max_steps,
        num_train_epochs=recipe.num_train_epochs,
        warmup_steps=recipe.warmup_steps,
        per_device_train_batch_size=recipe.per_device_train_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        gradient_checkpointing=recipe.gradient_checkpointing,
        max_length=recipe.max_length,
        completion_only_loss=True,
        logging_steps=recipe.logging_steps,
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        seed=recipe.seed,
        report_to=recipe.report_to,
        dataset_num_proc=1,
        model_init_kwargs={"dtype": "float32" if flags["use_cpu"] else "auto"},
        **flags,
    )
    # A model path (not an object) lets TRL pick the class and the processor: a causal LM with
    # its tokenizer, or a vision-language model (Qwen2.5-VL) with its AutoProcessor.
    trainer = trl.SFTTrainer(
        model=path,
        args=args,
        train_dataset=train,
        peft_config=peft_config(recipe),
    )
    trainer.train(resume_from_checkpoint=resume_arg(recipe))
    out = save_final(trainer, recipe)
    log.info("SFT done: %s", out)
    return out
