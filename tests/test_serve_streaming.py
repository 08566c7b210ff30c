"""Tokens stream end to end (issue 22, items 1 and 2): with an LLM generator on an
OpenAI-compatible server, /v1/answer/stream and the chat stream pass the model's text on as it
comes, then the images; keep-alives flow while the model reads its prompt; `m2io ask` prints as
it comes on a terminal. The model is the scripted fake server, paced like a slow CPU server.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from test_serve_api import QUESTION, demo_copy  # noqa: E402
from test_serve_uvicorn import LiveServer  # noqa: E402

import m2io.serve.streaming as streaming  # noqa: E402
from m2io.cli.ask_stream import ask_streaming, can_stream  # noqa: E402
from m2io.generators.openai import OpenAIGenerator  # noqa: E402
from m2io.index import Index  # noqa: E402
from m2io.inserters.anchored import AnchoredInserter  # noqa: E402
from m2io.pipeline import Pipeline  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402
from m2io.serve import create_app  # noqa: E402
from m2io.testing.fake_openai import FakeOpenAIServer  # noqa: E402
from m2io.testing.hash_embedder import HashEmbedder  # noqa: E402

REPLY = (
    "Edge detection finds the borders of objects [1]. Open Filters then Edge-Detect and "
    "choose Sobel [1]. The result marks every edge in white on black."
)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return demo_copy(tmp_path_factory.mktemp("serve-stream"))[1]


def llm_pipeline(index_dir, url: str, **kw) -> Pipeline:
    emb = HashEmbedder()
    gen = OpenAIGenerator(model="fake", base_url=url, max_retries=0, deadline=20.0, **kw)
    return Pipeline(
        HybridRetriever(Index.open(index_dir, embedder=emb)), gen, AnchoredInserter(embedder=emb)
    )


def timed_lines(url: str, path: str, body: dict) -> Iterator[tuple[float, str]]:
    t0 = time.monotonic()
    with httpx.stream("POST", url + path, json=body, timeout=30.0) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line:
                yield time.monotonic() - t0, line


@pytest.mark.timeout(60)
def test_answer_stream_sends_tokens_as_they_come_then_images_then_done(index, monkeypatch):
    monkeypatch.setattr(streaming, "KEEPALIVE_S", 0.3)
    with FakeOpenAIServer(lambda r: REPLY, first_token_s=1.2, token_s=0.25) as llm:
        with LiveServer(create_app(llm_pipeline(index, llm.base_url), index_dir=index)) as srv:
            lines = list(timed_lines(srv.url, "/v1/answer/stream", {"question": QUESTION}))
    events = [(t, ln.removeprefix("event: ")) for t, ln in lines if ln.startswith("event: ")]
    kinds = [k for _, k in events]
    deltas = [t for t, k in events if k == "delta"]
    assert len(deltas) >= 5, kinds
    done_t = next(t for t, k in events if k == "done")
    assert deltas[0] < done_t - 1.0, "the first tokens must arrive long before the answer is done"
    assert kinds.index("text") > kinds.index("delta") and kinds[-1] == "done"
    assert set(kinds[kinds.index("text") + 1 : -1]) <= {"image"}
    keepalives = [t for t, ln in lines if ln.startswith(": keep-alive")]
    assert keepalives and keepalives[0] < deltas[0], "nothing kept the connection alive"
    data = [json.loads(ln[6:]) for _, ln in lines if ln.startswith("data: ")]
    streamed = "".join(d["text"] for d in data if set(d) == {"text"})
    assert "Sobel" in streamed and "[1]" not in streamed, streamed


@pytest.mark.timeout(60)
def test_chat_stream_sends_content_as_it_comes_then_images_as_markdown(index, monkeypatch):
    monkeypatch.setattr(streaming, "KEEPALIVE_S", 0.3)
    body = {"model": "m2io", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with FakeOpenAIServer(lambda r: REPLY, first_token_s=1.2, token_s=0.25) as llm:
        with LiveServer(create_app(llm_pipeline(index, llm.base_url), index_dir=index)) as srv:
            lines = list(timed_lines(srv.url, "/v1/chat/completions", body))
    chunks = [(t, json.loads(ln[6:])) for t, ln in lines if ln.startswith("data: {")]
    content = [(t, c["choices"][0]["delta"].get("content", "")) for t, c in chunks]
    content = [(t, c) for t, c in content if c]
    text = "".join(c for _, c in content)
    assert text.startswith("Edge detection finds the borders of objects.")
    assert "[1]" not in text.split("Sources:")[0]
    assert "![" in text and "/v1/images/" in text and "Sources:" in text
    first = content[0][0]
    image_t = next(t for t, c in content if "![" in c)
    assert first < image_t - 1.0, "the text must stream before the images come"
    assert any(ln.startswith(": keep-alive") for _, ln in lines)
    assert lines[-1][1] == "data: [DONE]"


@pytest.mark.timeout(60)
def test_a_model_that_stalls_midway_falls_back_and_the_chat_stream_says_so(index):
    body = {"model": "m2io", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
    with FakeOpenAIServer(lambda r: REPLY, token_s=2.0) as llm:
        pipe = llm_pipeline(index, llm.base_url, idle_timeout=0.5)
        with LiveServer(create_app(pipe, index_dir=index)) as srv:
            lines = list(timed_lines(srv.url, "/v1/chat/completions", body))
        model_url = llm.base_url
    text = "".join(
        json.loads(ln[6:])["choices"][0]["delta"].get("content", "")
        for _, ln in lines
        if ln.startswith("data: {")
    )
    assert text.startswith("Edge detection")  # the first tokens went out
    assert "\n\n---\n\n" in text and "fell back" in text, text
    assert model_url not in text and "timed out: no data for 0.5 s" in text, text


class _Tty(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, str]] = []

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.writes.append((time.monotonic(), s))
        return super().write(s)


@pytest.mark.timeout(60)
def test_ask_prints_text_as_it_comes_on_a_terminal_only(index):
    with FakeOpenAIServer(lambda r: REPLY, token_s=0.2) as llm:
        pipe = llm_pipeline(index, llm.base_url)
        assert not can_stream(pipe, io.StringIO()), "piped output must not stream"
        out = _Tty()
        assert can_stream(pipe, out)
        answer = ask_streaming(pipe, QUESTION, out)
    printed = out.getvalue()
    assert printed.startswith("Edge detection finds the borders of objects.")
    assert len(out.writes) >= 5 and out.writes[-1][0] - out.writes[0][0] > 0.6
    assert answer.images and "Sources:" in printed
