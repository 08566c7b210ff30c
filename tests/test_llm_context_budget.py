"""Prompts fit the model (issue 22, item 3): the context size comes from llm.context_tokens or
from the server (llama.cpp's GET /props, Ollama's POST /api/show), the excerpts are trimmed
lowest ranked first to fit it, and the probe cannot hang a call."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from m2io.config import LLM_KEYS, SHARED_LLM_KEYS
from m2io.generators.openai import OpenAIGenerator
from m2io.llm.window import CHARS_PER_TOKEN, estimate_tokens, probe_context
from m2io.testing.fake_openai import FakeOpenAIServer
from m2io.types import Chunk, Retrieval, RetrievedChunk

WORDS = "crop tool edge image layer canvas select drag rectangle enter".split()
# twelve excerpts of ~1,200 characters: ~4,000 tokens in all, far over a 1,024-token window
RETRIEVAL = Retrieval(
    "q",
    tuple(
        RetrievedChunk(
            Chunk(f"c#{k}", "c", f"EXCERPT{k:02d} " + " ".join(WORDS * 12)), 1.0 - k / 100
        )
        for k in range(12)
    ),
    (),
)


def _prompt(srv: FakeOpenAIServer, **kw) -> str:
    gen = OpenAIGenerator(
        model="m", base_url=srv.base_url, max_retries=0, max_tokens=200, deadline=5.0, **kw
    )
    gen.generate("How do I crop?", RETRIEVAL)
    return "".join(m["content"] for m in srv.requests[-1]["messages"])


@pytest.mark.parametrize(
    "server",
    [
        {"props": {"default_generation_settings": {"n_ctx": 1024}}},  # llama.cpp
        {"show": {"parameters": "temperature 0.7\nnum_ctx 1024", "model_info": {}}},  # Ollama
    ],
)
def test_the_prompt_fits_the_window_the_server_reports(server) -> None:
    with FakeOpenAIServer(lambda r: "Use the Crop tool [1].", **server) as srv:
        prompt = _prompt(srv)
    assert estimate_tokens(prompt) + 200 <= 1024, "prompt and reply overflow the window"
    assert "EXCERPT00" in prompt, "the top-ranked excerpt must stay"
    assert "EXCERPT11" not in prompt, "the lowest-ranked excerpt goes first"


def test_the_configured_size_wins_and_no_server_means_the_char_cap() -> None:
    with FakeOpenAIServer(lambda r: "Use the Crop tool [1].") as srv:
        small = _prompt(srv, context_tokens=600)
        assert srv.probes == [], "a configured size needs no probe"
        assert estimate_tokens(small) + 200 <= 600 and "EXCERPT00" in small
        default = _prompt(srv)
        assert len(srv.probes) == 2, "llama.cpp's and Ollama's routes are each asked once"
    # a server that says nothing: the character cap (6,000) is all that trims
    assert 5000 < len(default) < 6000 + 1000
    assert "context_tokens" in LLM_KEYS and "context_tokens" in SHARED_LLM_KEYS
    assert CHARS_PER_TOKEN >= 3


@pytest.mark.timeout(20)
def test_a_silent_server_cannot_stretch_the_probe() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            held.append(conn)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")  # and then nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        t0 = time.monotonic()
        window = probe_context(f"http://127.0.0.1:{srv.getsockname()[1]}/v1", "m", {}, deadline=1.0)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        srv.close()
    assert window is None
    assert elapsed < 3.5, f"two 1 s probes took {elapsed:.1f} s"
