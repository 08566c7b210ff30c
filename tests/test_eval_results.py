"""Results format helpers: latency percentiles, per-item JSONL, cost table and price overrides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from m2io.evaluation.prices import PRICES, estimate_cost, is_local, load_prices
from m2io.evaluation.results import (
    ItemLog,
    RunResults,
    cost_summary,
    items_path,
    latency_stats,
    load_results,
    percentile,
    read_items,
    run_items,
    write_results,
)
from m2io.types import Usage


def test_items_path_sits_beside_results() -> None:
    assert items_path("out/results.json") == Path("out/results.items.jsonl")
    assert items_path("gimp-rule") == Path("gimp-rule.items.jsonl")


def test_latency_percentiles() -> None:
    assert percentile([], 50) != percentile([], 50)  # nan
    assert percentile([10.0], 95) == 10.0
    stats = latency_stats({"insert": [float(v) for v in range(1, 101)], "empty": []})
    assert stats == {"insert": {"p50": 50.5, "p95": 95.05}}


def test_cost_table() -> None:
    usages = [Usage(1_000_000, 0), Usage(0, 1_000_000)]
    priced = cost_summary(usages, model="gpt-4o-mini")
    p = PRICES["gpt-4o-mini"]
    assert priced["usd_total"] == pytest.approx(p.input + p.output)
    assert priced["usd_per_answer"] == pytest.approx((p.input + p.output) / 2)
    assert priced["prompt_tokens"] == 1_000_000 and priced["tokens_per_answer"] == 1_000_000
    assert cost_summary(usages, model=None)["usd_total"] == 0.0  # offline, no LLM
    local = cost_summary(usages, model="gpt-4o", base_url="http://127.0.0.1:8000/v1")
    assert local["usd_total"] == 0.0
    unknown = cost_summary(usages, model="some-hosted-model")
    assert unknown["usd_total"] is None and unknown["usd_per_answer"] is None
    assert estimate_cost("openai/gpt-4o", 1_000_000, 0) == PRICES["gpt-4o"].input
    assert is_local("http://localhost:11434/v1") and not is_local("https://api.openai.com/v1")


def test_price_file_overrides(tmp_path: Path) -> None:
    f = tmp_path / "prices.yaml"
    f.write_text("gpt-4o: {input: 1.0, output: 2.0}\nmy-model: {input: 0.5, output: 0.5}\n")
    table = load_prices(f)
    assert table["gpt-4o"].input == 1.0 and table["my-model"].output == 0.5
    assert table["gpt-4o-mini"] == PRICES["gpt-4o-mini"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"x": {"input": "cheap"}}))
    with pytest.raises(ValueError, match="'x'"):
        load_prices(bad)


def test_results_json_is_strict(tmp_path: Path) -> None:
    r = RunResults(
        subset="s",
        kind="e2e",
        system="x",
        n=0,
        config={},
        metrics={"image_f1": float("nan")},
        latency_ms={},
    )
    path = write_results(tmp_path / "r.json", r)
    text = path.read_text()
    assert "NaN" not in text and json.loads(text)["metrics"]["image_f1"] is None
    assert load_results(path)["kind"] == "e2e"
    with pytest.raises(ValueError, match="kind"):
        RunResults(subset="s", kind="other", system="x", n=0, config={}, metrics={}, latency_ms={})


def test_item_log_is_incremental_and_rewritable(tmp_path: Path) -> None:
    path = tmp_path / "r.items.jsonl"
    log = ItemLog(path)
    log.write({"id": "a", "scores": {"f1": 1.0}})
    assert read_items(path) == [{"id": "a", "scores": {"f1": 1.0}}]  # flushed already
    log.rewrite([{"id": "a", "scores": {"f1": 1.0, "bert": 2.0}}])
    assert read_items(path)[0]["scores"]["bert"] == 2.0
    with path.open("a") as fh:
        fh.write('{"id": "torn')  # a run killed mid-line
    assert len(read_items(path)) == 1


def test_run_items_stops_on_ctrl_c(tmp_path: Path) -> None:
    def score(i: int) -> dict:
        if i == 3:
            raise KeyboardInterrupt
        return {"id": i}

    with ItemLog(tmp_path / "x.jsonl") as log:
        run = run_items(range(10), score, log=log, progress=False)
    assert run.interrupted and [r["id"] for r in run.records] == [0, 1, 2]
    assert len(read_items(tmp_path / "x.jsonl")) == 3
