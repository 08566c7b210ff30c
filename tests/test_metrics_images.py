"""Image metrics (MRAMG-Bench arXiv 2502.04176, SPEC "Metrics"), checked against hand-worked values."""

from __future__ import annotations

import math

import pytest

from m2io.metrics.images import (
    image_precision_recall_f1,
    ordering_score,
    placement_order,
    placement_scores,
    position_accuracy,
    score_images,
    score_placements,
    weighted_edit_distance,
)

# --- precision / recall / F1 over sets -------------------------------------------------------


def test_prf_partial_overlap() -> None:
    # 2 of 3 predicted are gold, 2 of 4 gold are found: F1 = 2·(2/3)(1/2) / (2/3 + 1/2) = 4/7.
    p, r, f = image_precision_recall_f1(["a", "b", "x"], ["a", "b", "c", "d"])
    assert (p, r) == pytest.approx((2 / 3, 1 / 2))
    assert f == pytest.approx(4 / 7)


def test_prf_nothing_predicted_scores_zero() -> None:
    assert image_precision_recall_f1([], ["a"]) == (0.0, 0.0, 0.0)


def test_prf_no_gold_recall_is_one_but_extra_images_cost_precision() -> None:
    assert image_precision_recall_f1(["a"], []) == (0.0, 1.0, 0.0)


def test_prf_both_empty_is_perfect() -> None:
    assert image_precision_recall_f1([], []) == (1.0, 1.0, 1.0)


def test_prf_are_over_sets_so_repeats_and_order_do_not_count() -> None:
    assert image_precision_recall_f1(["b", "a", "a"], ["a", "b"]) == (1.0, 1.0, 1.0)


def test_a_bare_string_is_rejected_not_read_as_characters() -> None:
    with pytest.raises(TypeError):
        image_precision_recall_f1("ab", ["a", "b"])


# --- weighted edit distance: direction and costs ------------------------------------------------


# MRAMG-Bench's definition (public script QUNING1/MRAMG, eval/evaluation.py,
# get_image_ordering_score; SPEC "Metrics"): a gold image missing from the prediction costs 3, an
# extra predicted image 2, a substitution 1. These expectations locked the swapped costs until
# issue 11.


def test_extra_predicted_image_is_a_deletion_costing_2() -> None:
    assert weighted_edit_distance(["a", "b", "c"], ["a", "b"]) == 2


def test_missing_gold_image_is_an_insertion_costing_3() -> None:
    assert weighted_edit_distance(["a", "b"], ["a", "b", "c"]) == 3


def test_wrong_image_in_a_slot_is_a_substitution_costing_1() -> None:
    assert weighted_edit_distance(["a", "x"], ["a", "b"]) == 1


def test_edit_distance_hand_worked_mixed_case() -> None:
    # B = c a x b → A = a b c: delete c (2), keep a, x→b (1), b→c (1) = 4; substituting three
    # and deleting one costs 5, deleting two and inserting one 7.
    assert weighted_edit_distance(["c", "a", "x", "b"], ["a", "b", "c"]) == 4


# --- ordering score: every edge case -------------------------------------------------------


def test_ordering_both_empty_is_one() -> None:
    assert ordering_score([], []) == 1.0


def test_ordering_images_where_gold_has_none_is_zero() -> None:  # n = 0 < m
    assert ordering_score(["a"], []) == 0.0


def test_ordering_no_images_where_gold_has_some_is_zero() -> None:  # m = 0 < n
    assert ordering_score([], ["a", "b"]) == 0.0


def test_ordering_no_overlap_is_zero() -> None:
    assert ordering_score(["x", "y"], ["a", "b"]) == 0.0


def test_ordering_identical_is_one() -> None:
    assert ordering_score(["a", "b", "c"], ["a", "b", "c"]) == 1.0


def test_ordering_swapped_pair() -> None:
    # dist = 2 substitutions; norm = 2/2 = 1; penalty = 1/3; score = 1 · 2/3.
    assert ordering_score(["b", "a"], ["a", "b"]) == pytest.approx(2 / 3)


def test_ordering_extra_image() -> None:
    # dist = 2 (delete c); norm = 2/3; penalty = 2/9; overlap 2/2 → 7/9.
    assert ordering_score(["a", "b", "c"], ["a", "b"]) == pytest.approx(7 / 9)


def test_ordering_missing_image() -> None:
    # dist = 3 (insert c); norm = 3/3; penalty = 1/3; overlap 2/3 → (2/3)(2/3) = 4/9.
    assert ordering_score(["a", "b"], ["a", "b", "c"]) == pytest.approx(4 / 9)


def test_ordering_two_missing_matches_the_mramg_check() -> None:
    # SPEC's check: gold [a, b, c, d], prediction [a, d] → 0.25 (dist 6, norm 1.5, penalty 1/2,
    # overlap 2/4); with the swapped costs it scored 1/3.
    assert ordering_score(["a", "d"], ["a", "b", "c", "d"]) == pytest.approx(0.25)


def test_ordering_hand_worked_mixed_case() -> None:
    # dist 4 (see above); norm = 4/4; penalty = 1/3; overlap 3/3 → 2/3.
    assert ordering_score(["c", "a", "x", "b"], ["a", "b", "c"]) == pytest.approx(2 / 3)


def test_ordering_repeated_gold_ids_identical_prediction_is_one() -> None:
    # The literal |set(A) ∩ set(B)| / n would give 1/2 here; the multiset overlap gives 1.
    assert ordering_score(["a", "a"], ["a", "a"]) == 1.0


