"""Training the learned image inserter's policy (the serving half is :mod:`m2io.learned`).

- :mod:`~m2io.learned_training.corpora` and :mod:`~m2io.learned_training.items`: the data
  (MRAMG questions, section questions of a document folder, corpora re-authored with another
  figure habit by :mod:`~m2io.learned_training.reauthor`);
- :mod:`~m2io.learned_training.grpo`: the optimiser;
- :mod:`~m2io.learned_training.recipe`: data → features → GRPO → metrics → model folder;
- :mod:`~m2io.learned_training.report`: the model's README and reward curve.

Nothing on the answering path imports this package (``tests/test_layering.py`` holds it so).
This module hands the names on; importing it loads the training side (nothing that answers
does).
"""

from __future__ import annotations

from m2io.learned_training.grpo import CachedEmbedder, GRPOConfig, History, TrainItem
from m2io.learned_training.items import TrainData, load_training_data
from m2io.learned_training.recipe import PolicyRecipe, save_training_run, train_inserter_policy
from m2io.learned_training.report import TrainRun, plot_history, write_model_readme

__all__ = [
    "CachedEmbedder",
    "GRPOConfig",
    "History",
    "PolicyRecipe",
    "TrainData",
    "TrainItem",
    "TrainRun",
    "load_training_data",
    "plot_history",
    "save_training_run",
    "train_inserter_policy",
    "write_model_readme",
]
