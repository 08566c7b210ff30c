"""``m2io eval`` (end to end): metrics, results format, Single-Shot, judge, index reuse, Ctrl-C.

Most tests plug a stub retriever (one chunk per page, chosen by title words) in through the
registry's dotted-path escape hatch and skip the index build, so they need no embedding model;
the tests marked slow build a real index.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from builders import RESULT_KEYS, run_eval, run_interrupted, stub_retriever_options
from test_eval_fixtures import PAGES, SUBSET, build_eval_corpus

import m2io.cli.eval as cli_eval
import m2io.evaluation.e2e as e2e
from m2io.cli.main import main
from m2io.corpus import image_context, load_mramg, load_questions
from m2io.evaluation.results import items_path, read_items
from m2io.generators.extractive import ExtractiveGenerator
from m2io.inserters.none import NoInserter
from m2io.pipeline import Pipeline
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.text import tokenize
from m2io.types import (
    Candidate,
    Chunk,
    Placement,
    Retrieval,
    RetrievedChunk,
    Slot,
    TextAnswer,
)


class StubRetriever:
    """Returns the one page whose title shares most words with the question, and its images."""

    def __init__(self, index: str = "", *, data: str, top_k: int = 1) -> None:
        self.docs = load_mramg(data, SUBSET).documents

    def retrieve(self, query: str, top_k: int | None = None) -> Retrieval:
        q = set(tokenize(query))
        doc = max(self.docs, key=lambda d: len(q & set(tokenize(d.text.split("\n")[0]))))
        chunk = Chunk(f"{doc.doc_id}-0", doc.doc_id, doc.text, doc.images)
        cands = tuple(
            Candidate(
                a.image,
                *image_context(doc, k),
                score=1.0,
                doc_id=doc.doc_id,
                chunk_id=chunk.chunk_id,
            )
            for k, a in enumerate(doc.images)
        )
        return Retrieval(query, (RetrievedChunk(chunk, 1.0),), cands)


class AllAfterFirstInserter:
    """Places every candidate after sentence 1, in candidate order."""

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        return Placement(slots=tuple(Slot(c.image_id, 1) for c in candidates))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_eval_corpus(tmp_path_factory.mktemp("eval-e2e"))


@pytest.fixture
def no_index_build(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Skip the real index build (the stub retriever does not read it); record the folder."""
    seen: list[Path] = []

    def fake(documents, folder, **kwargs):
        seen.append(Path(folder))
        return Path(folder), 0.0

    monkeypatch.setattr(cli_eval, "ensure_index", fake)  # where m2io eval calls it
    return seen


def _eval(data: Path, out: Path | None, *extra: str) -> tuple[int, dict]:
    return run_eval("eval", data, out, *stub_retriever_options(data), *extra)


