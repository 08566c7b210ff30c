"""A learned image inserter: a compact placement policy trained with GRPO, in numpy.

M2IO-R1 (arXiv 2508.06328) shows that a small inserter trained with group-relative policy
optimisation on outcome rewards beats much larger training-free ones. This package pushes that
to the small end (docs/design.md, Training):

- serving (the inference path, imported by :class:`m2io.inserters.learned.LearnedInserter`):
  :mod:`~m2io.learned.features` (per (image, slot) features, with
  :mod:`~m2io.learned.cues` and the corpus :mod:`~m2io.learned.profile`),
  :mod:`~m2io.learned.policy` (a keep/leave factor and a slot softmax) and
  :mod:`~m2io.learned.artifact` (safetensors + JSON, and the shipped ``DEFAULT_MODEL_DIR``);
- training: :mod:`~m2io.learned.corpora` and :mod:`~m2io.learned.items` (the data),
  :mod:`~m2io.learned.grpo` (the optimiser), :mod:`~m2io.learned.recipe` (data → features →
  GRPO → metrics → model folder) and :mod:`~m2io.learned.report` (README and reward curve).

This module only hands those names on, each loaded when first asked for, so that serving a
policy never imports the training side (which assembles pipelines and reads evaluation items).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from m2io.registry import lazy_names

if TYPE_CHECKING:
    from m2io.learned.artifact import (
        DEFAULT_MODEL_DIR,
        ModelCard,
        ModelError,
        load_model,
        save_model,
    )
    from m2io.learned.grpo import CachedEmbedder, GRPOConfig, History, TrainItem
    from m2io.learned.items import TrainData, load_training_data
    from m2io.learned.policy import Policy
    from m2io.learned.profile import CorpusProfile, corpus_profile
    from m2io.learned.recipe import TrainRun, save_training_run, train_inserter_policy
    from m2io.learned.report import plot_history, write_model_readme

_WHERE = {
    "DEFAULT_MODEL_DIR": "artifact",
    "ModelCard": "artifact",
    "ModelError": "artifact",
    "load_model": "artifact",
    "save_model": "artifact",
    "CachedEmbedder": "grpo",
    "GRPOConfig": "grpo",
    "History": "grpo",
    "TrainItem": "grpo",
    "TrainData": "items",
    "load_training_data": "items",
    "Policy": "policy",
    "CorpusProfile": "profile",
    "corpus_profile": "profile",
    "TrainRun": "recipe",
    "save_training_run": "recipe",
    "train_inserter_policy": "recipe",
    "plot_history": "report",
    "write_model_readme": "report",
}

__all__ = [
    "CachedEmbedder",
    "CorpusProfile",
    "DEFAULT_MODEL_DIR",
    "GRPOConfig",
    "History",
    "ModelCard",
    "ModelError",
    "Policy",
    "TrainData",
    "TrainItem",
    "TrainRun",
    "corpus_profile",
    "load_model",
    "load_training_data",
    "plot_history",
    "save_model",
    "save_training_run",
    "train_inserter_policy",
    "write_model_readme",
]


__getattr__ = lazy_names(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
