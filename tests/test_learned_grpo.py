"""The placement policy and its GRPO trainer, on synthetic tasks (no embedder needed)."""

from __future__ import annotations

import numpy as np
import pytest

from m2io.learned.features import N_KEEP, N_SLOT, SLOT_FEATURES, option_features
from m2io.learned.policy import LEAVE, OptionBatch, Policy, plans, sample_actions
from m2io.learned_training.grpo import (
    GRPOConfig,
    TrainItem,
    evaluate,
    evaluate_by_kind,
    group_advantages,
    loss_gradient,
    train_grpo,
)
from m2io.types import Candidate, ImageRef, Sentence, TextAnswer

DIM = 16


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def colon_task(n_items: int, seed: int = 0) -> list[TrainItem]:
    """One image per answer, unrelated to every sentence by its caption; it belongs right after
    the one sentence that ends with ':' (the way manuals announce a figure)."""
    rng = np.random.default_rng(seed)
    items = []
    for q in range(n_items):
        n = int(rng.integers(3, 7))
        colon = int(rng.integers(0, n))
        sents = tuple(
            Sentence(f"Sentence {k} of answer {q}" + (" is shown here:" if k == colon else "."))
            for k in range(n)
        )
        answer = TextAnswer(f"Question {q}?", sents)
        cands = (Candidate(ImageRef(f"img{q}", caption=f"caption {q}")),)
        feats = option_features(answer, cands, _unit(rng, n + 2))
        items.append(TrainItem(f"q{q}", feats, (f"img{q}",), {f"img{q}": colon + 1}))
    return items


def test_sampling_places_each_image_at_most_once_and_in_range():
    rng = np.random.default_rng(0)
    items = colon_task(6)
    batch = OptionBatch.from_features([it.features for it in items])
    policy = Policy.init(N_SLOT, N_KEEP, hidden=4, seed=1)
    actions = sample_actions(policy.forward(batch), batch, group=32, rng=rng)
    assert actions.shape == (32, len(batch.item))  # exactly one action per candidate per plan
    n_slots = batch.mask.sum(axis=1)
    assert np.all((actions == LEAVE) | ((actions >= 0) & (actions < n_slots)))
    for g in range(32):
        for plan, it in zip(plans(batch, actions[g], len(items)), items, strict=True):
            assert set(plan) <= set(range(len(it.candidate_ids)))
            assert all(0 <= s <= it.n_sentences for s in plan.values())
    assert (actions == LEAVE).any() and (actions != LEAVE).any()  # P(keep) starts at 1/2


def test_greedy_leaves_out_when_keep_logit_is_negative():
    items = colon_task(3)
    batch = OptionBatch.from_features([it.features for it in items])
    policy = Policy.init(N_SLOT, N_KEEP)
    policy.params["u"][0] = -1.0  # keep_bias
    assert np.all(policy.greedy(batch) == LEAVE)
    policy.params["u"][0] = 1.0
    assert np.all(policy.greedy(batch) >= 0)


def test_backward_matches_finite_differences():
    rng = np.random.default_rng(3)
    items = colon_task(4)
    batch = OptionBatch.from_features([it.features for it in items])
    policy = Policy.init(N_SLOT, N_KEEP, hidden=3, seed=2)
    for k in policy.params:
        policy.params[k] = policy.params[k] + 0.1 * rng.normal(size=policy.params[k].shape)
    actions = sample_actions(policy.forward(batch), batch, 8, rng)
    adv = rng.normal(size=(len(items), 8))

    def loss(p: Policy) -> float:
        f = p.forward(batch)
        lp_keep = np.log(f.p_keep)
        lp_leave = np.log1p(-f.p_keep)
        total = 0.0
        for g in range(8):
            for c in range(len(batch.item)):
                a = actions[g, c]
                lp = lp_leave[c] if a == LEAVE else lp_keep[c] + f.slot_logp[c, a]
                total -= adv[batch.item[c], g] * lp
        return total / (len(items) * 8)

    fwd = policy.forward(batch)
    grads = policy.backward(batch, fwd, *loss_gradient(batch, fwd, actions, adv))
    eps = 1e-6
    for name in ("u", "w", "W1", "v"):
        idx = (0,) * policy.params[name].ndim
        plus, minus = policy.copy(), policy.copy()
        plus.params[name][idx] += eps
        minus.params[name][idx] -= eps
        numeric = (loss(plus) - loss(minus)) / (2 * eps)
        assert grads[name][idx] == pytest.approx(numeric, rel=1e-4, abs=1e-7), name


