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

from m2io.metrics.result import MetricResult, mean_by_key
from m2io.registry import lazy_names

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
