"""A scripted server speaking the OpenAI chat-completions wire protocol on loopback, for tests.

It streams (server-sent events) when the request asks for ``stream: true`` and answers with one
JSON body otherwise, and can pace a stream like a real server (``first_token_s``: the prompt
reading before the first token; ``token_s`` between content chunks), or misbehave on purpose:
drip a reply one byte at a time, hang, send odd ``usage``, no choices, invalid JSON, an error
status with the server's own message, or stop at ``max_tokens``.

Example (a real HTTP round trip on loopback):
    >>> from m2io.llm.client import ChatClient
    >>> with FakeOpenAIServer(lambda req: "Hello.") as srv:
    ...     client = ChatClient(base_url=srv.base_url, model="fake")
    ...     client.chat([{"role": "user", "content": "Hi"}]).text
    'Hello.'
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]

MODES = ("ok", "drip", "hang", "no_choices", "bad_json")
_AUTO = object()


class FakeOpenAIServer:
    """Answers ``POST /v1/chat/completions`` with ``responder(request_json)``.

    Args:
        responder: The reply text for a request body.
        fail_first: The first N requests answer HTTP 503, to exercise retries.
        mode: ``"ok"``; ``"drip"`` (headers, then the reply one byte every ``drip_s``);
            ``"hang"`` (read the request, never answer); ``"no_choices"`` (``choices: []``);
            ``"bad_json"`` (a chunk or body that is not JSON).
        ignore_stream: Answer with one JSON body even when streaming is asked for.
        usage: The ``usage`` value to send (``None`` sends ``null``); default: word counts.
        omit_usage: Send no ``usage`` at all.
        finish_reason: The reply's finish reason (``"length"`` for a cut reply).
        drip_s: Seconds between bytes in ``"drip"`` mode.
        first_token_s: Seconds between the headers and the first content chunk (streaming).
        token_s: Seconds between content chunks (streaming).
        status: Answer every request with this HTTP status and ``error_message`` (e.g. 400 and
            a context overflow).
        error_message: The message of an error status.
        props: The body of ``GET /props`` (llama.cpp's server settings, ``n_ctx`` among them);
            None answers 404.
        show: The body of ``POST /api/show`` (Ollama's model details); None answers 404.

    Every chat request body is kept in ``requests`` (``len(srv.requests)`` proves what was
    re-sent); the paths of context-size probes in ``probes``.
    """

    def __init__(
        self,
        responder: Responder,
        *,
        fail_first: int = 0,
        mode: str = "ok",
        ignore_stream: bool = False,
        usage: Any = _AUTO,
        omit_usage: bool = False,
        finish_reason: str = "stop",
        drip_s: float = 0.5,
        first_token_s: float = 0.0,
        token_s: float = 0.0,
        status: int = 200,
        error_message: str = "",
        props: dict[str, Any] | None = None,
        show: dict[str, Any] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.responder = responder
        self.fail_first = fail_first
        self.mode = mode
        self.ignore_stream = ignore_stream
        self.usage = usage
        self.omit_usage = omit_usage
        self.finish_reason = finish_reason
        self.drip_s = drip_s
        self.first_token_s = first_token_s
        self.token_s = token_s
        self.status = status
        self.error_message = error_message
        self.props = props
        self.show = show
        self.requests: list[dict[str, Any]] = []
        self.probes: list[str] = []  # paths of GET /props and POST /api/show asked
        self._stop = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _usage_for(self, body: dict[str, Any], text: str) -> Any:
        if self.usage is not _AUTO:
            return self.usage
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        done = len(text.split())
        return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}

    def _completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": self.finish_reason,
            }
        ]
        out: dict[str, Any] = {
            "id": "fake-1",
            "object": "chat.completion",
            "model": body.get("model", "fake"),
            "choices": [] if self.mode == "no_choices" else choices,
        }
        if not self.omit_usage:
            out["usage"] = self._usage_for(body, text)
        return out

    def _events(self, body: dict[str, Any], text: str) -> list[bytes]:
        """The reply as server-sent events: a role chunk, content chunks of three words, the
        finish reason, usage, ``[DONE]``; one item per event."""
        model = body.get("model", "fake")
        words = text.split(" ")
        pieces = (
            [
                " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "")
                for i in range(0, len(words), 3)
            ]
            if text
            else []
        )
        chunks: list[dict[str, Any]] = []
        if self.mode != "no_choices":
            chunks.append({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
            chunks += [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
            chunks.append(
                {"choices": [{"index": 0, "delta": {}, "finish_reason": self.finish_reason}]}
            )
        opts = body.get("stream_options") or {}
        if not self.omit_usage and (opts.get("include_usage") or self.usage is not _AUTO):
            chunks.append({"choices": [], "usage": self._usage_for(body, text)})
        lines = [
            "data: "
            + json.dumps({"id": "fake-1", "object": "chat.completion.chunk", "model": model, **c})
            for c in chunks
        ]
        if self.mode == "bad_json":
            lines.insert(1, "data: {not json")
        lines.append("data: [DONE]")
        return [(line + "\n\n").encode() for line in lines]

    def _paced(self, events: list[bytes], write: Callable[[bytes], None]) -> None:
        """Write ``events`` with the configured pauses before the first and between content
        chunks."""
        first = True
        for event in events:
            if b'"content"' in event:
                pause = self.first_token_s if first else self.token_s
                first = False
                if pause and self._stop.wait(pause):
                    return
            write(event)

    def __enter__(self) -> FakeOpenAIServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                owner.probes.append(self.path)
                if self.path.rstrip("/").endswith("/props") and owner.props is not None:
                    self._send(200, owner.props)
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path.rstrip("/").endswith("/api/show"):
                    owner.probes.append(self.path)
                    if owner.show is not None:
                        self._send(200, owner.show)
                    else:
                        self._send(404, {"error": "not found"})
                    return
                owner.requests.append(body)
                if owner.status >= 400:
                    self._send(owner.status, {"error": {"message": owner.error_message}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if owner.fail_first > 0:
                    owner.fail_first -= 1
                    self._send(503, {"error": {"message": "scripted failure"}})
                    return
                if owner.mode == "hang":
                    owner._stop.wait(60)
                    return
                text = owner.responder(body)
                stream = bool(body.get("stream")) and not owner.ignore_stream
                paced = stream and (owner.first_token_s or owner.token_s)
                if stream:
                    events = owner._events(body, text)
                    raw = b"".join(events)
                    ctype = "text/event-stream"
                elif owner.mode == "bad_json":
                    raw, ctype = b'{"choices": [', "application/json"
                else:
                    raw = json.dumps(owner._completion(body, text)).encode()
                    ctype = "application/json"
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                if owner.mode != "drip" and not paced:
                    self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if paced:
                    self.wfile.flush()

                    def write(event: bytes) -> None:
                        self.wfile.write(event)
                        self.wfile.flush()

                    try:
                        owner._paced(events, write)
                    except OSError:  # the client gave up
                        pass
                    self.close_connection = True
                    return
                if owner.mode != "drip":
                    self.wfile.write(raw)
                    return
                self.wfile.flush()
                try:
                    for i in range(len(raw)):
                        if owner._stop.wait(owner.drip_s):
                            return
                        self.wfile.write(raw[i : i + 1])
                        self.wfile.flush()
                except OSError:  # the client gave up
                    return

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
