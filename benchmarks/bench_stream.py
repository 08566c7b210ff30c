"""Time to first text and total per route of ``m2io serve``, LLM-backed and offline, one run.

Indexes the demo corpus with the default (offline) embedder, serves it on loopback (real
uvicorn, in this process) twice: with the default offline pipeline, and with the OpenAI
generator on an OpenAI-compatible server. For every route that answers a question —
``POST /v1/answer``, ``POST /v1/answer/stream``, ``POST /v1/chat/completions`` with
``stream: true`` — it records the time to the first answer text a client sees (a ``delta`` or,
offline, the ``text`` event; the first non-empty content chunk; the whole body for
``/v1/answer``), the total, the keep-alives received and the longest silence on the wire.

The model server is ``--llm-url`` when given (a real one: llama.cpp, Ollama, vLLM), else the
scripted fake server paced like a CPU llama.cpp server: the first token after the prompt's
estimated tokens at ``--prefill-tps`` (47 tokens/s: 1,450 tokens in 31 s, measured with SmolLM2
on the 2-core machine, issue 22), then three words (about four tokens) every
``4 / --decode-tps`` seconds. Figures against the fake server measure m2io's streaming path, not
a model.

    .venv/bin/python benchmarks/bench_stream.py --out results/bench_stream.json \
        [--llm-url http://127.0.0.1:8080/v1 --model smollm2 [--context-tokens 2048]] \
        [--prefill-tps 47 --decode-tps 12]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from load_serve import machine

from m2io.corpus import load_corpus
from m2io.demo import corpus_path
from m2io.factory import build_pipeline
from m2io.generators.extractive import ExtractiveGenerator
from m2io.index import build_index
from m2io.llm.window import estimate_tokens
from m2io.serve import create_app
from m2io.testing.fake_openai import FakeOpenAIServer

QUESTION = "How can I find the edges of objects in an image?"
REPLY = (
    "To find the edges of objects, use an edge detector such as Canny or Sobel [1]. Canny gives "
    "thin, closed outlines: raise sigma until the texture disappears but the outlines stay "
    "closed [1]. Sobel gives the strength of each edge rather than a yes or no answer, which "
    "suits a watershed segmentation [2]. Denoise the image first if it is noisy, because every "
    "detector also responds to noise [1]. Steps: 1. Open the image. 2. Choose the detector. "
    "3. Compare the result with the original [2]."
)
ROUTES = ("/v1/answer", "/v1/answer/stream", "/v1/chat/completions")


class Live:
    """``app`` on uvicorn in a thread, on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> Live:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def first_text(route: str, line: str, event: str) -> bool:
    """Whether ``line`` (under SSE event ``event``) carries answer text a client shows."""
    if route == "/v1/answer/stream":
        return line.startswith("data:") and event in ("delta", "text")
    if line.startswith("data: {"):
        delta = json.loads(line[6:])["choices"][0].get("delta", {})
        return bool(delta.get("content"))
    return False


def time_route(base: str, route: str) -> dict[str, Any]:
    body: dict[str, Any] = {"question": QUESTION}
    if route == "/v1/chat/completions":
        body = {
            "model": "m2io",
            "stream": True,
            "messages": [{"role": "user", "content": QUESTION}],
        }
    t0 = time.monotonic()
    ttft = None
    keepalives = 0
    last = t0
    gap = 0.0
    event = ""
    kept: list[str] = []  # /v1/answer's body, for its notes (did the model answer?)
    with httpx.stream("POST", base + route, json=body, timeout=600.0) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if route == "/v1/answer":
                kept.append(line)
            now = time.monotonic()
            gap, last = max(gap, now - last), now
            if line.startswith(": keep-alive"):
                keepalives += 1
            elif line.startswith("event: "):
                event = line[7:]
            elif ttft is None and route != "/v1/answer" and first_text(route, line, event):
                ttft = now - t0
    total = time.monotonic() - t0
    notes = json.loads("".join(kept)).get("notes", []) if kept else None
    return {
        "route": route,
        **({"notes": notes} if notes is not None else {}),
        "first_text_s": round(ttft if ttft is not None else total, 2),
        "total_s": round(total, 2),
        "keepalives": keepalives,
        "longest_silence_s": round(max(gap, time.monotonic() - last), 2),
    }


def run_mode(
    index: Path, generator: dict[str, Any], routes: tuple[str, ...] = ROUTES
) -> list[dict[str, Any]]:
    pipe = build_pipeline({"index": str(index), "generator": generator})
    retrieval = pipe.retriever.retrieve(QUESTION)  # warm: models loaded, caches filled
    pipe.inserter.insert(ExtractiveGenerator().generate(QUESTION, retrieval), retrieval.candidates)
    with Live(create_app(pipe, index_dir=index)) as live:
        return [time_route(live.url, route) for route in routes]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="results/bench_stream.json")
    p.add_argument("--llm-url", help="a real OpenAI-compatible server (default: the fake)")
    p.add_argument("--model", default="fake")
    p.add_argument("--prefill-tps", type=float, default=47.0)
    p.add_argument("--decode-tps", type=float, default=12.0)
    p.add_argument(
        "--route",
        action="append",
        choices=ROUTES,
        help="time only this route (repeatable; a real server reuses the previous prompt's "
        "prefill, so a cold first-token time needs a fresh server per route)",
    )
    p.add_argument(
        "--context-tokens",
        type=int,
        help="the real server's context size, when it does not report it (llm.context_tokens)",
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(tmp) / "index"
        loaded = load_corpus(corpus_path(), format="folder", exclude=("LICENSE*",))
        build_index(loaded.documents, index, progress=False, corpus_root=corpus_path())
        started = datetime.now(UTC).isoformat(timespec="seconds")
        routes = tuple(args.route or ROUTES)
        offline = run_mode(index, {"name": "extractive"}, routes)
        llm: dict[str, Any] = {"name": "openai", "model": args.model, "max_retries": 0}
        if args.llm_url:
            if args.context_tokens:
                llm["context_tokens"] = args.context_tokens
            llm_rows = run_mode(index, {**llm, "base_url": args.llm_url}, routes)
            backend = {
                "server": args.llm_url,
                "model": args.model,
                "context_tokens": args.context_tokens,
            }
        else:
            with FakeOpenAIServer(lambda r: REPLY) as probe:  # the prompt m2io sends, sized
                run_mode(index, {**llm, "base_url": probe.base_url})
                prompt = "".join(m["content"] for m in probe.requests[-1]["messages"])
            prefill = estimate_tokens(prompt) / args.prefill_tps
            with FakeOpenAIServer(
                lambda r: REPLY, first_token_s=prefill, token_s=4 / args.decode_tps
            ) as fake:
                llm_rows = run_mode(index, {**llm, "base_url": fake.base_url})
            backend = {
                "server": "scripted fake (m2io.testing.fake_openai), paced like a CPU server",
                "prompt_tokens_estimated": estimate_tokens(prompt),
                "first_token_s": round(prefill, 1),
                "decode_tps": args.decode_tps,
            }
    out = {
        "started": started,
        "machine": machine(),
        "question": QUESTION,
        "llm_backend": backend,
        "offline": offline,
        "llm": llm_rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
