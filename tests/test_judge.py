"""LLM-judge on MRAMG-Bench's scales, against the scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from builders import ScriptedChat

from m2io.llm.client import ChatClient, ChatResult, LLMError
from m2io.metrics.judge import JudgeItem, LLMJudge, build_messages, parse_judgement
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import ImageRef, ImageSegment, MultimodalAnswer, TextSegment, Usage

ITEM = JudgeItem(
    question="How do I crop an image?",
    answer="Choose the Crop tool.\n\n[image 12: The Crop tool icon]\n\nDrag a rectangle.",
    gold_answer="Select the Crop tool. <PIC> Drag over the area to keep.",
    images=(ImageRef("12", caption="The Crop tool icon"),),
)
TEXT_ONLY = JudgeItem("What is GIMP?", "An image editor.", "GIMP is an image editor.")

GOOD = {
    "image_relevance": 5,
    "image_effectiveness": 4,
    "image_position": {"12": 1},
    "overall_quality": 3,
}


def client_for(server: FakeOpenAIServer) -> ChatClient:
    return ChatClient(base_url=server.base_url, model="judge", max_retries=0, timeout=10)


def test_scores_are_reported_out_of_100() -> None:
    with FakeOpenAIServer(lambda req: json.dumps(GOOD)) as server:
        result = LLMJudge(client_for(server)).score([ITEM])
    assert result.per_item == [
        {
            "image_relevance": 100.0,
            "image_effectiveness": 80.0,
            "overall_quality": 60.0,
            "image_position": 100.0,
        }
    ]
    assert result.aggregate["image_effectiveness"] == 80.0
    assert result.parse_failures == 0 and result.unscored == ()
    assert result.usage.prompt_tokens > 0


def test_request_is_temperature_zero_and_shows_question_answer_gold() -> None:
    with FakeOpenAIServer(lambda req: json.dumps(GOOD)) as server:
        LLMJudge(client_for(server)).score([ITEM])
    request = server.requests[0]
    assert request["temperature"] == 0.0
    user = request["messages"][-1]["content"]
    assert ITEM.question in user
    assert "[image 12: The Crop tool icon]" in user
    assert "Select the Crop tool. [image] Drag" in user  # <PIC> shown as [image]
    assert '"12": <0 or 1>' in user


def test_image_position_is_the_share_of_well_placed_images() -> None:
    item = JudgeItem("q", "a [image 1] b [image 2]", "g", (ImageRef("1"), ImageRef("2")))
    reply = {**GOOD, "image_position": {"1": 1, "2": 0}}
    assert parse_judgement(json.dumps(reply), item)["image_position"] == 50.0


def test_reply_in_a_code_fence_with_prose_is_read() -> None:
    reply = "Here you go:\n```json\n" + json.dumps(GOOD) + "\n```"
    assert parse_judgement(reply, ITEM)["overall_quality"] == 60.0


def test_unreadable_reply_is_re_asked_once_and_counted() -> None:
    replies = iter(["I think it is pretty good!", json.dumps(GOOD)])
    with FakeOpenAIServer(lambda req: next(replies)) as server:
        result = LLMJudge(client_for(server)).score([ITEM])
    assert result.parse_failures == 1 and result.unscored == ()
    assert result.aggregate["overall_quality"] == 60.0
    # The re-ask carries the bad reply and says what was wrong.
    retry = server.requests[1]["messages"]
    assert retry[-2] == {"role": "assistant", "content": "I think it is pretty good!"}
    assert "could not be read" in retry[-1]["content"]


def test_out_of_range_score_counts_as_unreadable() -> None:
    bad = {**GOOD, "overall_quality": 7}
    with FakeOpenAIServer(lambda req: json.dumps(bad)) as server:
        result = LLMJudge(client_for(server)).score([ITEM, TEXT_ONLY])
    assert result.parse_failures == 4  # two replies per item
    assert result.unscored == (0, 1)
    assert result.per_item == [{}, {}]
    assert math.isnan(result.aggregate["overall_quality"])


def test_missing_image_position_mark_counts_as_unreadable() -> None:
    reply = {**GOOD, "image_position": {}}
    with FakeOpenAIServer(lambda req: json.dumps(reply)) as server:
        assert LLMJudge(client_for(server)).score([ITEM]).unscored == (0,)


def test_answer_without_images_gets_only_overall_quality() -> None:
    reply = {
        "image_relevance": None,
        "image_effectiveness": None,
        "image_position": {},
        "overall_quality": 5,
    }
    with FakeOpenAIServer(lambda req: json.dumps(reply)) as server:
        result = LLMJudge(client_for(server)).score([TEXT_ONLY, ITEM])
    assert result.per_item[0] == {"overall_quality": 100.0}
    # Image aggregates average only over answers with images; ITEM's reply lacked them → unscored.
    assert result.unscored == (1,)
    assert math.isnan(result.aggregate["image_relevance"])
    assert "no image" in build_messages(TEXT_ONLY)[-1]["content"]


def test_any_object_with_chat_works_and_concurrency_keeps_order() -> None:
    def answer(messages: list[dict[str, Any]]) -> str:
        quality = 5 if "first" in messages[-1]["content"] else 1
        return json.dumps({"overall_quality": quality})

    items = [JudgeItem("first", "a", "g"), JudgeItem("second", "b", "g")]
    result = LLMJudge(ScriptedChat(answer=answer, usage=Usage(10, 2)), workers=2).score(items)
    assert [p["overall_quality"] for p in result.per_item] == [100.0, 20.0]
    assert result.aggregate["overall_quality"] == 60.0
    assert result.usage == Usage(20, 4)


def test_endpoint_down_for_every_item_raises() -> None:
    class Down:
        def chat(self, messages: list[dict[str, Any]], **kw: Any) -> ChatResult:
            raise LLMError("connection refused")

    with pytest.raises(LLMError):
        LLMJudge(Down()).score([ITEM])


def test_one_failed_request_leaves_that_item_unscored() -> None:
    class Flaky:
        calls = 0

        def chat(self, messages: list[dict[str, Any]], **kw: Any) -> ChatResult:
            Flaky.calls += 1
            if Flaky.calls == 1:
                raise LLMError("timeout")
            return ChatResult(json.dumps({"overall_quality": 4}), Usage(), "m")

    result = LLMJudge(Flaky()).score([TEXT_ONLY, TEXT_ONLY])
    assert result.unscored == (0,) and result.aggregate["overall_quality"] == 80.0


def test_judge_item_from_pipeline_answer() -> None:
    answer = MultimodalAnswer(
        question="How do I crop?",
        segments=(
            TextSegment("Choose the Crop tool.", 1),
            ImageSegment("12", 1, caption="The Crop\ntool icon"),
            TextSegment("Drag a rectangle.", 2),
        ),
    )
    item = JudgeItem.from_answer(answer, gold_answer="gold")
    assert (
        item.answer
        == "Choose the Crop tool.\n\n[image 12: The Crop tool icon]\n\nDrag a rectangle."
    )
    assert item.images == (ImageRef("12", caption="The Crop\ntool icon"),)
    assert item.question == "How do I crop?"
