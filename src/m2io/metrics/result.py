"""The record every batch scorer returns, and the mean over items it is built from."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


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
