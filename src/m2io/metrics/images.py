"""Image metrics: which images an answer uses, in what order, and after which sentence.

Pure Python. Per-item functions return values in [0, 1]; the batch scorers
(:func:`score_images`, :func:`score_placements`) report ×100 in a
:class:`~m2io.metrics.MetricResult`. The GRPO rewards in :mod:`m2io.rewards` call
:func:`placement_scores` (the same per-item code), so a metric and its reward cannot drift apart.

Definitions follow docs/design.md, "Metrics", which follows MRAMG-Bench (Yu et al., arXiv 2502.04176) for
image precision / recall / F1 and the image ordering score, and adds position accuracy and the
position reward of M2IO-R1 (arXiv 2508.06328).

Conventions for the edge cases (each one is tested in ``tests/test_metrics_images.py``):

- Precision, recall, F1 are over *sets* of image ids. Nothing predicted → P = 0; no gold image →
  R = 1; both empty → P = R = F1 = 1.
- Ordering: see :func:`ordering_score`.
- Position accuracy with no gold image: 1 if nothing was placed either, else 0 (every placed image
  is then wrong), the same value the position reward gives there.

Example:
    >>> ordering_score(pred=["a", "b"], gold=["b", "a"])  # two substitutions
    0.6666666666666667
    >>> placement_scores({"a": 1, "x": 2}, {"a": 1, "b": 3})["position"]
    0.5
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from m2io.metrics.result import MetricResult, mean_by_key

# MRAMG-Bench's ordering costs (the public script QUNING1/MRAMG, eval/evaluation.py,
# get_image_ordering_score: p1 = 3, p2 = 2, p3 = 1): a gold image missing from the prediction is
# the costliest error, an extra predicted image the next, an image in the wrong slot the cheapest.
# Turning the prediction into the gold, a missing gold image is *inserted* (3) and an extra one
# *deleted* (2). Before 2026-11-30 m2io had the two swapped (issue 11).
INSERTION_COST = 3
DELETION_COST = 2
SUBSTITUTION_COST = 1
MAX_NORM = 3.0

IMAGE_KEYS = ["precision", "recall", "f1", "ordering"]
PLACEMENT_KEYS = [
    "precision",
    "recall",
    "f1",
    "ordering",
    "position_accuracy",
    "position_within_1",
    "position",
]


def _check_ids(ids: Iterable[str], what: str) -> None:
    if isinstance(ids, str):
        raise TypeError(f"{what} must be a sequence of image ids, not one string: {ids!r}")


def image_precision_recall_f1(
    pred: Iterable[str], gold: Iterable[str]
) -> tuple[float, float, float]:
    """Image precision, recall and F1 over the *sets* of ids (MRAMG-Bench; docs/design.md, "Metrics").

    Nothing predicted gives P = 0, no gold image gives R = 1, and both empty give 1 for all three
    (an answer that rightly uses no image is perfect). F1 is 0 when P + R = 0.

    Args:
        pred: Image ids the answer uses (order and repeats ignored).
        gold: Image ids of the reference answer.

    Returns:
        ``(precision, recall, f1)``, each in [0, 1].
    """
    _check_ids(pred, "pred")
    _check_ids(gold, "gold")
    p_set, g_set = set(pred), set(gold)
    if not p_set and not g_set:
        return 1.0, 1.0, 1.0
    hits = len(p_set & g_set)
    precision = hits / len(p_set) if p_set else 0.0
    recall = hits / len(g_set) if g_set else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def weighted_edit_distance(
    pred: Sequence[str],
    gold: Sequence[str],
    *,
    deletion: float = DELETION_COST,
    insertion: float = INSERTION_COST,
    substitution: float = SUBSTITUTION_COST,
) -> float:
    """Minimum cost of turning the predicted sequence into the gold sequence.

    Direction (as in MRAMG-Bench's description of ``dist(A, B)``: transform B, the prediction, into
    A, the gold): a *deletion* removes an image of ``pred`` (an extra or surplus image), an
    *insertion* adds an image of ``gold`` that ``pred`` lacks, a *substitution* replaces an image
    of ``pred`` by the gold one at that point. Equal ids cost nothing.

    Example:
        >>> weighted_edit_distance(["a", "b", "c"], ["a", "b"])  # delete the extra "c"
        2
        >>> weighted_edit_distance(["a"], ["a", "b"])  # insert the missing "b"
        3
    """
    _check_ids(pred, "pred")
    _check_ids(gold, "gold")
    m = len(pred)
    # prev[j]: cost of turning pred[:j] into gold[:i - 1]; start with gold[:0] = [] (delete all).
    prev = [j * deletion for j in range(m + 1)]
    for i, g in enumerate(gold, start=1):
        row = [i * insertion]
        for j, p in enumerate(pred, start=1):
            row.append(
                min(
                    prev[j] + insertion,  # gold[i-1] inserted after pred[:j]
                    row[j - 1] + deletion,  # pred[j-1] deleted
                    prev[j - 1] + (0 if p == g else substitution),
                )
            )
        prev = row
    return prev[m]


def ordering_score(
    pred: Sequence[str],
    gold: Sequence[str],
    *,
    deletion: float = DELETION_COST,
    insertion: float = INSERTION_COST,
) -> float:
    """MRAMG-Bench's image ordering score of one answer, in [0, 1].

    With gold sequence A (length n) and predicted sequence B (length m)::

        dist    = weighted_edit_distance(B -> A)   # missing gold 3, extra 2, substitution 1
        norm    = dist / max(n, m)
        penalty = min(norm, 3) / 3
        score   = overlap / n * (1 - penalty)

    Edge cases: both empty → 1; n = 0 < m → 0; m = 0 < n → 0; no image in common → 0.

    ``overlap`` is the size of the *multiset* intersection of A and B. When no id repeats (the
    usual case) this is exactly MRAMG's ``|set(A) ∩ set(B)|``; when the gold repeats an id, the
    set form would cap a perfect prediction below 1 (A = B = [x, x] would score 1/2), the multiset
    form gives it 1. ``deletion``/``insertion`` override the costs (only to re-score old runs
    with the swapped costs, ``benchmarks/rescore_ordering.py``).

    Example:
        >>> ordering_score(pred=["a", "b", "c"], gold=["a", "b"])  # one extra image
        0.7777777777777778
        >>> ordering_score(pred=["a", "d"], gold=["a", "b", "c", "d"])  # two missing
        0.25
    """
    _check_ids(pred, "pred")
    _check_ids(gold, "gold")
    n, m = len(gold), len(pred)
    if n == 0 and m == 0:
        return 1.0
    if n == 0 or m == 0:
        return 0.0
    overlap = sum((Counter(gold) & Counter(pred)).values())
    if overlap == 0:
        return 0.0
    dist = weighted_edit_distance(pred, gold, deletion=deletion, insertion=insertion)
    norm = dist / max(n, m)
    penalty = min(norm, MAX_NORM) / MAX_NORM
    return overlap / n * (1.0 - penalty)


def _correct_positions(pred: Mapping[str, int], gold: Mapping[str, int]) -> int:
    return sum(1 for image_id, sentence in gold.items() if pred.get(image_id) == sentence)


def position_accuracy(pred: Mapping[str, int], gold: Mapping[str, int]) -> float:
    """Share of gold images placed after their gold sentence (docs/design.md, "Metrics"; ours).

    Args:
        pred: ``{image_id: after_sentence}`` of the answer (0 = before the first sentence).
        gold: The same for the reference answer.

    Returns:
        ``correct / len(gold)``. Extra images do not lower it (precision and the position reward
        see those). With no gold image: 1.0 if nothing was placed, else 0.0.
    """
    if not gold:
        return 1.0 if not pred else 0.0
    return _correct_positions(pred, gold) / len(gold)


def position_accuracy_within(
    pred: Mapping[str, int], gold: Mapping[str, int], tolerance: int = 1
) -> float:
    """Share of gold images placed within ``tolerance`` sentences of their gold slot (ours).

    A second, looser placement metric beside :func:`position_accuracy` (which is
    ``tolerance=0``): an image one sentence early or late still sits next to the text it
    illustrates, while a miss by several sentences does not. A gold image left out counts as
    wrong. Same edge cases as :func:`position_accuracy`.

    Example:
        >>> position_accuracy_within({"a": 2, "b": 5}, {"a": 3, "b": 1})
        0.5
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    if not gold:
        return 1.0 if not pred else 0.0
    hits = sum(
        1
        for image_id, sentence in gold.items()
        if image_id in pred and abs(pred[image_id] - sentence) <= tolerance
    )
    return hits / len(gold)


