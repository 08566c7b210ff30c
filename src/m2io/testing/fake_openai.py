"""A scripted server speaking the OpenAI chat-completions wire protocol on loopback, for tests.

Example:
    >>> with FakeOpenAIServer(lambda req: "Hello.") as srv:   # doctest: +SKIP
    ...     ChatClient(base_url=srv.base_url, model="fake").chat([...]).text
    'Hello.'
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


class FakeOpenAIServer:
    """Answers ``POST /v1/chat/completions`` with ``responder(request_json)``.

    ``fail_first`` makes the first N requests answer HTTP 503, to exercise retries. Every request
    body is kept in ``requests``.
    """

    def __init__(self, responder: Responder, *, fail_first: int = 0) -> None:
        self.responder = responder
        self.fail_first = fail_first
        self.requests: list[dict[str, Any]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                owner.requests.append(body)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if owner.fail_first > 0:
                    owner.fail_first -= 1
                    self._send(503, {"error": {"message": "scripted failure"}})
                    return
                text = owner.responder(body)
                prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
                self._send(
                    200,
                    {
                        "id": "fake-1",
                        "object": "chat.completion",
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": prompt,
                            "completion_tokens": len(text.split()),
                            "total_tokens": prompt + len(text.split()),
                        },
                    },
                )

            def _send(self, code: int, payload: dict[str, Any]) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
