"""Training the LLM image inserter: M2IO-Inserter data, SFT and GRPO with TRL (arXiv 2508.06328).

- :mod:`m2io.training.data` — the training set (``m2io build-inserter-data``);
- :mod:`m2io.training.recipe` — recipes: TRL's config classes plus m2io's fields, and their
  loader (TRL's parser);
- :mod:`m2io.training.device`, :mod:`m2io.training.model` — CPU/GPU and precision; the start
  model and its LoRA adapters;
- :mod:`m2io.training.outputs` — the shared trainer tail: resume, final model folder,
  ``log_history.json``, ``curves.png``;
- :mod:`m2io.training.sft` — supervised fine-tuning on the gold outputs (``m2io train sft``);
- :mod:`m2io.training.grpo` — GRPO on the shared rewards of :mod:`m2io.rewards`
  (``m2io train grpo``).

``sft`` and ``grpo`` import TRL when imported; the rest stays cheap.
"""

from m2io.training.device import resolve_precision, set_threads
from m2io.training.model import model_path, peft_config
from m2io.training.outputs import plot_curves, resume_arg, run_trainer, save_final
from m2io.training.recipe import TrainRecipe, load_recipe, m2io_fields, opt, recipe_help

__all__ = [
    "TrainRecipe",
    "load_recipe",
    "m2io_fields",
    "model_path",
    "opt",
    "peft_config",
    "plot_curves",
    "recipe_help",
    "resolve_precision",
    "resume_arg",
    "run_trainer",
    "save_final",
    "set_threads",
]
