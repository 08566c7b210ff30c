"""Evaluation says when its scores are not the configured model's (issue 10, items 9 and 10).

Runs ``m2io eval`` / ``eval-inserter`` on the toy MRAMG subset with a stub retriever (no index
build, no embedding model) against the scripted FakeOpenAIServer or a dead endpoint: fallbacks,
truncations and time-outs are counted per stage, printed next to the score and in the report, a
run where most answers fell back is labelled (and fails under ``--strict``), skipped questions
are counted by reason, and ``--base-url`` reaches the LLM inserter.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import dead_url, run_eval, stub_retriever_options
from test_eval_fixtures import PAGES, SUBSET, build_eval_corpus

import m2io.cli.eval as cli_eval
from m2io.cli.main import main
from m2io.evaluation.results import items_path, read_items
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.text import PIC

N = len(PAGES)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy subset plus three questions an inserter evaluation cannot use."""
    root = build_eval_corpus(tmp_path_factory.mktemp("honesty"))
    extra = [
        {  # no image in the gold answer
            "id": "toy-noimg",
            "question": "What does the Crop tool do?",
            "ground_truth": "The Crop tool removes the edges of an image.",
            "provenance": [0],
            "images_list": [],
        },
        {  # its gold images are not in the corpus
            "id": "toy-lost",
            "question": "How do I use the Levels dialog?",
            "ground_truth": f"Levels adjusts the brightness range.\n{PIC}\nUse Auto.",
            "provenance": [6],
            "images_list": [9999],
        },
        {  # its source document is not in the corpus
            "id": "toy-nodoc",
            "question": "How do I use the Export dialog?",
            "ground_truth": f"Export saves the image.\n{PIC}\nPick PNG.",
            "provenance": [4242],
            "images_list": [14],
        },
    ]
    with (root / f"{SUBSET}_mqa.jsonl").open("a", encoding="utf-8") as fh:
        for row in extra:
            fh.write(json.dumps(row) + "\n")
    return root


@pytest.fixture
def no_index_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # patched where ``m2io eval`` calls it
    monkeypatch.setattr(
        cli_eval, "ensure_index", lambda documents, folder, **kw: (Path(folder), 0.0)
    )


def _eval(data: Path, out: Path, *extra: str) -> tuple[int, dict]:
    return run_eval("eval", data, out, "--no-bert", *stub_retriever_options(data), *extra)


def test_eval_with_the_server_down_counts_fallbacks_and_labels_the_run(
    data, tmp_path, no_index_build, capsys
) -> None:
    out = tmp_path / "down.json"
    llm = ["--generator", "openai", "--generator-model", "m", "--base-url", dead_url()]
    llm += ["--inserter", "none", "--set", "llm.max_retries=0"]
    rc, res = _eval(data, out, *llm)
    n = N + 3
    assert rc == 0 and res["n"] == n
    assert res["fallbacks"] == {"generate": n} and res["fell_back"] == n
    assert res["mostly_fallback"] is True
    printed = capsys.readouterr().out
    header = printed.splitlines()[0]
    assert header.startswith(f"openai(m)+none [fallback: {n}/{n}]"), header
    assert f"fell back {n}/{n} answers (generate {n})" in printed
    items = read_items(items_path(out))
    assert all(it["flags"] == {"fallback": ["generate"]} for it in items)
    # questions scored although their gold lies outside the corpus are counted, by reason
    assert res["gold_gaps"] == {
        "some gold images not in the corpus": 1,
        "source documents not in the corpus": 1,
    }
    assert "scored with gold outside the corpus" in printed

    rc, _ = _eval(data, tmp_path / "strict.json", *llm, "--strict")
    assert rc == 1
    assert "--strict" in capsys.readouterr().err

    report = tmp_path / "report"
    assert main(["report", str(out), "--out", str(report), "--no-plots"]) == 0
    md = (report / "report.md").read_text()
    assert f"openai(m)+none [fallback: {n}/{n}]" in md
    assert "Fell back" in md and f"{n}/{n}" in md


def test_eval_counts_truncated_answers(data, tmp_path, no_index_build, capsys) -> None:
    out = tmp_path / "cut.json"
    with FakeOpenAIServer(lambda r: "Use the tool as shown.", finish_reason="length") as srv:
        rc, res = _eval(
            data,
            out,
            "--generator",
            "openai",
            "--generator-model",
            "m",
            "--base-url",
            srv.base_url,
            "--inserter",
            "none",
            "--limit",
            "3",
        )
    assert rc == 0
    assert res["truncated"] == {"generate": 3} and res["fell_back"] == 0
    assert res["mostly_fallback"] is False
    assert "truncated at max_tokens: generate 3" in capsys.readouterr().out


def _llm_inserter(base_url: str) -> tuple[str, ...]:
    """The LLM inserter on the fake server, model ``fake-vl``."""
    return ("--inserter", "llm", "--model", "fake-vl", "--base-url", base_url)


def _placing_reply(request: dict) -> str:
    return '<think>the first image fits sentence 1</think><answer>{"<img1>": 1}</answer>'


def test_base_url_reaches_the_llm_inserter_in_eval(data, tmp_path, no_index_build) -> None:
    out = tmp_path / "llm.json"
    with FakeOpenAIServer(_placing_reply) as srv:
        rc, res = _eval(data, out, *_llm_inserter(srv.base_url), "--limit", "2")
    assert rc == 0
    placed = [r for r in srv.requests if "You place images" in r["messages"][0]["content"]]
    assert placed and placed[0]["model"] == "fake-vl"
    assert res["fell_back"] == 0
    assert res["config"]["pipeline"]["llm"]["base_url"] == srv.base_url


def test_eval_inserter_keeps_raw_output_counts_fallbacks_and_skips(data, tmp_path, capsys) -> None:
    out = tmp_path / "ins.json"
    with FakeOpenAIServer(lambda r: "I would put the first image first.") as srv:
        rc, _ = run_eval(
            "eval-inserter",
            data,
            out,
            *_llm_inserter(srv.base_url),
            "--set",
            "inserter.fallback=none",
        )
    assert rc == 0
    assert srv.requests, "--base-url must reach the LLM inserter"
    res = json.loads(out.read_text())
    n = res["n"]
    assert n == N + 1  # the eight pages and the question whose source document is missing
    assert res["fallbacks"] == {"insert": n} and res["mostly_fallback"] is True
    assert res["skipped"] == {"no image in the gold answer": 1, "gold images not in the corpus": 1}
    assert res["gold_gaps"] == {"source documents not in the corpus": 1}
    items = read_items(items_path(out))
    assert all(it["raw"] == "I would put the first image first." for it in items)
    printed = capsys.readouterr().out
    assert "[fallback:" in printed.splitlines()[0]
    assert f"skipped 2 of {N + 3} questions" in printed
    assert "no image in the gold answer (1)" in printed


def test_questions_the_loader_drops_are_counted_by_reason(tmp_path, no_index_build, capsys) -> None:
    root = build_eval_corpus(tmp_path / "dup")
    qfile = root / f"{SUBSET}_mqa.jsonl"
    first = qfile.read_text(encoding="utf-8").splitlines()[0]
    with qfile.open("a", encoding="utf-8") as fh:
        fh.write(first + "\n")  # the same question id twice: scored once, the copy counted
    rc, res = _eval(root, tmp_path / "dup.json", "--inserter", "none")
    assert rc == 0 and res["n"] == N
    assert res["skipped"] == {"not loaded: duplicate-id": 1}
    assert "not loaded: duplicate-id (1)" in capsys.readouterr().out
