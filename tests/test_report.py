"""``m2io report``: grouped Markdown tables and PNG plots from results files."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from m2io.cli.main import main
from m2io.evaluation.report import group_results, setting_of, write_report
from m2io.evaluation.results import RunResults, load_results, write_results


def _inserter(system: str, distractors: str, f1: float, fmt: float = 0.0) -> RunResults:
    return RunResults(
        subset="toy",
        kind="inserter",
        system=system,
        n=10,
        config={
            "inserter": {"name": system},
            "eval": {
                "distractors": distractors,
                "ratio": 1.0,
                "with_context": False,
                "split": "all",
            },
        },
        metrics={
            "image_precision": f1,
            "image_recall": f1,
            "image_f1": f1,
            "image_ordering": f1 - 5,
            "position_accuracy": f1 / 2,
            "format_error_rate": fmt,
        },
        latency_ms={"insert": {"p50": 12.0, "p95": 30.0}},
    )


def _e2e(system: str, rouge: float, interrupted: bool = False) -> RunResults:
    return RunResults(
        subset="toy",
        kind="e2e",
        system=system,
        n=5,
        config={"pipeline": {}, "eval": {}},
        metrics={
            "image_precision": 40.0,
            "image_recall": 60.0,
            "image_f1": 48.0,
            "image_ordering": 35.0,
            "visual_recall": 80.0,
            "rouge_l": rouge,
            "bleu": 9.0,
            "bert_score": float("nan"),
        },
        latency_ms={
            s: {"p50": v, "p95": 2 * v}
            for s, v in {
                "retrieve": 15.0,
                "generate": 2500.0,
                "insert": 40.0,
                "merge": 0.1,
                "total": 2600.0,
            }.items()
        },
        cost={"prompt_tokens": 1000, "completion_tokens": 200, "usd_per_answer": 0.0003},
        interrupted=interrupted,
        notes=["interrupted after 5 of 8 questions"] if interrupted else [],
    )


def _write_all(folder: Path) -> list[Path]:
    runs = {
        "rule-random": _inserter("rule", "random", 60.0),
        "none-random": _inserter("none", "random", 0.0),
        "rule-hard": _inserter("rule", "hard", 40.0),
        "llm-hard": _inserter("llm", "hard", 55.0, fmt=4.0),
        "e2e-a": _e2e("extractive+rule", 30.0),
        "e2e-b": _e2e("openai(gpt-4o-mini)+rule", 42.0, interrupted=True),
    }
    return [write_results(folder / f"{name}.json", r) for name, r in runs.items()]


def test_groups_by_kind_and_distractors(tmp_path: Path) -> None:
    results = [load_results(p) for p in _write_all(tmp_path)]
    groups = group_results(results)
    assert [(g.kind, g.setting) for g in groups] == [
        ("e2e", ""),
        ("inserter", "hard distractors 1:1"),
        ("inserter", "random distractors 1:1"),
    ]
    assert setting_of(results[0]) == "random distractors 1:1"
    # nan (strict JSON null) metrics are not shown as columns
    assert "bert_score" not in groups[0].metric_keys()


def test_cli_writes_table_and_plots(tmp_path: Path, capsys) -> None:
    paths = _write_all(tmp_path / "results")
    out = tmp_path / "report"
    assert main(["report", *map(str, paths), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    md = (out / "report.md").read_text()
    assert printed == md
    assert "## toy · inserter only · hard distractors 1:1" in md
    assert "## toy · end to end" in md
    assert "| rule | 10 | **60.0** |" in md  # best value of the column in bold
    assert "openai(gpt-4o-mini)+rule (interrupted)" in md
    assert "Fmt err ↓" in md
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == 6  # metrics + latency for each of the three groups
    for png in pngs:
        assert f"]({png.name})" in md
        with Image.open(png) as im:
            assert im.format == "PNG" and im.size[0] >= 600


def test_other_json_is_skipped_and_named(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"n": 3}')
    assert main(["report", str(bad), "--out", str(tmp_path / "r")]) == 2
    assert "bad.json is not an m2io results file" in capsys.readouterr().err
    good = _write_all(tmp_path / "results")[0]
    assert main(["report", str(good), str(bad), "--out", str(tmp_path / "r"), "--no-plots"]) == 0
    assert "skipped: " in capsys.readouterr().err


def test_library_without_plots(tmp_path: Path) -> None:
    report = write_report(_write_all(tmp_path), tmp_path / "r", plots=False)
    assert [f.name for f in report.files] == ["report.md"]


def test_runs_on_other_questions_get_their_own_table(tmp_path: Path) -> None:
    """An e2e run on the held-out split, or on the first N questions, is not comparable with a
    run on every question: each gets its own group."""
    from dataclasses import replace

    full = _e2e("extractive+rule", 30.0)
    val = replace(full, config={"pipeline": {}, "eval": {"split": "val", "limit": None}})
    first = replace(full, config={"pipeline": {}, "eval": {"split": "all", "limit": 20}})
    paths = [
        write_results(tmp_path / f"{n}.json", r) for n, r in (("a", full), ("b", val), ("c", first))
    ]
    groups = group_results([load_results(p) for p in paths])
    assert sorted(g.setting for g in groups) == ["", "first 20", "val split"]
