"""Training the learned image inserter's policy (the serving half is :mod:`m2io.learned`).

- :mod:`~m2io.learned_training.corpora` and :mod:`~m2io.learned_training.items`: the data
  (MRAMG questions, section questions of a document folder, corpora re-authored with another
  figure habit by :mod:`~m2io.learned_training.reauthor`);
- :mod:`~m2io.learned_training.grpo`: the optimiser;
- :mod:`~m2io.learned_training.recipe`: data → features → GRPO → metrics → model folder;
- :mod:`~m2io.learned_training.report`: the model's README and reward curve.

Nothing on the answering path imports this package (``tests/test_layering.py`` holds it so).
This module only hands names on, each loaded when first asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from m2io.registry import lazy_names

if TYPE_CHECKING:
    from m2io.learned_training.grpo import CachedEmbedder, GRPOConfig, History, TrainItem
    from m2io.learned_training.items import TrainData, load_training_data
    from m2io.learned_training.recipe import save_training_run, train_inserter_policy
    from m2io.learned_training.report import TrainRun, plot_history, write_model_readme

_WHERE = {
    "CachedEmbedder": "grpo",
    "GRPOConfig": "grpo",
    "History": "grpo",
    "TrainItem": "grpo",
    "TrainData": "items",
    "load_training_data": "items",
    "TrainRun": "report",
    "save_training_run": "recipe",
    "train_inserter_policy": "recipe",
    "plot_history": "report",
    "write_model_readme": "report",
}

__all__ = [
    "CachedEmbedder",
    "GRPOConfig",
    "History",
    "TrainData",
    "TrainItem",
    "TrainRun",
    "load_training_data",
    "plot_history",
    "save_training_run",
    "train_inserter_policy",
    "write_model_readme",
]


__getattr__ = lazy_names(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
