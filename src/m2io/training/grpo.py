"""GRPO training of the LLM inserter with TRL's ``GRPOTrainer`` (the paper's "R1" inserter).

For each prompt of the M2IO-Inserter set the model samples ``num_generations`` outputs; each is
scored by the shared reward of :mod:`m2io.rewards` — ``format × (α·recall + (1−α)·position)``
(the same scorer as the evaluation metrics) — and the policy moves toward the better ones of its
group, with a KL penalty ``beta`` to the start model. ``format``, ``recall`` and ``position`` are
logged too (weight 0), so ``curves.png`` shows which part moved. Runs on CPU (slow: about 40 s a
step for SmolLM2-135M with a group of 4) or one GPU, where ``use_vllm`` moves generation to vLLM
(see ``docs/gpu.md``).

Example::

    m2io train grpo --recipe recipes/train-grpo-smollm2.yaml model=.m2io/train/smollm2-sft max_steps=20

    >>> from m2io.training.grpo import GRPORecipe, train_grpo
    >>> train_grpo(GRPORecipe(data=".m2io/train/gimp-inserter", output_dir=".m2io/train/grpo"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2io.registry import require
from m2io.rewards import format_reward, make_total_reward, position_reward, recall_reward
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

COLUMNS = ("prompt", "gold", "candidates", "n_sentences")


@dataclass
class GRPORecipe(TrainRecipe):
    """GRPO settings (YAML: ``recipes/train-grpo-*.yaml``)."""

    output_dir: str = opt(
        ".m2io/train/inserter-grpo", "checkpoints, final model, curves.png go here"
    )
    learning_rate: float = opt(1e-5, "peak learning rate")
    num_generations: int = opt(4, "group size G: completions sampled per prompt")
    beta: float = opt(0.04, "KL penalty to the start model (0 = no reference model)")
    alpha: float = opt(0.8, "reward weight of recall vs. position (paper's best: 0.8)")
    max_completion_length: int = opt(128, "tokens generated per completion")
    temperature: float = opt(1.0, "sampling temperature of the rollouts")
    num_iterations: int = opt(1, "optimisation passes per generated batch (mu)")
    use_vllm: bool = opt(False, "generate with vLLM (GPU only; pip install vllm)")
    vllm_mode: str = opt("colocate", "'colocate' (same GPU) or 'server' (trl vllm-serve)")
    vllm_gpu_memory_utilization: float = opt(0.3, "GPU memory share vLLM may take (colocate)")
    log_completions: bool = opt(False, "print sampled completions at each logging step")

    def validate(self) -> None:
        super().validate()
        if self.num_generations < 2:
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
        if self.max_completion_length < 8:
            raise ValueError(
                f"max_completion_length must be >= 8, got {self.max_completion_length}"
            )
        if self.vllm_mode not in ("colocate", "server"):
            raise ValueError(f"vllm_mode must be 'colocate' or 'server', got {self.vllm_mode!r}")


def reward_functions(alpha: float) -> tuple[list[Any], list[float]]:
    """The rewards given to TRL and their weights: the total counts, its parts are logged."""
    return [make_total_reward(alpha), format_reward, recall_reward, position_reward], [
        1.0,
        0.0,
        0.0,
        0.0,
    ]


def train_grpo(recipe: GRPORecipe) -> Path:
    """Run GRPO as ``recipe`` says; return the folder of the final (merged) model."""
    trl = require("trl", "train")
    flags = device_flags(recipe)
    path = model_path(recipe)
    train = load_split(recipe.data, "train", columns=COLUMNS, limit=recipe.max_train_samples)
    funcs, weights = reward_functions(recipe.alpha)
    vllm: dict[str, Any] = {}
    if recipe.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": recipe.vllm_mode,
            "vllm_gpu_memory_utilization": recipe.vllm_gpu_memory_utilization,
        }
    args = trl.GRPOConfig(
        output_dir=recipe.output_dir,
        learning_rate=recipe.learning_rate,
        max_steps=recipe.max_steps,
        per_device_train_batch_size=recipe.per_device_train_batch_size,
        gradient_accumulation_steps=recipe.gradient_accumulation_steps,
        gradient_checkpointing=recipe.gradient_checkpointing,
        num_generations=recipe.num_generations,
        max_completion_length=recipe.max_completion_length,
        temperature=recipe.temperature,
        beta=recipe.beta,
        num_iterations=recipe.num_iterations,
        reward_weights=weights,
        logging_steps=recipe.logging_steps,
        save_steps=recipe.save_steps,
        save_total_limit=recipe.save_total_limit,
        seed=recipe.seed,
        report_to=recipe.report_to,
        log_completions=recipe.log_completions,
        model_init_kwargs={"dtype": "float32" if flags["use_cpu"] else "auto"},
        **vllm,
        **flags,
    )
    # A model path lets TRL pick the class and load the processor (left-padded for generation).
    trainer = trl.GRPOTrainer(
        model=path,
        reward_funcs=funcs,
        args=args,
        train_dataset=train,
        peft_config=peft_config(recipe),
    )
    trainer.train(resume_from_checkpoint=resume_arg(recipe))
    out = save_final(trainer, recipe)
    log.info("GRPO done: %s", out)
    return out
