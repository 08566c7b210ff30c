"""The chat-model seam: one protocol, one factory that picks the backend, every consumer on it.

The factory is checked against the scripted OpenAI-compatible server on loopback (a real HTTP
round trip) and against a folder that is not a model (the local backend is chosen, and says it
cannot load it). The consumers — both generators, the LLM inserter, Single-Shot and the judge —
are driven by ``ScriptedChat``, which satisfies :class:`~m2io.llm.base.ChatModel` without
inheriting from anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import CROP_ANSWER, FixedRetriever, ScriptedChat, candidates, retrieval

from m2io.config import load_config
from m2io.factory import build_chat_client, stage_options
from m2io.generators.local import LocalGenerator
from m2io.generators.openai import OpenAIGenerator
from m2io.inserters.llm import LLMInserter
from m2io.llm import ChatModelSpec, LLMError, make_chat_model
from m2io.llm.client import ChatClient
from m2io.llm.models import LazyChatModel, choose_backend
from m2io.metrics.judge import JudgeItem, LLMJudge
from m2io.singleshot import SingleShotPipeline
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import Placement, Slot, Usage

CROP = "The Crop tool removes the borders of an image. Drag a rectangle and press Enter."
CANDS = candidates(("crop-icon", "The crop tool icon"), ("layers", "The layers dialog"))
RETRIEVAL = retrieval("How do I crop?", CROP, cands=CANDS)
ANSWER = CROP_ANSWER


# --- the factory ------------------------------------------------------------------------------


def test_one_rule_picks_the_backend(tmp_path: Path) -> None:
    assert ChatModelSpec(model="m", base_url="http://127.0.0.1:9/v1").backend_for("local") == (
        "openai"
    )
    assert ChatModelSpec(model="smollm2-135m").backend_for("openai") == "local"
    assert ChatModelSpec(model=str(tmp_path)).backend_for("openai") == "local"  # a folder
    assert ChatModelSpec(model="qwen2.5:3b").backend_for("openai") == "openai"
    assert ChatModelSpec(model="Qwen/Qwen2.5-VL-3B").backend_for("local") == "local"  # hub id
    explicit = ChatModelSpec(model="smollm2-135m", backend="openai")
    assert explicit.backend_for("local") == "openai"
    with pytest.raises(ValueError, match="backend must be 'openai' or 'local'"):
        ChatModelSpec(model="m", backend="grpc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="backend"):
        choose_backend("m", None, "grpc", default="openai")


def test_endpoint_spec_talks_to_the_server_over_http() -> None:
    with FakeOpenAIServer(lambda req: "Hello from the endpoint.") as srv:
        spec = ChatModelSpec(model="fake-7b", base_url=srv.base_url, max_retries=0, deadline=10)
        model = make_chat_model(spec, default="local")
        result = model.chat([{"role": "user", "content": "Hi"}], max_tokens=20)
    assert isinstance(model, ChatClient)
    assert result.text == "Hello from the endpoint."
    assert srv.requests[0]["model"] == "fake-7b" and srv.requests[0]["max_tokens"] == 20


def test_local_spec_loads_lazily_and_reports_a_folder_that_is_no_model(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    spec = ChatModelSpec(model=str(tmp_path), device="cpu")
    lazy = make_chat_model(spec, lazy=True)
    assert isinstance(lazy, LazyChatModel) and not lazy.is_loaded
    with pytest.raises(LLMError, match="cannot load local model"):
        lazy.chat([{"role": "user", "content": "Hi"}])
    with pytest.raises(LLMError, match="cannot load local model"):
        make_chat_model(spec)  # not lazy: loads now


def test_pipeline_config_uses_the_same_rule(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/v1"
    cfg = load_config(
        None,
        [f"llm.base_url={url}", "inserter=llm", f"inserter.model={tmp_path}", "generator=openai"],
    )
    assert "base_url" not in stage_options("inserter", cfg)  # a local folder: no endpoint
    assert stage_options("generator", cfg)["base_url"] == url
    with FakeOpenAIServer(lambda req: "single shot") as srv:
        client = build_chat_client({"base_url": srv.base_url, "model": "m", "max_tokens": 9})
        assert client.chat([{"role": "user", "content": "x"}]).text == "single shot"
    with pytest.raises(ValueError, match="llm.backend must be"):
        build_chat_client({"backend": "grpc", "model": "m"})


# --- every consumer takes any ChatModel -------------------------------------------------------


@pytest.mark.parametrize("cls", [OpenAIGenerator, LocalGenerator])
def test_generators_take_any_chat_model(cls: type) -> None:
    chat = ScriptedChat("Use the Crop tool [1]. Press Enter.", finish_reason="length")
    answer = cls(client=chat, max_tokens=50).generate("How do I crop?", RETRIEVAL)
    assert [s.text for s in answer.sentences] == ["Use the Crop tool.", "Press Enter."]
    assert answer.sentences[0].source_chunk_id == "d#0"
    assert answer.usage == Usage(7, 3)
    assert any("truncated at max_tokens (50)" in n for n in answer.notes)
    assert "Crop tool removes the borders" in chat.calls[0]["messages"][1]["content"]
    assert chat.calls[0]["max"] == 50


def test_generator_falls_back_when_the_chat_model_fails() -> None:
    chat = ScriptedChat(LLMError("model on fire", public="the model is on fire"))
    answer = OpenAIGenerator(client=chat).generate("How do I crop?", RETRIEVAL)
    assert answer.sentences  # the extractive answer
    assert any("model is on fire" in n and "fell back" in n for n in answer.notes)


def test_llm_inserter_takes_any_chat_model() -> None:
    chat = ScriptedChat(
        '<think>icon</think><answer>{"<img1>": 1}</answer>',
        LLMError("down", public="the backend is down"),
    )
    ins = LLMInserter(client=chat, fallback="none")
    placement = ins.insert(ANSWER, CANDS)
    assert placement.format_ok and placement.slots == (Slot("crop-icon", 1),)
    assert placement.usage == Usage(7, 3)
    assert "[2] Drag a box." in chat.calls[0]["messages"][1]["content"]
    failed = ins.insert(ANSWER, CANDS)
    assert failed == Placement(format_ok=False, notes=failed.notes)  # nothing placed
    assert any("backend failed (the backend is down)" in n for n in failed.notes)


def test_single_shot_takes_any_chat_model() -> None:
    chat = ScriptedChat("Pick the Crop tool [1]. <img1> Drag a box.")
    answer = SingleShotPipeline(FixedRetriever(RETRIEVAL), chat, max_tokens=77).run(
        "How do I crop?"
    )
    assert [s.image_id for s in answer.images] == ["crop-icon"]
    assert "Pick the Crop tool." in answer.text
    assert chat.calls[0]["max"] == 77
    assert "<img2> caption: The layers dialog" in chat.calls[0]["messages"][1]["content"]


def test_judge_takes_any_chat_model() -> None:
    chat = ScriptedChat("not json", json.dumps({"overall_quality": 4}))
    result = LLMJudge(chat).score([JudgeItem("q", "An answer.", "The gold answer.")])
    assert result.per_item == [{"overall_quality": 80.0}]
    assert result.parse_failures == 1 and result.usage == Usage(14, 6)
    assert all(call["temperature"] == 0.0 for call in chat.calls)
    with pytest.raises(LLMError, match="judge down"):
        LLMJudge(ScriptedChat(LLMError("judge down"))).score([JudgeItem("q", "a", "g")])