def placement_order(placement: Mapping[str, int]) -> list[str]:
    """Image ids in reading order: by sentence index, ties kept in mapping order.

    Example:
        >>> placement_order({"b": 2, "a": 0, "c": 2})
        ['a', 'b', 'c']
    """
    return [k for k, _ in sorted(placement.items(), key=lambda kv: kv[1])]


def placement_scores(pred: Mapping[str, int], gold: Mapping[str, int]) -> dict[str, float]:
    """Every per-item image score of one placement, each in [0, 1].

    The single scorer behind both the evaluation of inserters (:func:`score_placements`) and the
    GRPO rewards (:mod:`m2io.rewards`, M2IO-R1 arXiv 2508.06328).

    Args:
        pred: ``{image_id: after_sentence}`` chosen by the inserter.
        gold: ``{image_id: after_sentence}`` of the reference answer, same id space as ``pred``.

    Returns:
        A dict with

        - ``precision``, ``recall``, ``f1``: :func:`image_precision_recall_f1` of the key sets;
          ``recall`` is the recall reward (|selected ∩ gold| / |gold|; 1 with no gold image).
        - ``ordering``: :func:`ordering_score` of the two reading orders (:func:`placement_order`).
        - ``position_accuracy``: :func:`position_accuracy`.
        - ``position_within_1``: :func:`position_accuracy_within` one sentence.
        - ``position``: the position reward, images at their gold sentence /
          max(|selected|, |gold|); 1 when both are empty. A distractor or a misplaced image lowers
          it, so selecting every candidate is not rewarded.
    """
    precision, recall, f1 = image_precision_recall_f1(pred.keys(), gold.keys())
    denominator = max(len(pred), len(gold))
    position = _correct_positions(pred, gold) / denominator if denominator else 1.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "ordering": ordering_score(placement_order(pred), placement_order(gold)),
        "position_accuracy": position_accuracy(pred, gold),
        "position_within_1": position_accuracy_within(pred, gold, 1),
        "position": position,
    }


