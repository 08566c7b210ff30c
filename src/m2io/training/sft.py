"""Supervised fine-tuning of the LLM inserter on the gold outputs, with TRL's ``SFTTrainer``.

The model learns to answer the inserter prompt with the gold
``<think>…</think><answer>{…}</answer>`` (the ``completion`` column of the M2IO-Inserter set);
the loss covers the completion only. This is the paper's SFT baseline and a warm start for
GRPO (a small base model rarely follows the format, and GRPO gets no signal from all-zero
rewards). Runs on CPU (``use_cpu``, float32) or one GPU.

Example::

    m2io build-inserter-data --data ../shared/bench/gimp --subset gimp --out .m2io/train/gimp-inserter
    m2io train sft --recipe recipes/train-sft-smollm2.yaml max_steps=50

    from m2io.training.sft import SFTRecipe, train_sft
    train_sft(SFTRecipe(data=".m2io/train/gimp-inserter", output_dir=".m2io/train/sft"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from m2io.registry import require
from m2io.training.data import load_split
from m2io.training.outputs import run_trainer
from m2io.training.recipe import TrainRecipe, opt

trl = require("trl", "train")


@dataclass
class SFTRecipe(TrainRecipe, trl.SFTConfig):
    """``trl.SFTConfig`` plus m2io's fields (YAML: ``recipes/train-sft-*.yaml``).

    Below: m2io's defaults for TRL's SFT fields.
    """

    output_dir: str = opt(
        ".m2io/train/inserter-sft", "checkpoints, final model, curves.png go here"
    )
    learning_rate: float = opt(2e-4, "peak learning rate (LoRA likes ~1e-4..2e-4)")
    max_length: int | None = opt(2048, "token cap per prompt + completion (longer rows are cut)")
    num_train_epochs: float = opt(1.0, "epochs, when max_steps is -1")
    warmup_steps: float = opt(0.05, "warmup: steps (int) or share of all steps (float < 1)")
    completion_only_loss: bool | None = opt(True, "loss on the completion only")
    dataset_num_proc: int | None = opt(1, "processes that tokenize the data set")

    def validate(self) -> None:
        if self.max_steps == -1:  # train by epochs
            self.max_steps = 10**9
            super().validate()
            self.max_steps = -1
        else:
            super().validate()
        if self.max_length is not None and self.max_length < 32:
            raise ValueError(f"max_length must be >= 32, got {self.max_length}")


def train_sft(recipe: SFTRecipe) -> Path:
    """Run SFT as ``recipe`` says; return the folder of the final (merged) model."""
    columns = ("prompt", "completion")
    train = load_split(recipe.data, "train", columns=columns, limit=recipe.max_train_samples)
    return run_trainer(trl.SFTTrainer, recipe, train)
