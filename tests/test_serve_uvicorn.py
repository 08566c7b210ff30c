"""The service on a real uvicorn on loopback: raw HTTP, the ``openai`` client, streaming, and
answers running while documents are added.

The server runs in a thread on a free port and is stopped at the end of the module; every call
has a deadline.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from test_serve_api import QUESTION, WRITE, build_app, demo_copy  # noqa: E402

from m2io.demo import corpus_path  # noqa: E402

DEADLINE_S = 20.0


class LiveServer:
    """``app`` served by uvicorn in a thread on 127.0.0.1 at a free port."""

    def __init__(self, app) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_keep_alive=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + DEADLINE_S
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start in time")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(DEADLINE_S)
        self.sock.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    _, index = demo_copy(tmp_path_factory.mktemp("serve-live"))
    with LiveServer(build_app(index)) as server:
        yield server


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (no client normalises it): (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=DEADLINE_S) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


def test_answer_and_its_images_over_real_http(live):
    with httpx.Client(base_url=live.url, timeout=DEADLINE_S) as client:
        assert client.get("/health").json()["documents"] == 11
        body = client.post("/v1/answer", json={"question": QUESTION}).json()
        urls = [s["url"] for s in body["segments"] if s["type"] == "image"]
        assert urls and all(u.startswith(live.url + "/v1/images/") for u in urls)
        for url in urls:
            r = client.get(url)
            assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "target",
    [
        "/v1/images/../../../../../../etc/passwd",
        "/v1/images/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/v1/images/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/v1/images/%252e%252e%252fetc%252fpasswd",
        "/v1/images//etc/passwd",
        "/v1/images/%2Fetc%2Fpasswd",
        "/v1/images/images/..%2F..%2F..%2Fetc%2Fpasswd",
        "/v1/images/images%5c..%5c01-digital-images-and-pixels.md",
        "/static/..%2f..%2fapp.py",
        "/v1/sources/..%2f..%2f..%2fetc%2fpasswd",
    ],
)
def test_path_traversal_over_raw_http_is_404(live, target):
    status, body = raw_get(live.port, target)
    assert status == 404, target
    assert b"root:" not in body


def test_openai_client_plain_and_stream(live):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=live.url + "/v1", api_key="unused", timeout=DEADLINE_S)
    assert [m.id for m in client.models.list()] == ["m2io"]
    reply = client.chat.completions.create(
        model="m2io", messages=[{"role": "user", "content": QUESTION}]
    )
    text = reply.choices[0].message.content
    assert reply.choices[0].finish_reason == "stop"
    assert f"]({'<'}{live.url}/v1/images/" in text
    pieces = []
    stream = client.chat.completions.create(
        model="m2io", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    finish = None
    for chunk in stream:
        pieces.append(chunk.choices[0].delta.content or "")
        finish = chunk.choices[0].finish_reason or finish
    assert len([p for p in pieces if p]) > 1  # it really came in pieces
    assert "".join(pieces) == text
    assert finish == "stop"


def test_stream_events_arrive_over_http(live):
    kinds = []
    with httpx.Client(base_url=live.url, timeout=DEADLINE_S) as client:
        with client.stream("POST", "/v1/answer/stream", json={"question": QUESTION}) as r:
            for line in r.iter_lines():
                if line.startswith("event: "):
                    kinds.append(line[7:])
    assert kinds[0] == "text" and kinds[-1] == "done" and "image" in kinds


def test_answers_keep_working_while_documents_are_added(tmp_path):
    _, index = demo_copy(tmp_path)
    with (
        LiveServer(build_app(index)) as server,
        httpx.Client(base_url=server.url, timeout=DEADLINE_S) as client,
    ):

        def ask(_: int) -> int:
            return client.post("/v1/answer", json={"question": QUESTION}).status_code

        png = (corpus_path() / "images" / "clock.png").read_bytes()

        def add(k: int) -> int:
            doc = (
                f"# Quokka {k}\n\nWhere does the quokka live? Quokka {k} lives on Rottnest "
                f"island.\n\n![A quokka on Rottnest island](q{k}.png)\n"
            )
            files = [
                ("files", (f"quokka-{k}.md", doc.encode(), "text/markdown")),
                ("files", (f"q{k}.png", png, "image/png")),
            ]
            return client.post("/v1/documents", files=files, headers=WRITE).status_code

        with ThreadPoolExecutor(6) as pool:
            asks = [pool.submit(ask, i) for i in range(12)]
            adds = [pool.submit(add, k) for k in range(3)]
            codes = [f.result(DEADLINE_S) for f in asks + adds]
        assert codes == [200] * 15
        assert client.get("/health").json()["documents"] == 14
        body = client.post("/v1/answer", json={"question": "Where does the quokka live?"}).json()
        assert "quokka" in body["markdown"].lower()
