"""Abusive clients for ``load_serve.py --abuse-requests N`` (issue 19 item 10).

Each abuser runs in its own thread from its own loopback address (127.0.0.2 …), so the server's
per-client limits see it as a different client from the normal one (127.0.0.1):

* :class:`DrippingEndpoint`: a model endpoint that sends its status line one byte at a time and
  never finishes; :func:`model_abuser` asks the server to use it (``generator: openai``).
* :func:`unread_abuser`: streams and a large image requested and never read.
* :func:`slow_abuser`: connections that send their request head a byte at a time.
* :func:`upload_abuser`: large uploads, one after another.

Imported as ``from _abuse import ...`` (a benchmark runs as ``python benchmarks/NAME.py``).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

import httpx

DRIP = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"


class DrippingEndpoint:
    """A loopback 'OpenAI endpoint' that answers every request one byte every ``every_s``."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                k = 0
                while not self.stop.is_set():
                    conn.sendall(DRIP[k % len(DRIP) : k % len(DRIP) + 1])
                    k += 1
                    time.sleep(self.every_s)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _client(base: str, source: str, timeout: float) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=base, timeout=timeout, transport=transport)


def model_abuser(base: str, source: str, stop: threading.Event, seen: Counter) -> None:
    """Ask for the dripping model again and again, four times a second (each call waits 3 s,
    then gives up; the server's call goes on)."""
    with _client(base, source, 3.0) as client:
        while not stop.is_set():
            try:
                r = client.post(
                    "/v1/answer", json={"question": "What is a histogram?", "generator": "openai"}
                )
                seen[f"model {r.status_code}"] += 1
            except httpx.HTTPError as err:
                seen[f"model {type(err).__name__}"] += 1
            time.sleep(0.25)


def _raw(port: int, source: str, request: bytes) -> socket.socket | None:
    try:
        s = socket.create_connection(("127.0.0.1", port), 5, source_address=(source, 0))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(request)
        return s
    except OSError:
        return None


def unread_abuser(
    port: int, source: str, stop: threading.Event, seen: Counter, image_id: str, n: int = 40
) -> None:
    """Keep ``n`` requests open whose replies are never read (answer streams, chat streams and a
    large image), replacing the oldest ten times a second."""
    body = b'{"question": "How do I find edges?"}'
    chat = b'{"stream": true, "messages": [{"role": "user", "content": "How do I find edges?"}]}'
    requests = [
        b"POST /v1/answer/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body),
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(chat), chat),
        f"GET /v1/images/{image_id} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(),
    ]
    held: list[socket.socket] = []
    k = 0
    while not stop.is_set():
        if len(held) < n:
            s = _raw(port, source, requests[k % len(requests)])
            seen["unread opened" if s else "unread refused"] += 1
            if s is not None:
                held.append(s)
            k += 1
        else:
            held.pop(0).close()  # recycle the oldest
        time.sleep(0.1)
    for s in held:
        s.close()


def slow_abuser(port: int, source: str, stop: threading.Event, seen: Counter, n: int = 40) -> None:
    """Keep ``n`` connections sending their request head one byte every half second."""
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 4000 + b"\r\n\r\n"
    conns: list[tuple[socket.socket, int]] = []
    while not stop.is_set():
        while len(conns) < n:
            s = _raw(port, source, head[:1])
            seen["slow opened" if s else "slow refused"] += 1
            if s is None:
                break
            conns.append((s, 1))
        kept = []
        for s, sent in conns:
            try:
                s.sendall(head[sent : sent + 1])
                kept.append((s, sent + 1))
            except OSError:
                seen["slow closed by server"] += 1
                s.close()
        conns = kept
        time.sleep(0.5)
    for s, _ in conns:
        s.close()


def upload_abuser(
    base: str, source: str, stop: threading.Event, seen: Counter, mb: int = 24
) -> None:
    """Upload a large document (``mb`` MB of text) and a large junk image, again and again."""
    text = ("# Filler\n\n" + "Words that say nothing at all, again and again. " * 40 + "\n\n") * (
        mb * 1024 * 1024 // 2000
    )
    files = [
        ("files", ("filler.md", text.encode(), "text/markdown")),
        ("files", ("junk.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (8 * 1024 * 1024), "image/png")),
    ]
    with _client(base, source, 120.0) as client:
        while not stop.is_set():
            try:
                r = client.post("/v1/documents", files=files, headers={"X-M2IO-Write": "1"})
                seen[f"upload {r.status_code}"] += 1
            except httpx.HTTPError as err:
                seen[f"upload {type(err).__name__}"] += 1
            time.sleep(0.2)