def image_scores(pred: Sequence[str], gold: Sequence[str]) -> dict[str, float]:
    """Precision, recall, F1 and ordering of one answer's image sequence, each in [0, 1]."""
    precision, recall, f1 = image_precision_recall_f1(pred, gold)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "ordering": ordering_score(pred, gold),
    }


def _check_batch(preds: Sequence[object], golds: Sequence[object]) -> None:
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions but {len(golds)} gold items")


def _scaled(items: list[dict[str, float]], keys: list[str]) -> MetricResult:
    per_item = [{k: 100.0 * item[k] for k in keys} for item in items]
    return MetricResult(aggregate=mean_by_key(per_item, keys), per_item=per_item)


def score_images(preds: list[Sequence[str]], golds: list[Sequence[str]]) -> MetricResult:
    """MRAMG-Bench image metrics of a batch of answers (arXiv 2502.04176).

    Args:
        preds: Per answer, the image ids it shows, in reading order.
        golds: Per answer, the reference answer's image ids, in reading order.

    Returns:
        ``precision``, ``recall``, ``f1``, ``ordering`` ×100, averaged over answers.

    Example:
        >>> score_images([["a", "b"], []], [["a"], []]).aggregate["precision"]
        75.0
    """
    _check_batch(preds, golds)
    return _scaled([image_scores(p, g) for p, g in zip(preds, golds, strict=True)], IMAGE_KEYS)


def score_placements(
    preds: list[Mapping[str, int]], golds: list[Mapping[str, int]]
) -> MetricResult:
    """Image metrics of a batch of placements ``{image_id: after_sentence}``, for inserters.

    Returns:
        Every key of :func:`placement_scores` ×100, averaged over items.
    """
    _check_batch(preds, golds)
    items = [placement_scores(p, g) for p, g in zip(preds, golds, strict=True)]
    return _scaled(items, PLACEMENT_KEYS)
