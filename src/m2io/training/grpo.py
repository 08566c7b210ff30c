"""GRPO training of the LLM inserter with TRL's ``GRPOTrainer`` (the paper's "R1" inserter).

For each prompt of the M2IO-Inserter set the model samples ``num_generations`` outputs; each is
scored by the shared reward of :mod:`m2io.rewards` — ``format × (α·recall + (1−α)·position)``
(the same scorer as the evaluation metrics) — and the policy moves toward the better ones of its
group, with a KL penalty ``beta`` to the start model. ``format``, ``recall`` and ``position`` are
logged too (weight 0), so ``curves.png`` shows which part moved. Runs on CPU (slow: about 40 s a
step for SmolLM2-135M with a group of 4) or one GPU, where ``use_vllm`` moves generation to vLLM
(see ``docs/gpu.md``).

Not to be confused with :mod:`m2io.learned_training.grpo`, the numpy GRPO of the small learned policy.

Example::

    m2io train grpo --recipe recipes/train-grpo-smollm2.yaml model=.m2io/train/smollm2-sft max_steps=20

    from m2io.training.grpo import GRPORecipe, train_llm_grpo
    train_llm_grpo(GRPORecipe(data=".m2io/train/gimp-inserter", output_dir=".m2io/train/grpo"))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2io.registry import require
from m2io.rewards import format_reward, make_total_reward, position_reward, recall_reward
from m2io.training.data import load_split
from m2io.training.outputs import run_trainer
from m2io.training.recipe import TrainRecipe, opt

trl = require("trl", "train")

COLUMNS = ("prompt", "gold", "candidates", "n_sentences")
# The total reward counts; its parts are logged (weight 0), in reward_functions' order.
REWARD_WEIGHTS = (1.0, 0.0, 0.0, 0.0)


@dataclass
class GRPORecipe(TrainRecipe, trl.GRPOConfig):
    """``trl.GRPOConfig`` plus m2io's ``alpha`` (YAML: ``recipes/train-grpo-*.yaml``).

    Below ``alpha``: m2io's defaults for TRL's GRPO fields.
    """

    alpha: float = opt(0.8, "reward weight of recall vs. position (paper's best: 0.8)")
    output_dir: str = opt(
        ".m2io/train/inserter-grpo", "checkpoints, final model, curves.png go here"
    )
    learning_rate: float = opt(1e-5, "peak learning rate")
    num_generations: int | None = opt(4, "group size G: completions sampled per prompt")
    beta: float = opt(0.04, "KL penalty to the start model (0 = no reference model)")
    max_completion_length: int | None = opt(128, "tokens generated per completion")

    def validate(self) -> None:
        super().validate()
        if self.num_generations is None or self.num_generations < 2:
            raise ValueError(
                f"num_generations must be >= 2 (GRPO compares a group), got {self.num_generations}"
            )
        batch = self.per_device_train_batch_size * self.gradient_accumulation_steps
        if batch % self.num_generations:
            raise ValueError(
                f"per_device_train_batch_size × gradient_accumulation_steps ({batch}) must be a "
                f"multiple of num_generations ({self.num_generations})"
            )
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.beta < 0:
            raise ValueError(f"beta must be >= 0, got {self.beta}")
        if self.max_completion_length is None or self.max_completion_length < 8:
            raise ValueError(
                f"max_completion_length must be >= 8, got {self.max_completion_length}"
            )
        if self.reward_weights is None:
            self.reward_weights = list(REWARD_WEIGHTS)


def reward_functions(alpha: float) -> list[Any]:
    """The rewards given to TRL (weights: :data:`REWARD_WEIGHTS`)."""
    return [make_total_reward(alpha), format_reward, recall_reward, position_reward]


def train_llm_grpo(recipe: GRPORecipe) -> Path:
    """Run GRPO as ``recipe`` says; return the folder of the final (merged) model."""
    train = load_split(recipe.data, "train", columns=COLUMNS, limit=recipe.max_train_samples)
    return run_trainer(trl.GRPOTrainer, recipe, train, reward_funcs=reward_functions(recipe.alpha))
