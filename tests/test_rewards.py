"""GRPO rewards (SPEC "Rewards", M2IO-R1 arXiv 2508.06328) and the protocol parser behind them."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from m2io.metrics.images import placement_scores
from m2io.protocol import parse_placement_output, render_placement_output
from m2io.rewards import (
    RewardFunc,
    completion_text,
    format_reward,
    gold_mapping,
    make_total_reward,
    position_reward,
    recall_reward,
    score_completion,
    score_placement,
)

TAGS = ["<img1>", "<img2>", "<img3>", "<img4>"]


def ok(answer: str) -> str:
    return f"<think>the menu shot fits step 1</think><answer>{answer}</answer>"


# --- parser: exact protocol ------------------------------------------------------------------


def test_exact_output_parses_with_format_ok() -> None:
    p = parse_placement_output(ok('{"<img2>": 1, "<img4>": 3}'), TAGS, n_sentences=3)
    assert p.mapping == {"<img2>": 1, "<img4>": 3}
    assert p.format_ok and p.errors == []


def test_empty_object_selects_nothing_and_is_well_formed() -> None:
    p = parse_placement_output(ok("{}"), TAGS, n_sentences=3)
    assert p.mapping == {} and p.format_ok


def test_index_zero_and_last_sentence_are_in_range() -> None:
    p = parse_placement_output(ok('{"<img1>": 0, "<img2>": 3}'), TAGS, n_sentences=3)
    assert p.mapping == {"<img1>": 0, "<img2>": 3} and p.format_ok


def test_render_then_parse_round_trips() -> None:
    text = render_placement_output({"<img3>": 2, "<img1>": 0}, think="why")
    p = parse_placement_output(text, TAGS, n_sentences=2)
    assert p.mapping == {"<img3>": 2, "<img1>": 0} and p.format_ok


# --- parser: near-misses are repaired but reported ---------------------------------------------

NEAR_MISSES = {
    "code fence": ok('```json\n{"<img2>": 1}\n```'),
    "single quotes": ok("{'<img2>': 1}"),
    "trailing comma": ok('{"<img2>": 1,}'),
    "no brackets": ok('{"img2": 1}'),
    "int as string": ok('{"<img2>": "1"}'),
    "missing think": '<answer>{"<img2>": 1}</answer>',
    "unquoted name": ok("{<img2>: 1}"),
    "no answer tags": '<think>x</think>{"<img2>": 1}',
    "text after answer": ok('{"<img2>": 1}') + " Done!",
    "index as float": ok('{"<img2>": 1.0}'),
}


@pytest.mark.parametrize("case", sorted(NEAR_MISSES))
def test_near_miss_keeps_the_placement_but_fails_format(case: str) -> None:
    p = parse_placement_output(NEAR_MISSES[case], TAGS, n_sentences=3)
    assert p.mapping == {"<img2>": 1}
    assert not p.format_ok
    assert p.errors, "every near-miss must be recorded"


def test_near_miss_errors_say_what_was_wrong() -> None:
    p = parse_placement_output("<answer>{'img2': '1',}</answer>", TAGS, n_sentences=3)
    text = " | ".join(p.errors)
    for expected in ("<think>", "single quotes", "trailing comma", "'img2'", "string"):
        assert expected in text


# --- parser: invalid entries are dropped and reported -------------------------------------------


def test_unknown_image_is_dropped() -> None:
    p = parse_placement_output(ok('{"<img2>": 1, "<img9>": 2}'), TAGS, n_sentences=3)
    assert p.mapping == {"<img2>": 1} and not p.format_ok
    assert any("<img9>" in e for e in p.errors)


def test_out_of_range_index_is_dropped() -> None:
    p = parse_placement_output(ok('{"<img2>": 4, "<img3>": -1}'), TAGS, n_sentences=3)
    assert p.mapping == {} and not p.format_ok and len(p.errors) == 2


def test_image_placed_twice_keeps_the_first() -> None:
    p = parse_placement_output(ok('{"<img2>": 1, "<img2>": 3}'), TAGS, n_sentences=3)
    assert p.mapping == {"<img2>": 1} and not p.format_ok


def test_same_image_twice_through_a_loose_spelling_is_caught() -> None:
    p = parse_placement_output(ok('{"<img2>": 1, "img2": 3}'), TAGS, n_sentences=3)
    assert p.mapping == {"<img2>": 1} and not p.format_ok


def test_boolean_index_is_not_an_integer() -> None:
    p = parse_placement_output(ok('{"<img2>": true}'), TAGS, n_sentences=3)
    assert p.mapping == {} and not p.format_ok


@pytest.mark.parametrize("text", ["", "no idea", ok("[1, 2]"), ok(""), ok("not json at all")])
def test_garbage_gives_empty_mapping_and_format_error(text: str) -> None:
    p = parse_placement_output(text, TAGS, n_sentences=3)
    assert p.mapping == {} and not p.format_ok and p.errors


def test_text_between_think_and_answer_fails_format() -> None:
    p = parse_placement_output('<think>x</think> so: <answer>{"<img1>": 1}</answer>', TAGS, 2)
    assert p.mapping == {"<img1>": 1} and not p.format_ok


def test_tags_name_candidates_by_position_when_candidates_are_image_ids() -> None:
    ids = ["1043", "2210", "77"]
    p = parse_placement_output(ok('{"<img3>": 2, "<img1>": 0}'), ids, n_sentences=2)
    assert p.mapping == {"77": 2, "1043": 0} and p.format_ok
    # An exact id is a candidate name too.
    assert parse_placement_output(ok('{"2210": 1}'), ids, 2).mapping == {"2210": 1}


def test_tag_candidates_are_literal_not_positional() -> None:
    # Candidates <img3>, <img5>: "<img1>" is not among them even though there is a first one.
    p = parse_placement_output(ok('{"<img1>": 1, "<img5>": 2}'), ["<img3>", "<img5>"], 2)
    assert p.mapping == {"<img5>": 2} and not p.format_ok


def test_to_placement_orders_slots_by_sentence_and_keeps_notes() -> None:
    p = parse_placement_output(ok("{'<img4>': 2, '<img1>': 0}"), TAGS, n_sentences=2)
    placement = p.to_placement(raw="raw")
    assert [(s.image_id, s.after_sentence) for s in placement.slots] == [
        ("<img1>", 0),
        ("<img4>", 2),
    ]
    assert not placement.format_ok and placement.notes and placement.raw == "raw"


# --- rewards ---------------------------------------------------------------------------------

GOLD = {"<img2>": 1, "<img4>": 3}
COLS = {"gold": [json.dumps(GOLD)], "candidates": [TAGS], "n_sentences": [3]}


def call(func: RewardFunc, completion: Any, **cols: Any) -> list[float | None]:
    """Call a reward the way TRL's GRPOTrainer does (keywords, extra ``completion_ids``)."""
    columns = {**COLS, **cols}
    return func(prompts=["p"], completions=[completion], completion_ids=[[1]], **columns)


