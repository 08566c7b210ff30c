"""Evaluation metrics, MRAMG-Bench style (arXiv 2502.04176), shared with the GRPO rewards.

Submodules:
    - :mod:`m2io.metrics.images`: image precision / recall / F1, ordering score, position accuracy
      and :func:`~m2io.metrics.images.placement_scores`, the per-item scorer that
      :mod:`m2io.rewards` is built on (pure Python).
    - :mod:`m2io.metrics.text`: ROUGE-L, BLEU and BERTScore (needs ``m2io[eval]``).
    - :mod:`m2io.metrics.judge`: optional LLM-judge through any OpenAI-compatible endpoint.

Every batch scorer returns a :class:`MetricResult`. Names of the submodules' public functions can
be imported from here too; a submodule is imported only when one of its names is first used, so
``import m2io.metrics`` does not pull in torch or the ROUGE/BLEU packages.

Example:
    >>> from m2io.metrics import score_images
    >>> score_images([["a", "b"]], [["a", "b"]]).aggregate["f1"]
    100.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from m2io.registry import lazy_names


@dataclass(frozen=True)
class MetricResult:
    """Scores of a batch.

    Both ``aggregate`` and ``per_item`` are on the reported ×100 scale (docs/design.md, "Metrics"). Unless a
    scorer says otherwise (corpus BLEU), an aggregate is the mean of its per-item values; it is
    ``nan`` for an empty batch.

    Attributes:
        aggregate: Metric name → batch score.
        per_item: One dict per item, same keys as ``aggregate``, in input order.
    """

    aggregate: dict[str, float]
    per_item: list[dict[str, float]] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Number of scored items."""
        return len(self.per_item)


def mean_by_key(per_item: list[dict[str, float]], keys: list[str]) -> dict[str, float]:
    """Mean of each key over items (``nan`` for no items)."""
    if not per_item:
        return {k: math.nan for k in keys}
    return {k: sum(item[k] for item in per_item) / len(per_item) for k in keys}


_LAZY = {
    "images": [
        "image_precision_recall_f1",
        "weighted_edit_distance",
        "ordering_score",
        "position_accuracy",
        "placement_order",
        "placement_scores",
        "image_scores",
        "score_images",
        "score_placements",
    ],
    "text": ["rouge_l", "sentence_bleu", "corpus_bleu", "bert_score_f1", "score_text"],
    "judge": ["LLMJudge", "JudgeItem", "JudgeResult", "judge_answers"],
}
_OWNER = {name: module for module, names in _LAZY.items() for name in names}

__all__ = ["MetricResult", "mean_by_key", *_OWNER]


__getattr__ = lazy_names(__name__, _OWNER)
