"""``--set`` on the commands that lacked it (issue 14, item 3): ``m2io build-inserter-data``
(``data.KEY``), ``m2io report`` (``report.KEY``) and ``m2io train sft|grpo`` (recipe fields,
``KEY=VALUE``; the older positional form still works, marked deprecated in ``--help``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_build_data import _corpus
from test_report import _write_all

from m2io.cli import train_llm
from m2io.cli.main import build_parser, main


def test_build_inserter_data_takes_set(tmp_path: Path) -> None:
    data = _corpus(tmp_path / "data")
    out = tmp_path / "set"
    argv = ["build-inserter-data", "--data", str(data), "--out", str(out)]
    assert main([*argv, "--set", "data.seed=7", "--set", "data.no_hf=true"]) == 0
    assert json.loads((out / "meta.json").read_text())["seed"] == 7
    assert not (out / "hf").exists()


def test_build_inserter_data_names_the_valid_keys(tmp_path: Path, capsys) -> None:
    argv = ["build-inserter-data", "--data", str(tmp_path), "--out", str(tmp_path / "o")]
    assert main([*argv, "--set", "data.sed=7"]) == 2
    err = capsys.readouterr().err
    assert "data.sed=7" in err and "data.seed" in err


def test_report_takes_set(tmp_path: Path) -> None:
    paths = _write_all(tmp_path / "results")
    out = tmp_path / "report"
    assert main(["report", *map(str, paths), "--set", f"report.out={out}"]) == 0
    assert (out / "report.md").exists() and list(out.glob("*.png"))
    quiet = tmp_path / "quiet"
    argv = ["report", *map(str, paths), "--out", str(quiet), "--set", "report.no_plots=true"]
    assert main(argv) == 0
    assert (quiet / "report.md").exists() and not list(quiet.glob("*.png"))


@pytest.mark.parametrize("kind", ["sft", "grpo"])
def test_train_llm_set_overrides_recipe_fields_last(kind: str) -> None:
    argv = ["train", kind, "--max-steps", "5", "max_steps=4", "--set", "max_steps=3"]
    args = build_parser(argv).parse_args(argv)
    assert train_llm._flags(args) == {"max_steps": 5}  # typed, under the overrides
    assert train_llm._overrides(args) == ["max_steps=4", "max_steps=3"]
    argv = ["train", kind, "--set", "lora=false", "--set", "learning_rate=5e-5"]
    args = build_parser(argv).parse_args(argv)
    assert train_llm._overrides(args) == ["lora=false", "learning_rate=5e-5"]


def test_train_llm_help_marks_the_positional_form_deprecated(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["train", "sft", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--set KEY=VALUE" in help_text
    assert "deprecated: the older form of --set KEY=VALUE" in help_text


def test_train_llm_set_reaches_the_recipe() -> None:
    pytest.importorskip("trl")
    from m2io.training.recipe import load_recipe
    from m2io.training.sft import SFTRecipe

    argv = ["train", "sft", "--set", "max_steps=3", "--set", "output_dir=/tmp/m2io-x"]
    recipe = load_recipe(SFTRecipe, None, train_llm._overrides(build_parser(argv).parse_args(argv)))
    assert recipe.max_steps == 3