def test_results_format_and_image_metrics(data, tmp_path, no_index_build, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "e2e.json"
    rc, res = _eval(
        data,
        out,
        "--generator",
        "extractive",
        "--inserter",
        "test_eval_e2e:AllAfterFirstInserter",
        "--no-bert",
    )
    assert rc == 0
    for key in (*RESULT_KEYS, "cost"):
        assert key in res, key
    assert res["kind"] == "e2e" and res["n"] == len(PAGES)
    assert res["system"] == "extractive+AllAfterFirstInserter"
    assert res["config"]["pipeline"]["generator"] == {"name": "extractive"}
    assert res["config"]["eval"]["bert"] is False
    m = res["metrics"]
    assert {
        "image_precision",
        "image_recall",
        "image_f1",
        "image_ordering",
        "visual_recall",
        "rouge_l",
        "bleu",
    } <= set(m)
    assert "position_accuracy" not in m and "bert_score" not in m
    # the stub always retrieves the right page, whose two images are the gold ones
    assert m["visual_recall"] == 100.0 and m["image_recall"] == 100.0
    assert m["image_precision"] == 100.0 and m["image_ordering"] == 100.0
    assert m["rouge_l"] > 30.0
    assert set(res["latency_ms"]) == {"retrieve", "generate", "insert", "merge", "total"}
    assert res["cost"]["usd_total"] == 0.0 and res["cost"]["prompt_tokens"] == 0
    # default index folder: under the working directory, keyed by subset and data path
    assert no_index_build[0] == e2e.eval_index_dir(data, SUBSET)
    assert str(no_index_build[0]).startswith(str(Path(".m2io") / "eval-index" / f"{SUBSET}-"))
    items = read_items(items_path(out))
    assert len(items) == len(PAGES)
    assert {"id", "prediction", "gold", "scores", "latency_ms", "notes"} <= set(items[0])
    assert items[0]["gold"]["images"] == ["0", "1"]


def test_none_baseline_and_default_out(data, tmp_path, no_index_build, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rc, _ = _eval(data, None, "--inserter", "none", "--no-bert", "--limit", "3")
    assert rc == 0
    res = json.loads((tmp_path / "results" / f"{SUBSET}-e2e-extractive+none.json").read_text())
    assert res["n"] == 3 and res["config"]["eval"]["limit"] == 3
    assert res["metrics"]["image_precision"] == 0.0 and res["metrics"]["image_recall"] == 0.0
    assert res["metrics"]["visual_recall"] == 100.0


def test_ctrl_c_keeps_scored_answers(data, tmp_path, no_index_build, capsys) -> None:
    res = run_interrupted("eval", data, tmp_path / "int.json", *stub_retriever_options(data))
    assert any("bert_score skipped" in n for n in res["notes"])
    assert "INTERRUPTED" in capsys.readouterr().err


def _fake_llm(request: dict) -> str:
    system = request["messages"][0]["content"]
    user = request["messages"][-1]["content"]
    if "strict grader" in system:  # the judge
        ids = re.findall(r"^- \[image (\S+?)[:\]]", user, flags=re.M)
        positions = ", ".join(f'"{i}": 1' for i in ids)
        return (
            f'{{"image_relevance": 4, "image_effectiveness": 3, '
            f'"image_position": {{{positions}}}, "overall_quality": 5}}'
        )
    # single-shot: first excerpt sentence, then the first image tag
    return "This answers the question from the manual. <img1> It has a second sentence."


def test_singleshot_with_fake_server_and_judge(data, tmp_path, no_index_build) -> None:
    out = tmp_path / "ss.json"
    with FakeOpenAIServer(_fake_llm) as srv:
        rc, res = _eval(
            data,
            out,
            "--mode",
            "singleshot",
            "--base-url",
            srv.base_url,
            "--generator-model",
            "gpt-4o-mini",
            "--no-bert",
            "--judge-base-url",
            srv.base_url,
            "--judge-model",
            "judge",
        )
    assert rc == 0
    assert res["system"] == "singleshot(gpt-4o-mini)"
    m = res["metrics"]
    assert m["image_precision"] == 100.0 and m["image_recall"] == 50.0
    assert m["judge_overall_quality"] == 100.0 and m["judge_image_relevance"] == 80.0
    assert m["judge_image_position"] == 100.0
    assert set(res["latency_ms"]) == {"retrieve", "generate", "merge", "total"}
    assert res["cost"]["prompt_tokens"] > 0 and res["cost"]["completion_tokens"] > 0
    assert res["cost"]["usd_total"] == 0.0  # a loopback endpoint costs nothing


def test_library_call_with_cost(data, tmp_path) -> None:
    pipe = Pipeline(StubRetriever(data=str(data)), ExtractiveGenerator(), NoInserter())
    options = e2e.E2EOptions(
        out=tmp_path / "lib.json",
        subset=SUBSET,
        system="lib",
        bert=False,
        progress=False,
        warmup=False,
    )
    res = e2e.evaluate_e2e(pipe, load_questions(data, SUBSET)[:2], options)
    assert res.n == 2 and res.kind == "e2e" and "warmup" not in res.setup_s
    assert e2e.visual_recall(["a", "b"], ["b", "c"]) == 0.5
    assert e2e.visual_recall([], ["x"]) == 1.0


@pytest.mark.slow  # builds a real index and loads the sentence embedder and BERTScore model
def test_real_index_is_built_once_and_reused(data, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    argv = [
        "eval",
        "--data",
        str(data),
        "--subset",
        SUBSET,
        "--no-progress",
        "--inserter",
        "rule",
        "--limit",
        "4",
    ]
    assert main([*argv, "--out", "a.json"]) == 0
    first = json.loads((tmp_path / "a.json").read_text())
    assert first["setup_s"]["index_build"] > 0
    assert 0.0 <= first["metrics"]["bert_score"] <= 100.0
    folder = e2e.eval_index_dir(data, SUBSET)
    assert (tmp_path / folder / "manifest.json").is_file()
    assert main([*argv, "--out", "b.json", "--no-bert"]) == 0
    second = json.loads((tmp_path / "b.json").read_text())
    assert second["setup_s"]["index_build"] == 0.0
    assert second["metrics"]["image_f1"] == first["metrics"]["image_f1"]
    # an explicit --index built from other documents is refused, not silently replaced
    other = build_eval_corpus(tmp_path / "other")
    docs = load_mramg(other, SUBSET).documents[:3]
    e2e.ensure_index(docs, tmp_path / "other.index", progress=False)
    rc = main([*argv, "--out", "c.json", "--index", str(tmp_path / "other.index")])
    assert rc == 2


def test_split_scores_one_side_of_the_document_split(data, tmp_path, no_index_build) -> None:
    from m2io.evaluation.items import build_inserter_items, split_by_document, split_questions

    corpus, questions = load_mramg(data, SUBSET), load_questions(data, SUBSET)
    _, val = split_by_document(build_inserter_items(questions, corpus), val_fraction=0.2, seed=0)
    held_out = {it.qid for it in val}
    assert held_out and len(held_out) < len(questions)
    rc, res = _eval(
        data, tmp_path / "val.json", "--inserter", "none", "--no-bert", "--split", "val"
    )
    assert rc == 0 and res["config"]["eval"]["split"] == "val"
    assert {r["id"] for r in read_items(items_path(tmp_path / "val.json"))} == held_out
    train = split_questions(questions, corpus, "train")
    assert {q.qid for q in train} == {q.qid for q in questions} - held_out
    assert split_questions(questions, corpus, "all") == list(questions)
    with pytest.raises(ValueError, match="split must be one of"):
        split_questions(questions, corpus, "test")


def test_pipeline_items_hold_what_the_inserter_sees(data) -> None:
    from m2io.evaluation.items import build_pipeline_items

    questions = load_questions(data, SUBSET)
    items = build_pipeline_items(questions, StubRetriever(data=str(data)), ExtractiveGenerator())
    assert items
    for it in items:
        q = next(q for q in questions if q.qid == it.qid)
        assert it.gold_order == tuple(dict.fromkeys(q.image_ids)) and it.gold_order
        assert it.candidates and all(c.chunk_id for c in it.candidates)
        assert all(s.source_chunk_id for s in it.answer.sentences)  # extractive attributes


def test_score_inserter_scores_pipeline_items_like_end_to_end_eval(data) -> None:
    from m2io.evaluation.items import build_inserter_items, build_pipeline_items, score_inserter

    questions = load_questions(data, SUBSET)
    items = build_pipeline_items(questions, StubRetriever(data=str(data)), ExtractiveGenerator())
    m = score_inserter(AllAfterFirstInserter(), items)
    # issue 14: one name per metric, the results files' (was pipeline_precision, …)
    assert set(m) == {"image_precision", "image_recall", "image_f1", "image_ordering"}
    assert score_inserter(NoInserter(), items)["image_recall"] == 0.0
    gold_items = build_inserter_items(questions, load_mramg(data, SUBSET))
    assert "position_accuracy" in score_inserter(AllAfterFirstInserter(), gold_items)
    with pytest.raises(ValueError, match="one kind"):
        score_inserter(NoInserter(), [*items[:1], *gold_items[:1]])
