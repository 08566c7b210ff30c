"""LLM answers keep their [n] citations, never show a broken one, refuse an empty reply, and
tell clients only what is safe (issue 22, items 4 and 5)."""

from __future__ import annotations

import pytest
from builders import dead_url

from m2io.generators.openai import OpenAIGenerator
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import Chunk, Retrieval, RetrievedChunk, Source

CROP_SRC = Source("crop", "Crop", "crop.html")
LAYER_SRC = Source("layers", "Layers", "layers.html")
RETRIEVAL = Retrieval(
    "q",
    (
        RetrievedChunk(
            Chunk(
                "crop#0", "crop", "The Crop tool removes the edges of an image.", source=CROP_SRC
            ),
            0.9,
        ),
        RetrievedChunk(
            Chunk(
                "layers#0", "layers", "Layers stack images on top of each other.", source=LAYER_SRC
            ),
            0.5,
        ),
    ),
    (),
)


def _answer(reply: str, **kw):
    with FakeOpenAIServer(lambda r: reply, **kw) as srv:
        gen = OpenAIGenerator(model="fake", base_url=srv.base_url, max_retries=0, deadline=5.0)
        return gen.generate("How do I crop?", RETRIEVAL), srv


def test_citations_in_several_forms_become_sources_and_never_show() -> None:
    answer, srv = _answer(
        "Pick the Crop tool [Excerpt 1]. Stack them as layers [^2]. Press Enter [7]."
    )
    assert (
        "[n]" in srv.requests[0]["messages"][0]["content"]
        or "[2]" in (srv.requests[0]["messages"][0]["content"])
    )
    texts = [s.text for s in answer.sentences]
    assert texts == ["Pick the Crop tool.", "Stack them as layers.", "Press Enter."]
    assert not any("[" in t for t in texts), "a citation marker leaked into the answer"
    assert [s.source for s in answer.sentences][:2] == [CROP_SRC, LAYER_SRC]


def test_an_uncited_sentence_is_credited_to_the_excerpt_it_repeats() -> None:
    answer, _ = _answer("The Crop tool removes the edges of an image. Good luck.")
    assert answer.sentences[0].source == CROP_SRC
    assert answer.sentences[1].source is None, "a sentence sharing nothing gets no source"


@pytest.mark.parametrize(
    "reply",
    ["The answer is:", "Sure! Here is the answer:", "To crop an image, follow these steps:", "[1]"],
)
def test_a_reply_without_answer_content_falls_back_and_says_so(reply) -> None:
    answer, _ = _answer(reply)
    assert answer.sentences and "Crop tool" in answer.text, "the extractive answer must be served"
    assert any("no answer" in n and "fell back" in n for n in answer.notes), answer.notes


def test_clients_see_a_short_note_and_the_log_has_the_detail(caplog) -> None:
    url = dead_url()
    gen = OpenAIGenerator(model="fake", base_url=url, max_retries=0, deadline=5.0)
    with caplog.at_level("WARNING"):
        answer = gen.generate("How do I crop?", RETRIEVAL)
    assert answer.sentences
    assert not any("127.0.0.1" in n or "http" in n or "Error" in n for n in answer.notes), (
        answer.notes
    )
    assert any("unreachable" in n and "fell back" in n for n in answer.notes), answer.notes
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records), "the operator needs the URL"


def test_an_overflow_is_reported_with_the_servers_own_message() -> None:
    msg = "the request exceeds the available context size, try increasing it"
    answer, _ = _answer("unused", status=400, error_message=msg)
    assert any(msg in n and "HTTP 400" in n for n in answer.notes), answer.notes
    assert not any("not a chat completion" in n for n in answer.notes)