def test_perfect_completion_gets_full_reward() -> None:
    completion = ok(json.dumps(GOLD))
    assert call(format_reward, completion) == [1.0]
    assert call(recall_reward, completion) == [1.0]
    assert call(position_reward, completion) == [1.0]
    assert call(make_total_reward(0.8), completion) == [1.0]


def test_chat_format_completion_is_read() -> None:
    chat = [{"role": "assistant", "content": ok(json.dumps(GOLD))}]
    assert call(make_total_reward(), chat) == [1.0]
    parts = [{"role": "assistant", "content": [{"type": "text", "text": ok("{}")}]}]
    assert completion_text(parts) == ok("{}")


def test_partial_answer_hand_worked() -> None:
    # <img2> right, <img4> missed, <img1> a distractor: recall 1/2; position 1 / max(2, 2) = 1/2.
    completion = ok('{"<img2>": 1, "<img1>": 2}')
    assert call(recall_reward, completion) == [0.5]
    assert call(position_reward, completion) == [0.5]
    assert call(make_total_reward(0.8), completion) == [pytest.approx(0.5)]


def test_misplaced_image_earns_recall_but_not_position() -> None:
    completion = ok('{"<img2>": 2, "<img4>": 3}')
    assert call(recall_reward, completion) == [1.0]
    assert call(position_reward, completion) == [0.5]
    assert call(make_total_reward(0.8), completion) == [pytest.approx(0.8 + 0.2 * 0.5)]


def test_selecting_everything_scores_below_the_exact_answer() -> None:
    everything = ok('{"<img1>": 1, "<img2>": 1, "<img3>": 2, "<img4>": 3}')
    total = make_total_reward(0.8)
    assert call(recall_reward, everything) == [1.0]
    assert call(position_reward, everything) == [0.5]
    assert call(total, everything)[0] < call(total, ok(json.dumps(GOLD)))[0]


def test_format_error_zeroes_the_total_but_not_the_logged_components() -> None:
    sloppy = ok("{'<img2>': 1, '<img4>': 3}")
    assert call(format_reward, sloppy) == [0.0]
    assert call(recall_reward, sloppy) == [1.0]
    assert call(make_total_reward(), sloppy) == [0.0]


@pytest.mark.parametrize(("alpha", "expected"), [(0.0, 0.5), (0.2, 0.6), (1.0, 1.0)])
def test_alpha_ablation(alpha: float, expected: float) -> None:
    # recall 1, position 1/2 → α + (1 − α)/2.
    assert call(make_total_reward(alpha), ok('{"<img2>": 2, "<img4>": 3}')) == [
        pytest.approx(expected)
    ]


