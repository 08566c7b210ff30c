"""Every model call ends at its deadline whatever the endpoint sends or withholds, and a reply
is capped in size (issue 19, item 2; issue 22, item 2).

The endpoints here are raw loopback sockets that misbehave below HTTP: one drips its status line a
byte every 0.2 s (each byte restarts a socket timeout, so only a deadline armed before connecting
ends the call), one drips its headers, one streams an endless reply. Each test has a hard timeout
so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from builders import retrieval

from m2io.generators.openai import OpenAIGenerator
from m2io.llm.client import ChatClient, LLMError
from m2io.testing.fake_openai import FakeOpenAIServer

MESSAGES = [{"role": "user", "content": "How do I crop?"}]
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"


@contextmanager
def raw_server(behave: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A loopback socket server running ``behave(conn, stop)`` per connection; yields its
    ``/v1`` URL."""
    stop = threading.Event()
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            threading.Thread(target=_run, args=(conn,), daemon=True).start()

    def _run(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)  # the request (small enough to come in one read here)
                behave(conn, stop)
            except OSError:
                pass  # the client gave up: what these endpoints wait for

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
    finally:
        stop.set()
        thread.join(2)
        srv.close()


def drip(raw: bytes, every: float) -> Callable[[socket.socket, threading.Event], None]:
    def behave(conn: socket.socket, stop: threading.Event) -> None:
        for i in range(len(raw)):
            if stop.wait(every):
                return
            conn.sendall(raw[i : i + 1])
        stop.wait(30)

    return behave


def _timed_call(url: str, **kw) -> tuple[float, LLMError]:
    client = ChatClient(base_url=url, model="fake", max_retries=0, **kw)
    t0 = time.monotonic()
    with pytest.raises(LLMError) as err:
        client.chat(MESSAGES)
    return time.monotonic() - t0, err.value


@pytest.mark.timeout(20)
def test_a_dripped_status_line_cannot_outlast_the_deadline() -> None:
    status = b"HTTP/1.1 200 OK\r\n" * 10  # ~34 s at a byte every 0.2 s
    with raw_server(drip(status, 0.2)) as url:
        elapsed, err = _timed_call(url, deadline=2.0, idle_timeout=5.0, first_token_timeout=5.0)
    assert err.timed_out and "deadline of 2 s" in str(err), err
    assert 1.5 < elapsed < 3.5, f"a 2 s deadline ended the call after {elapsed:.1f} s"
    assert "http" not in err.public and "timed out" in err.public


@pytest.mark.timeout(20)
def test_dripped_headers_and_a_silent_body_end_at_the_first_token_timeout() -> None:
    with raw_server(drip(HEAD + b"X-Pad: " + b"a" * 200, 0.1)) as url:
        elapsed, err = _timed_call(url, deadline=30.0, idle_timeout=0.5, first_token_timeout=1.5)
    assert err.timed_out and "no first token within 1.5 s" in str(err), err
    assert 1.0 < elapsed < 3.0, elapsed


def _endless(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(HEAD)
    event = b"data: " + json.dumps({"choices": [{"delta": {"content": "ha " * 300}}]}).encode()
    while not stop.is_set():
        conn.sendall(event + b"\n\n")


@pytest.mark.timeout(20)
def test_an_endless_reply_is_cut_at_the_cap_and_the_answer_falls_back() -> None:
    with raw_server(_endless) as url:
        elapsed, err = _timed_call(url, deadline=15.0, max_reply_chars=50_000)
        assert "cut" in err.public and len(err.partial) == 50_000
        assert elapsed < 10.0, "the cap, not the deadline, must end the call"
        gen = OpenAIGenerator(model="fake", base_url=url, max_retries=0, deadline=15.0)
        gen._chat.max_reply_chars = 20_000  # type: ignore[attr-defined]
        answer = gen.generate("How do I crop?", _retrieval())
    assert answer.sentences, "the extractive fallback must answer"
    assert any("cut" in n and "fell back" in n for n in answer.notes), answer.notes


@pytest.mark.timeout(20)
def test_a_slow_prefill_is_waited_for_but_a_stall_between_tokens_is_not() -> None:
    with FakeOpenAIServer(lambda r: "One. Two. Three.", first_token_s=1.0) as srv:
        client = ChatClient(
            base_url=srv.base_url, model="fake", idle_timeout=0.5, first_token_timeout=3.0
        )
        assert client.chat(MESSAGES).text == "One. Two. Three."
        client = ChatClient(
            base_url=srv.base_url, model="fake", idle_timeout=0.5, first_token_timeout=0.5
        )
        with pytest.raises(LLMError, match="no first token"):
            client.chat(MESSAGES)
    with FakeOpenAIServer(lambda r: "One two three four five six", token_s=1.0) as srv:
        client = ChatClient(
            base_url=srv.base_url, model="fake", idle_timeout=0.4, first_token_timeout=3.0
        )
        with pytest.raises(LLMError, match="no data for 0.4 s") as err:
            client.chat(MESSAGES)
    assert err.value.partial.startswith("One")


def _retrieval():
    return retrieval("q", "The Crop tool removes the edges of an image.", title="Crop")
