"""A learned image inserter: a compact placement policy trained with GRPO, in numpy.

M2IO-R1 (arXiv 2508.06328) shows that a small inserter trained with group-relative policy
optimisation on outcome rewards beats much larger training-free ones. This package pushes that
to the small end (docs/design.md, Training):

- serving (the inference path, imported by :class:`m2io.inserters.learned.LearnedInserter`):
  :mod:`~m2io.learned.features` (per (image, slot) features, with
  :mod:`~m2io.learned.cues` and the corpus :mod:`~m2io.learned.profile`),
  :mod:`~m2io.learned.policy` (a keep/leave factor and a slot softmax) and
  :mod:`~m2io.learned.artifact` (safetensors + JSON, and the shipped ``DEFAULT_MODEL_DIR``);
- training: :mod:`~m2io.learned_training.corpora` and :mod:`~m2io.learned_training.items` (the data),
  :mod:`~m2io.learned_training.grpo` (the optimiser), :mod:`~m2io.learned_training.recipe` (data → features →
  GRPO → metrics → model folder) and :mod:`~m2io.learned_training.report` (README and reward curve).

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
    from m2io.learned.policy import Policy
    from m2io.learned.profile import CorpusProfile, corpus_profile

_WHERE = {
    "DEFAULT_MODEL_DIR": "artifact",
    "ModelCard": "artifact",
    "ModelError": "artifact",
    "load_model": "artifact",
    "save_model": "artifact",
    "Policy": "policy",
    "CorpusProfile": "profile",
    "corpus_profile": "profile",
}

__all__ = [
    "CorpusProfile",
    "DEFAULT_MODEL_DIR",
    "ModelCard",
    "ModelError",
    "Policy",
    "corpus_profile",
    "load_model",
    "save_model",
]


__getattr__ = lazy_names(__name__, _WHERE)


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