def test_group_advantages_are_relative_to_the_group():
    adv = group_advantages(np.array([[1.0, 0.0, 0.5, 0.5], [0.3, 0.3, 0.3, 0.3]]))
    assert adv[0].mean() == pytest.approx(0.0)
    assert adv[0, 0] > adv[0, 2] > adv[0, 1]
    np.testing.assert_allclose(adv[1], 0.0)  # all equal: nothing to learn


# Small sizes keep this under a few seconds; the colon cue is strong enough to learn in 60 steps.
SMALL = GRPOConfig(alpha=0.5, group_size=8, epochs=20, batch_items=16, lr=0.1, seed=0)


def test_grpo_learns_to_place_the_image_after_the_colon_sentence():
    train, val = colon_task(48, seed=0), colon_task(24, seed=1)
    before = evaluate(Policy.init(N_SLOT, N_KEEP), val, SMALL.alpha)
    policy, history = train_grpo(train, SMALL)
    after = evaluate(policy, val, SMALL.alpha)
    assert np.mean(history.epoch_reward[-3:]) > np.mean(history.epoch_reward[:2]) + 0.2
    assert after["reward"] > before["reward"] + 0.3
    assert after["position_accuracy"] >= 90.0
    assert policy.params["w"][SLOT_FEATURES.index("colon_prev")] > 0.5
    assert len(history.step_reward) == SMALL.epochs * 3


def test_same_seed_same_weights_other_seed_other_weights():
    train = colon_task(16)
    cfg = GRPOConfig(group_size=4, epochs=3, batch_items=8, hidden=4, seed=7)
    a, _ = train_grpo(train, cfg)
    b, _ = train_grpo(train, cfg)
    c, _ = train_grpo(train, GRPOConfig(group_size=4, epochs=3, batch_items=8, hidden=4, seed=8))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)


def test_config_is_validated():
    with pytest.raises(ValueError, match="alpha"):
        GRPOConfig(alpha=1.5)
    with pytest.raises(ValueError, match="group_size"):
        GRPOConfig(group_size=1)
    with pytest.raises(ValueError, match="no training item"):
        train_grpo([], GRPOConfig())


def pipeline_task(n_items: int, seed: int = 0) -> list[TrainItem]:
    """Generated answers with five retrieved candidates each; the gold image is the one whose
    chunk the answer's sentences were taken from (at a random retrieval rank), the way an
    extractive answer and its source figure go together. Captions say nothing."""
    rng = np.random.default_rng(seed)
    items = []
    for q in range(n_items):
        n = int(rng.integers(2, 5))
        gold_rank = int(rng.integers(0, 5))
        sents = tuple(
            Sentence(f"Sentence {k} of answer {q}.", source_chunk_id=f"c{gold_rank}")
            for k in range(n)
        )
        cands = tuple(
            Candidate(
                ImageRef(f"img{q}-{r}", caption=f"caption {q} {r}"),
                score=1.0 / (r + 1),
                chunk_id=f"c{r}",
            )
            for r in range(5)
        )
        answer = TextAnswer(f"Question {q}?", sents)
        feats = option_features(answer, cands, _unit(rng, n + 6))
        ids = tuple(c.image_id for c in cands)
        items.append(TrainItem(f"q{q}", feats, ids, {}, (f"img{q}-{gold_rank}",)))
    return items


def test_grpo_learns_which_retrieved_image_goes_with_a_generated_answer():
    train, val = pipeline_task(48, seed=0), pipeline_task(24, seed=1)
    before = evaluate(Policy.init(N_SLOT, N_KEEP), val)
    policy, _ = train_grpo(train, SMALL)
    after = evaluate(policy, val)
    # issue 14: one name per metric (was pipeline_f1); the item set says what was measured
    assert "image_f1" in after and "position_accuracy" not in after  # image sequences only
    assert before["image_f1"] < 40.0  # keeping all five: precision 1/5
    assert after["image_f1"] >= 90.0
    assert after["reward"] > before["reward"] + 0.3


def test_mixed_items_report_both_kinds_of_metrics():
    items = [*colon_task(4), *pipeline_task(4)]
    # issue 14: one name per metric, grouped by the kind of item it was measured on
    m = evaluate_by_kind(Policy.init(N_SLOT, N_KEEP), items)
    assert {"image_f1", "position_accuracy", "reward"} <= set(m["inserter"])
    assert {"image_f1", "image_ordering", "reward"} <= set(m["pipeline"])
    with pytest.raises(ValueError, match="one kind"):
        evaluate(Policy.init(N_SLOT, N_KEEP), items)
    assert items[0].reward({"img0": 99}, 0.8) == pytest.approx(0.8)  # recall only
    gold = items[-1].gold_order[0]
    assert items[-1].reward({gold: 1}, 0.8) == 1.0
    assert items[-1].reward({}, 0.8) == 0.0
