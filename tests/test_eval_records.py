"""Typed evaluation (issue 14 item 4): per-item records are :class:`ItemRecord`, options are one
dataclass, both evaluations share one loop, items carry their kind, and each metric has one name
(older results files and item logs, which used ``f1``/``pipeline_f1``, still read)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_report import _inserter

from m2io.cli.main import main
from m2io.evaluation.e2e import E2EOptions
from m2io.evaluation.inserter_eval import InserterOptions
from m2io.evaluation.items import InserterItem, PipelineItem
from m2io.evaluation.results import (
    ItemRecord,
    RunOptions,
    items_path,
    load_results,
    read_items,
    run_evaluation,
    write_results,
)
from m2io.types import Sentence, TextAnswer, Usage


def test_item_record_writes_the_lines_results_files_always_had(tmp_path: Path) -> None:
    record = ItemRecord(
        id="q1",
        question="How?",
        prediction={"text": "Do it."},
        gold={"images": ["a"]},
        scores={"image_f1": 50.0},
        latency_ms={"total": 3.0},
        usage=Usage(5, 2),
        notes=["generate: fallback (timed out)"],
    )
    line = record.to_dict()
    assert list(line) == [
        *("id", "question", "prediction", "gold", "scores"),
        *("latency_ms", "usage", "notes", "flags"),
    ]
    assert line["usage"] == {"prompt_tokens": 5, "completion_tokens": 2}
    assert line["flags"] == record.flags and "raw" not in line and "candidates" not in line
    assert ItemRecord.from_dict(json.loads(json.dumps(line))) == record


def test_old_metric_names_are_read_as_the_one_name(tmp_path: Path) -> None:
    old = {"id": "q", "scores": {"f1": 40.0, "pipeline_ordering": 30.0, "rouge_l": 9.0}}
    assert ItemRecord.from_dict(old).scores == {
        "image_f1": 40.0,
        "image_ordering": 30.0,
        "rouge_l": 9.0,
    }
    path = write_results(tmp_path / "old.json", _inserter("rule", "random", 60.0).to_dict())
    data = json.loads(path.read_text())
    data["metrics"] = {"f1": data["metrics"].pop("image_f1"), "precision": 70.0}
    path.write_text(json.dumps(data))
    assert load_results(path)["metrics"]["image_f1"] == 60.0
    out = tmp_path / "report"
    assert main(["report", str(path), "--out", str(out), "--no-plots"]) == 0
    md = (out / "report.md").read_text()
    assert "Img F1" in md and "| 60.0 |" in md and "| f1 |" not in md


def test_items_are_tagged_with_their_kind() -> None:
    answer = TextAnswer("q", (Sentence("s"),))
    assert InserterItem("q", (), answer, (), {}, ()).kind == "inserter"
    assert PipelineItem("q", (), answer, (), ()).kind == "pipeline"


def test_both_evaluations_take_one_options_dataclass() -> None:
    e2e = E2EOptions(out="x.json", subset="s", system="a", bert=False)
    ins = InserterOptions(out="y.json", subset="s", system="b", embed_s=1.5)
    assert isinstance(e2e, RunOptions) and isinstance(ins, RunOptions)
    with pytest.raises(TypeError):
        E2EOptions(out="x.json", subset="s", system="a", embed_s=1.0)  # type: ignore[call-arg]


def test_the_one_loop_warms_up_scores_finishes_and_writes(tmp_path: Path) -> None:
    calls: list[str] = []

    def score(n: int) -> ItemRecord:
        if n == 3:
            raise KeyboardInterrupt
        return ItemRecord(id=str(n), scores={"image_f1": 10.0 * n}, prediction={}, gold={})

    def finish(run, log, notes, setup) -> None:
        calls.append(f"finish interrupted={run.interrupted}")
        notes.append("finished")

    options = RunOptions(out=tmp_path / "run.json", subset="s", system="sys", progress=False)
    res = run_evaluation(
        [0, 1, 2, 3, 4],
        score,
        options,
        kind="inserter",
        summarise=lambda rs: {"image_f1": sum(r.scores["image_f1"] for r in rs) / len(rs)},
        warm_up=lambda: calls.append("warm"),
        finish=finish,
    )
    assert calls == ["warm", "finish interrupted=True"]
    assert res.interrupted and res.n == 3 and res.metrics == {"image_f1": 10.0}
    assert "finished" in res.notes and "warmup" in res.setup_s
    assert [r["id"] for r in read_items(items_path(tmp_path / "run.json"))] == ["0", "1", "2"]
    assert load_results(tmp_path / "run.json")["interrupted"] is True
