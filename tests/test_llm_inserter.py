"""The LLM image inserter: prompt, parsing through the shared protocol parser, fallbacks, backends.

The openai backend is exercised against the scripted FakeOpenAIServer on loopback; the local
backend against a tiny random Llama saved to a temp folder (see test_local_llm.py).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from builders import candidate, candidates, text_answer

from m2io.inserters.base import INSERTERS
from m2io.inserters.llm import LLMInserter
from m2io.inserters.prompt import build_inserter_messages, candidate_tags, to_openai_content
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import Candidate, ImageRef, Placement, Slot, TextAnswer

ANSWER = text_answer(
    "How do I crop an image?",
    "Select the crop tool from the toolbox.",
    "Drag a rectangle over the part to keep.",
    "Press Enter to crop.",
)
CANDIDATES = (
    *candidates(("tool-icon", "The crop tool icon"), ("layers", "The layers dialog")),
    candidate("crop-box", "A crop rectangle on a photo", context_before="Drag"),
)


class FixedInserter:
    """A fallback that always places the first candidate after sentence 1 (no model needed)."""

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        return Placement(slots=(Slot(candidates[0].image_id, 1),), notes=("fixed fallback",))


@pytest.fixture
def fixed_fallback(monkeypatch: pytest.MonkeyPatch) -> str:
    INSERTERS.register("fixed-test")(FixedInserter)
    yield "fixed-test"
    INSERTERS._entries.pop("fixed-test", None)


def _inserter(srv: FakeOpenAIServer, **kw) -> LLMInserter:
    return LLMInserter(model="fake-vl", base_url=srv.base_url, max_retries=0, **kw)


def test_registered_and_backend_chosen_by_base_url() -> None:
    assert INSERTERS.get("llm") is LLMInserter
    assert LLMInserter(model="m", base_url="http://127.0.0.1:9/v1").backend == "openai"
    assert LLMInserter(model="some/folder").backend == "local"  # loads lazily
    with pytest.raises(ValueError, match="model="):
        LLMInserter()
    with pytest.raises(ValueError, match="backend"):
        LLMInserter(model="m", backend="grpc")  # type: ignore[arg-type]


def test_prompt_numbers_sentences_and_tags_candidates() -> None:
    msgs = build_inserter_messages(
        ANSWER.question,
        [s.text for s in ANSWER.sentences],
        [(c.image.caption, c.context) for c in CANDIDATES],
    )
    user = msgs[1]["content"]
    assert msgs[0]["role"] == "system" and "<think>" in msgs[0]["content"]
    assert "[1] Select the crop tool from the toolbox." in user
    assert "[3] Press Enter to crop." in user
    assert "<img2> caption: The layers dialog" in user
    assert "<img3> caption: A crop rectangle on a photo | context: Drag" in user
    assert candidate_tags(3) == ["<img1>", "<img2>", "<img3>"]


def test_good_output_becomes_placement_in_reading_order() -> None:
    reply = '<think>icon fits step 1, box fits 2</think><answer>{"<img3>": 2, "<img1>": 1}</answer>'
    with FakeOpenAIServer(lambda req: reply) as srv:
        placement = _inserter(srv).insert(ANSWER, CANDIDATES)
        request = srv.requests[0]
    assert placement.format_ok and placement.notes == ()
    assert placement.slots == (Slot("tool-icon", 1), Slot("crop-box", 2))
    assert placement.raw == reply
    assert placement.usage.completion_tokens > 0 and placement.usage.prompt_tokens > 0
    assert request["model"] == "fake-vl" and request["temperature"] == 0.0
    assert "[2] Drag a rectangle" in request["messages"][1]["content"]


def test_near_miss_keeps_repaired_placement_but_reports_format_error() -> None:
    reply = "<think>ok</think><answer>```json\n{'img2': 3}\n```</answer>"
    with FakeOpenAIServer(lambda req: reply) as srv:
        placement = _inserter(srv).insert(ANSWER, CANDIDATES)
    assert not placement.format_ok
    assert placement.slots == (Slot("layers", 3),)
    assert any("code fence" in n for n in placement.notes)
    assert any("near-miss" in n for n in placement.notes)


def test_near_miss_falls_back_when_repair_is_off(fixed_fallback: str) -> None:
    reply = "<think>ok</think><answer>{'img2': 3}</answer>"
    with FakeOpenAIServer(lambda req: reply) as srv:
        placement = _inserter(srv, repair=False, fallback=fixed_fallback).insert(ANSWER, CANDIDATES)
    assert not placement.format_ok
    assert placement.slots == (Slot("tool-icon", 1),)
    assert any("fell back to the fixed-test inserter" in n for n in placement.notes)


def test_garbage_falls_back_and_keeps_raw_output(fixed_fallback: str) -> None:
    reply = "Sure! Images are nice. I would put them somewhere."
    with FakeOpenAIServer(lambda req: reply) as srv:
        placement = _inserter(srv, fallback=fixed_fallback).insert(ANSWER, CANDIDATES)
    assert not placement.format_ok
    assert placement.slots == (Slot("tool-icon", 1),)  # the fallback's decision
    assert placement.raw == reply
    assert any("did not follow the protocol" in n for n in placement.notes)
    assert "fixed fallback" in placement.notes


def test_server_down_falls_back_to_rule_inserter(embedder) -> None:  # noqa: ANN001
    from m2io.inserters.rule import RuleInserter

    with FakeOpenAIServer(lambda req: "") as srv:
        url = srv.base_url
    ins = LLMInserter(model="fake", base_url=url, max_retries=0, timeout=2.0)
    ins._fallback = RuleInserter(embedder=embedder, threshold=0.3)
    placement = ins.insert(ANSWER, CANDIDATES)
    assert not placement.format_ok
    assert placement.raw is None
    assert any("backend failed" in n and "rule inserter" in n for n in placement.notes)
    assert "tool-icon" in placement.as_dict()  # the rule baseline still places images


def test_with_images_sends_data_uri_parts(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "icon.png"
    Image.new("RGB", (8, 8), (200, 10, 10)).save(png)
    cands = (Candidate(ImageRef("icon", path=str(png), caption="icon")), CANDIDATES[1])
    with FakeOpenAIServer(lambda req: '<think>x</think><answer>{"<img1>": 1}</answer>') as srv:
        placement = _inserter(srv, with_images=True).insert(ANSWER, cands)
        parts = srv.requests[0]["messages"][1]["content"]
    assert placement.slots == (Slot("icon", 1),)
    assert parts[0]["type"] == "text"
    assert {"type": "text", "text": "<img1>:"} in parts
    urls = [p["image_url"]["url"] for p in parts if p["type"] == "image_url"]
    assert len(urls) == 1  # the second candidate has no file
    assert base64.b64decode(urls[0].split(",", 1)[1])[:4] == b"\x89PNG"
    json.dumps(srv.requests[0])  # wire-safe


def test_to_openai_content_leaves_text_messages_alone() -> None:
    msgs = [{"role": "user", "content": "plain"}]
    assert to_openai_content(msgs) == msgs


def test_no_candidates_or_sentences_skip_the_call() -> None:
    ins = LLMInserter(model="m", base_url="http://127.0.0.1:9/v1", max_retries=0)
    assert ins.insert(ANSWER, ()) == Placement()
    assert ins.insert(text_answer("q"), CANDIDATES) == Placement()


def test_duplicate_image_offered_twice_is_placed_once() -> None:
    cands = (CANDIDATES[0], CANDIDATES[0])
    reply = '<think>x</think><answer>{"<img1>": 1, "<img2>": 2}</answer>'
    with FakeOpenAIServer(lambda req: reply) as srv:
        placement = _inserter(srv).insert(ANSWER, cands)
    assert placement.slots == (Slot("tool-icon", 1),)


def test_local_backend_with_tiny_model_falls_back_on_random_output(
    tmp_path: Path, fixed_fallback: str
) -> None:
    from m2io.testing.tiny_models import build_tiny_llama

    model = build_tiny_llama(tmp_path / "tiny")
    ins = INSERTERS.create(
        "llm", model=str(model), fallback=fixed_fallback, max_tokens=24, device="cpu"
    )
    assert ins.backend == "local"
    placement = ins.insert(ANSWER, CANDIDATES)
    # random weights do not write the protocol: the fallback places, the raw text is kept
    assert not placement.format_ok
    assert placement.slots == (Slot("tool-icon", 1),)
    assert placement.raw is not None
    assert 0 < placement.usage.completion_tokens <= 24