def test_ordering_repeated_gold_id_predicted_once() -> None:
    # overlap = min(2, 1) = 1 → 1/2; dist = 3 (insert a); norm 3/2; penalty 1/2 → 1/4.
    assert ordering_score(["a"], ["a", "a"]) == pytest.approx(1 / 4)


def test_ordering_repeated_predicted_id() -> None:
    # overlap = min(1, 2) = 1 → 1/1; dist = 2 (delete one a); norm 2/2; penalty 1/3 → 2/3.
    assert ordering_score(["a", "a"], ["a"]) == pytest.approx(2 / 3)


# --- position accuracy -----------------------------------------------------------------------


def test_position_accuracy_counts_gold_images_at_their_sentence() -> None:
    # a right, b misplaced (2 vs 3); the extra x does not count here.
    assert position_accuracy({"a": 1, "b": 2, "x": 3}, {"a": 1, "b": 3}) == 0.5


def test_position_accuracy_before_first_sentence_is_index_zero() -> None:
    assert position_accuracy({"a": 0}, {"a": 0}) == 1.0


def test_position_accuracy_nothing_placed_is_zero() -> None:
    assert position_accuracy({}, {"a": 1}) == 0.0


def test_position_accuracy_no_gold_image() -> None:
    assert position_accuracy({}, {}) == 1.0
    assert position_accuracy({"a": 1}, {}) == 0.0


# --- placement scores (shared with the rewards) ----------------------------------------------


def test_placement_order_is_by_sentence_then_mapping_order() -> None:
    assert placement_order({"b": 2, "a": 0, "c": 2}) == ["a", "b", "c"]


def test_placement_scores_hand_worked() -> None:
    s = placement_scores({"a": 1, "x": 2}, {"a": 1, "b": 3})
    assert s["precision"] == s["recall"] == s["f1"] == 0.5
    assert s["position"] == 0.5  # 1 correct / max(2, 2)
    assert s["position_accuracy"] == 0.5
    # orders [a, x] vs [a, b]: overlap 1/2, dist 1, norm 1/2, penalty 1/6 → 5/12.
    assert s["ordering"] == pytest.approx(5 / 12)


def test_selecting_every_candidate_is_not_rewarded_by_position() -> None:
    gold = {"a": 1, "b": 3}
    everything = placement_scores({"a": 1, "b": 3, "x": 1, "y": 2}, gold)
    exact = placement_scores(gold, gold)
    assert everything["recall"] == 1.0 and everything["position_accuracy"] == 1.0
    assert everything["position"] == 0.5  # 2 correct / max(4, 2)
    assert exact["position"] == 1.0


def test_placement_scores_both_empty_all_one() -> None:
    assert set(placement_scores({}, {}).values()) == {1.0}


# --- batch scorers ---------------------------------------------------------------------------


def test_score_images_aggregates_means_times_100() -> None:
    r = score_images([["a", "b"], []], [["a"], []])
    assert r.n == len(r.per_item) == 2  # one row per item, the empty pair included
    assert r.per_item[0]["precision"] == 50.0 and r.per_item[1]["precision"] == 100.0
    assert r.aggregate["precision"] == 75.0
    assert r.aggregate["recall"] == 100.0
    assert set(r.aggregate) == {"precision", "recall", "f1", "ordering"}


def test_score_placements_reports_positions() -> None:
    r = score_placements([{"a": 1, "x": 2}], [{"a": 1, "b": 3}])
    assert r.aggregate["position"] == 50.0
    assert r.aggregate["ordering"] == pytest.approx(100 * 5 / 12)


def test_batch_length_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 gold"):
        score_images([["a"], ["b"]], [["a"]])


def test_empty_batch_gives_nan_aggregates() -> None:
    r = score_images([], [])
    assert r.n == 0 and all(math.isnan(v) for v in r.aggregate.values())


def test_metrics_package_exposes_names_lazily() -> None:
    import m2io.metrics as metrics

    assert metrics.score_images is score_images
    with pytest.raises(AttributeError):
        _ = metrics.no_such_metric


# --- ±1 position accuracy (issue 11): a second, looser placement metric ----------------------


def test_position_within_one_sentence_counts_near_misses_only():
    from m2io.metrics.images import position_accuracy_within

    gold = {"a": 3, "b": 1, "c": 0}
    pred = {"a": 2, "b": 4, "x": 0}  # a one early, b three late, c left out, x a distractor
    assert position_accuracy_within(pred, gold) == pytest.approx(1 / 3)
    assert position_accuracy_within(pred, gold, tolerance=3) == pytest.approx(2 / 3)
    assert position_accuracy_within(pred, gold, tolerance=0) == position_accuracy(pred, gold)
    assert position_accuracy_within({}, {}) == 1.0 and position_accuracy_within({"x": 1}, {}) == 0
    with pytest.raises(ValueError):
        position_accuracy_within(pred, gold, tolerance=-1)


def test_placement_scores_report_within_one_beside_exact_position_accuracy():
    s = placement_scores({"a": 2, "b": 1}, {"a": 3, "b": 1})
    assert s["position_accuracy"] == 0.5 and s["position_within_1"] == 1.0
    batch = score_placements([{"a": 2}], [{"a": 3}]).aggregate
    assert batch["position_accuracy"] == 0.0 and batch["position_within_1"] == 100.0
