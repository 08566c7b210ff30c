"""When a build embeds on Ray (issue 24, item 4): the model's decisions, no Ray started."""

from __future__ import annotations

import pytest

from m2io.embed.ray_plan import MEASURED, RayModel, fit_ray_model, plan_embedding

# Ray workers that scale (each adds 90 % of one) against a session whose threads barely do
SCALES = RayModel(one_thread=10, parallel=0.3, worker=10, worker_scaling=0.9, startup_s=8)


def test_the_model_fitted_from_rates_predicts_them_back():
    m = fit_ray_model(
        one_thread=10, all_threads=15, cores=2, ray_workers={1: 9, 2: 16}, startup_s=8
    )
    assert m.in_process_s(300, 2) == pytest.approx(300 / 15, rel=1e-3)
    assert m.ray_s(300, 2) == pytest.approx(8 + 300 / 16, rel=1e-3)
    assert m.ray_s(300, 1) == pytest.approx(8 + 300 / 9, rel=1e-3)


@pytest.mark.parametrize("cores", [2, 4, 16])
def test_ray_pays_from_the_crossover_on_and_not_before(cores):
    n = SCALES.crossover(cores)
    assert n is not None and n > 0
    assert SCALES.ray_s(n, cores) < SCALES.in_process_s(n, cores)
    assert SCALES.ray_s(n - 1, cores) >= SCALES.in_process_s(n - 1, cores)
    # more cores: Ray pays on smaller corpora
    assert SCALES.crossover(16) < SCALES.crossover(4) < SCALES.crossover(2)


def test_ray_that_is_no_faster_per_text_never_pays():
    flat = RayModel(one_thread=10, parallel=0.9, worker=8, worker_scaling=0.0, startup_s=8)
    assert flat.crossover(2) is None
    plan = plan_embedding(None, cores=2, texts=10**6, model=flat)
    assert not plan.use_ray and "does not pay here" in plan.message


def test_without_ray_asked_a_small_corpus_or_few_cores_stay_in_process_and_say_why():
    small = plan_embedding(None, cores=16, texts=100, model=SCALES)
    assert not small.use_ray and not small.warn
    assert small.message.startswith("embedding in process: ~100 texts on 16 cores")
    assert small.in_process_s < small.ray_s
    two = plan_embedding(None, cores=2, texts=650, model=MEASURED)
    assert not two.use_ray and "predicted" in two.message


def test_without_ray_asked_a_large_corpus_on_many_cores_goes_to_ray():
    plan = plan_embedding(None, cores=16, texts=20_000, model=SCALES)
    assert plan.use_ray and plan.message.startswith("embedding on a local Ray")
    assert plan.ray_s < 0.75 * plan.in_process_s


def test_a_small_gain_does_not_start_ray_by_default():
    """Past the crossover but saving under the margin: not worth a Ray instance unasked."""
    n = SCALES.crossover(4)
    plan = plan_embedding(None, cores=4, texts=n + 5, model=SCALES)
    assert not plan.use_ray and plan.ray_s < plan.in_process_s
    assert "Ray would save 0 s, under the 25% and 30 s" in plan.message


def test_ray_local_asked_runs_but_warns_with_the_figures_where_slower_or_few_cores():
    two = plan_embedding("local", cores=2, texts=100_000, model=SCALES)
    assert two.use_ray and two.warn and "fewer than 4 cores" in two.message
    assert "s in process" in two.message and "s on a local Ray" in two.message
    tiny = plan_embedding("local", cores=16, texts=50, model=SCALES)
    assert tiny.use_ray and tiny.warn and "slower than in process" in tiny.message
    big = plan_embedding("local", cores=16, texts=100_000, model=SCALES)
    assert big.use_ray and not big.warn and big.message is None


def test_a_cluster_is_not_judged_by_this_machine():
    for address in ("auto", "ray://head:10001"):
        plan = plan_embedding(address, cores=2, texts=10, model=SCALES)
        assert plan.use_ray and plan.message is None