def test_invalid_alpha_is_rejected() -> None:
    with pytest.raises(ValueError):
        make_total_reward(1.5)


def test_total_reward_has_a_loggable_name() -> None:
    f = make_total_reward(0.6)
    assert f.__name__ == "total_reward" and f.alpha == 0.6


def test_gold_keyed_by_image_id_with_tags_in_the_output() -> None:
    cols = {"gold": [{"77": 2}], "candidates": [["1043", "77"]], "n_sentences": [2]}
    assert call(make_total_reward(), ok('{"<img2>": 2}'), **cols) == [1.0]


def test_gold_keyed_by_tags_with_image_id_candidates() -> None:
    assert gold_mapping('{"<img2>": 2}', ["1043", "77"]) == {"77": 2}


def test_gold_image_missing_from_candidates_counts_as_missed() -> None:
    assert gold_mapping({"999": 1}, ["1043", "77"]) == {"999": 1}
    cols = {"gold": [{"999": 1}], "candidates": [["1043", "77"]], "n_sentences": [2]}
    assert call(recall_reward, ok("{}"), **cols) == [0.0]


def test_no_gold_image_rewards_selecting_nothing_most() -> None:
    cols = {"gold": ["{}"], "candidates": [TAGS], "n_sentences": [3]}
    total = make_total_reward(0.8)
    assert call(total, ok("{}"), **cols) == [1.0]
    # recall 1 (MRAMG's convention), position 0 → α.
    assert call(total, ok('{"<img1>": 1}'), **cols) == [pytest.approx(0.8)]


def test_item_without_gold_gets_none() -> None:
    assert call(format_reward, ok("{}"), gold=[None]) == [None]


def test_missing_column_names_the_columns_needed() -> None:
    with pytest.raises(KeyError, match="n_sentences"):
        format_reward(["p"], [ok("{}")], gold=["{}"], candidates=[TAGS])


def test_column_length_mismatch_raises() -> None:
    with pytest.raises(ValueError):
        format_reward(["p"], [ok("{}")], gold=["{}", "{}"], candidates=[TAGS], n_sentences=[1])


def test_malformed_gold_raises() -> None:
    with pytest.raises(ValueError):
        gold_mapping({"<img1>": "after one"}, TAGS)


def test_batch_of_completions() -> None:
    completions = [ok(json.dumps(GOLD)), "garbage", ok('{"<img2>": 1}')]
    cols = {"gold": [GOLD] * 3, "candidates": [TAGS] * 3, "n_sentences": [3] * 3}
    assert format_reward(None, completions, **cols) == [1.0, 0.0, 1.0]
    assert recall_reward(None, completions, **cols) == [1.0, 0.0, 0.5]


# --- rewards and metrics cannot drift ---------------------------------------------------------


def test_rewards_equal_the_metric_scorer_on_random_placements() -> None:
    rng = random.Random(0)
    for _ in range(200):
        gold = {t: rng.randint(0, 4) for t in rng.sample(TAGS, rng.randint(0, 4))}
        pred = {t: rng.randint(0, 4) for t in rng.sample(TAGS, rng.randint(0, 4))}
        scores = placement_scores(pred, gold)
        parts = score_completion(ok(json.dumps(pred)), gold=gold, candidates=TAGS, n_sentences=4)
        assert parts["format"] == 1.0
        assert parts["recall"] == scores["recall"]
        assert parts["position"] == scores["position"]
        assert parts["total"] == pytest.approx(score_placement(pred, gold, alpha=0.8))


def test_score_placement_for_numpy_grpo() -> None:
    assert score_placement({"a": 1, "x": 2}, {"a": 1, "b": 3}, alpha=0.5) == 0.5
    assert score_placement({"a": 1}, {"a": 1}, format_ok=False) == 0.0


def test_images_reward_for_generated_answers() -> None:
    from m2io.rewards import score_images_reward

    assert score_images_reward(["a", "b"], ["a", "b"]) == 1.0
    assert score_images_reward([], ["a"]) == 0.0
    assert score_images_reward([], []) == 1.0  # nothing to show, nothing shown
    # one extra image: F1 2/3; ordering 1 × (1 − (2/2)/3) = 2/3 (an extra image costs 2)
    assert score_images_reward(["a", "x"], ["a"]) == pytest.approx((2 / 3 + 2 / 3) / 2)
    # right images, wrong order: F1 1, ordering 1 − (2/2)/3
    assert score_images_reward(["b", "a"], ["a", "b"]) == pytest.approx((1 + 2 / 3) / 2)
