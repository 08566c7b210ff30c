"""One walk of the stages (issue 23 item 2): ``Pipeline.walk`` is what ``run``, Single-Shot's
fallback, ``m2io ask`` on a terminal and every server route take; the server calls no stage and
times nothing itself, and a backend a request chooses is built from the served recipe."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from builders import EDGES_CANDS, FixedRetriever, retrieval, text_answer

from m2io.config import PipelineConfig, StageConfig
from m2io.generators.extractive import ExtractiveGenerator
from m2io.inserters.rule import RuleInserter
from m2io.pipeline import Pipeline
from m2io.types import MultimodalAnswer, Placement, Retrieval, TextAnswer

pytest.importorskip("fastapi")

QUESTION = "How can I find the edges of objects in an image?"
FOUND = retrieval(
    QUESTION,
    "Edge detection finds the borders of objects. The Sobel filter shows them.",
    "A histogram shows how many pixels have each brightness.",
    cands=EDGES_CANDS,
)


def StubRetriever() -> FixedRetriever:  # noqa: N802 - reads as the class it stands for
    return FixedRetriever(FOUND)


SERVE = Path(__file__).resolve().parents[1] / "src" / "m2io" / "serve"


class Counting:
    """A retriever that records the ``top_k`` of each call."""

    def __init__(self, inner) -> None:
        self.inner, self.asked = inner, []

    def retrieve(self, query: str, top_k: int | None = None) -> Retrieval:
        self.asked.append(top_k)
        return self.inner.retrieve(query, top_k=top_k)


def test_walk_yields_each_stage_in_order_and_run_is_its_last_step():
    retriever = Counting(StubRetriever())
    pipe = Pipeline(retriever, ExtractiveGenerator(), RuleInserter())
    steps = list(pipe.walk(QUESTION, top_k=2))
    assert [s.stage for s in steps] == ["retrieve", "generate", "insert", "merge"]
    assert isinstance(steps[0].value, Retrieval) and isinstance(steps[1].value, TextAnswer)
    assert isinstance(steps[2].value, Placement) and isinstance(steps[3].value, MultimodalAnswer)
    timings = steps[3].value.timings_ms
    assert [round(s.ms, 6) for s in steps] == [
        round(timings[k], 6) for k in ("retrieve", "generate", "insert", "merge")
    ]
    assert retriever.asked == [2]
    answer = pipe.run(QUESTION, top_k=3)
    assert retriever.asked == [2, 3] and set(answer.timings_ms) >= {"retrieve", "total"}


def test_walk_from_a_given_retrieval_skips_retrieval():
    retriever = Counting(StubRetriever())
    pipe = Pipeline(retriever, ExtractiveGenerator(), RuleInserter())
    made = StubRetriever().retrieve(QUESTION)
    steps = list(pipe.walk(QUESTION, retrieval=made))
    assert [s.stage for s in steps] == ["generate", "insert", "merge"]
    assert retriever.asked == []


def test_walk_hands_streamed_text_to_on_text():
    class Streaming:
        def generate(self, question, retrieval):  # pragma: no cover - not taken
            raise AssertionError("the streaming path must be taken")

        def generate_streaming(self, question, retrieval, on_text):
            for piece in ("Edges are ", "found."):
                on_text(piece)
            return text_answer(question, "Edges are found.")

    pieces: list[str] = []
    pipe = Pipeline(StubRetriever(), Streaming(), RuleInserter())
    steps = list(pipe.walk(QUESTION, on_text=pieces.append))
    assert pieces == ["Edges are ", "found."]
    assert steps[-1].value.text == "Edges are found."


def _calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    return [
        f"{path.name}:{node.lineno}: .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr
        in {"retrieve", "generate", "generate_streaming", "insert", "perf_counter"}
    ]


def test_the_server_calls_no_stage_and_times_nothing_itself():
    assert [c for p in sorted(SERVE.glob("*.py")) for c in _calls(p)] == []


def test_a_chosen_backend_is_built_from_the_served_recipe(tmp_path, monkeypatch):
    """``{"generator": "openai"}`` on a server that allows it reaches the endpoint the served
    recipe's ``llm`` section names (the second factory built it with defaults, no endpoint)."""
    from fastapi.testclient import TestClient

    from m2io.serve import create_app
    from m2io.testing.fake_openai import FakeOpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    pipe = Pipeline(StubRetriever(), ExtractiveGenerator(), RuleInserter())
    with FakeOpenAIServer(lambda body: "Edges are where brightness changes.") as fake:
        recipe = PipelineConfig(
            index=str(tmp_path / "none"),
            generator=StageConfig("extractive"),
            inserter=StageConfig("rule"),
            llm={"base_url": fake.base_url, "model": "tiny", "context_tokens": 4096},
        )
        app = create_app(pipe, recipe=recipe, backends={"generator": ["openai"]})
        reply = TestClient(app).post(
            "/v1/answer", json={"question": QUESTION, "generator": "openai"}
        )
        assert reply.status_code == 200, reply.text
        assert len(fake.requests) == 1 and fake.requests[0]["model"] == "tiny"
    assert "brightness changes" in " ".join(
        s["text"] for s in reply.json()["segments"] if s["type"] == "text"
    )
