"""Serving safely by default (issue 19): each test replays an attack on the server.

A hostile index cannot choose where files are read from; model calls that hang cannot take every
worker; other web sites cannot write; clients choose only the backends the operator allowed;
images stream; signed URLs expire; the key is checked before the body; wrong keys slow down;
error bodies and log lines carry no internals; uploads are deduplicated, capped and budgeted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("multipart")
httpx = pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from test_serve_api import QUESTION, WRITE, build_app, demo_copy, demo_pipeline  # noqa: E402

from m2io.demo import corpus_path  # noqa: E402
from m2io.serve import create_app  # noqa: E402
from m2io.serve.gate import allowed_hosts  # noqa: E402
from m2io.serve.runtime import CapLength, limited_protocol  # noqa: E402
from m2io.serve.signing import signature  # noqa: E402
from m2io.serve.uploads import UploadLimits  # noqa: E402

DEADLINE_S = 20.0
PNG = (corpus_path() / "images" / "clock.png").read_bytes()


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    return demo_copy(tmp_path_factory.mktemp("serve-security"))


def _rewrite_index(index: Path, root: str, location: str) -> str:
    """Point the index's corpus root at ``root`` and every chunk at ``location``; a doc id."""
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["corpus_root"] = os.path.relpath(root, index)
    manifest["corpus_root_absolute"] = root
    (index / "manifest.json").write_text(json.dumps(manifest))
    rows = [json.loads(line) for line in (index / "chunks.jsonl").read_text().splitlines()]
    for row in rows:
        row["source"]["location"] = location
    (index / "chunks.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows[0]["doc_id"]


# 1. files come only from where the operator says


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs /etc/passwd")
def test_a_hostile_index_cannot_make_the_server_read_etc_passwd(tmp_path):
    _, index = demo_copy(tmp_path)
    doc = _rewrite_index(index, "/etc", "passwd")
    client = TestClient(build_app(index))
    r = client.get(f"/v1/sources/{doc}")
    assert r.status_code == 404
    assert "root:" not in r.text


def test_a_corpus_away_from_the_index_is_served_only_from_the_operators_root(tmp_path):
    corpus, index = demo_copy(tmp_path / "a")
    moved = tmp_path / "b" / "demo.index"
    moved.parent.mkdir()
    index.rename(moved)  # the manifest's absolute root still finds the corpus
    doc = "04-edge-detection.md"
    client = TestClient(build_app(moved))
    assert client.get(f"/v1/sources/{doc}").status_code == 404
    assert client.get("/v1/images/images%2Fcamera.png").status_code == 404
    allowed = TestClient(build_app(moved, corpus_root=corpus))
    assert allowed.get(f"/v1/sources/{doc}").status_code == 200
    assert (
        allowed.get("/v1/images/images%2Fcamera.png").content
        == (corpus / "images" / "camera.png").read_bytes()
    )


def test_a_source_must_be_a_text_document(tmp_path):
    corpus, index = demo_copy(tmp_path)
    (corpus / "server.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (corpus / "binary.md").write_bytes(b"\x00\x01\x02 not text")
    for location in ("server.key", "binary.md"):
        doc = _rewrite_index(index, str(corpus), location)
        r = TestClient(build_app(index)).get(f"/v1/sources/{doc}")
        assert r.status_code == 404, location
        assert "PRIVATE" not in r.text


# 2. model calls that hang never take every worker


class HangingEndpoint:
    """A loopback 'model endpoint' that accepts connections and never answers until closed."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.closed:  # accepted while closing: refuse it too
                conn.close()
                return
            self.conns.append(conn)

    def close(self) -> None:
        # close() alone does not wake a thread blocked in accept(): the listening socket would
        # go on accepting. shutdown() wakes it; connections accepted after this are closed.
        self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_hanging_model_calls_get_503_and_health_keeps_answering(demo, monkeypatch):
    from test_serve_uvicorn import LiveServer

    from m2io.generators.openai import OpenAIGenerator
    from m2io.pipeline import Pipeline

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    endpoint = HangingEndpoint()
    base = demo_pipeline(demo[1])
    generator = OpenAIGenerator(
        base_url=f"http://127.0.0.1:{endpoint.port}/v1", max_retries=0, deadline=60.0
    )
    pipeline = Pipeline(base.retriever, generator, base.inserter)
    app = create_app(pipeline, max_model_calls=2)
    with (
        LiveServer(app) as server,
        ThreadPoolExecutor(4) as pool,
        httpx.Client(base_url=server.url, timeout=5.0) as client,
    ):
        long = httpx.Client(base_url=server.url, timeout=DEADLINE_S)
        hung = [
            pool.submit(long.post, "/v1/answer", json={"question": f"{QUESTION} {k}"})
            for k in range(2)
        ]
        deadline = time.monotonic() + DEADLINE_S
        while len(endpoint.conns) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(endpoint.conns) == 2  # both model calls hang now
        many = [client.post("/v1/answer", json={"question": QUESTION}) for _ in range(45)]
        assert {r.status_code for r in many} == {503}
        assert "try again" in many[0].json()["error"]["message"]
        assert many[0].headers["retry-after"]
        chat = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "q"}]}
        )
        assert chat.status_code == 503
        assert client.get("/health").status_code == 200
        assert client.get("/").status_code == 200
        endpoint.close()  # the model 'answers' (fails): the two hung requests end with text
        assert [f.result(DEADLINE_S).status_code for f in hung] == [200, 200]
        long.close()


def test_streams_give_their_slot_back(demo):
    class Wrapped:  # not a staged pipeline: it may call a model, so it takes a slot
        def __init__(self, inner) -> None:
            self.inner, self.retriever = inner, inner.retriever

        def run(self, question):
            return self.inner.run(question)

    app = create_app(Wrapped(demo_pipeline(demo[1])), max_model_calls=1)
    client = TestClient(app)
    for _ in range(3):
        r = client.post("/v1/answer/stream", json={"question": QUESTION})
        assert r.status_code == 200 and "event: done" in r.text
    assert client.post("/v1/answer", json={"question": QUESTION}).status_code == 200
    chat = {"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    assert client.post("/v1/chat/completions", json=chat).status_code == 200
    assert client.post("/v1/answer", json={"question": QUESTION}).status_code == 200


def test_offline_answers_take_no_model_slot(demo):
    client = TestClient(build_app(demo[1], max_model_calls=1))
    app = client.app
    held = app.state.m2io.slots.take()  # every slot is taken (by a hung model call, say)
    assert client.post("/v1/answer", json={"question": QUESTION}).status_code == 200
    held.release()


# 6. no writes from other sites


def test_the_cli_serves_read_only_without_a_key_unless_writes_are_allowed():
    from m2io.cli import serve as cli_serve

    parser = argparse.ArgumentParser()
    cli_serve.add_arguments(parser)

    def options(*argv: str, key: str | None = None) -> dict:
        return cli_serve.app_options(parser.parse_args(["--index", "x", *argv]), "x", key)

    assert options()["index_dir"] is None
    assert options("--allow-writes")["index_dir"] == "x"
    assert options(key="k")["index_dir"] == "x"
    assert options("--allow-writes", "--read-only", key="k")["index_dir"] is None
    hosts = options()["allowed_hosts"]
    assert {"127.0.0.1", "localhost"} <= hosts and "evil.example" not in hosts
    public = options("--host", "0.0.0.0", "--public-url", "https://rag.example.org")
    assert "rag.example.org" in public["allowed_hosts"]
    assert options()["backends"] == {}
    assert options("--allow-generator", "openai")["backends"] == {"generator": ["openai"]}
    assert options("--allow-generator", "openai", "--read-only")["backends"] == {}


def test_a_read_only_server_refuses_uploads(demo):
    client = TestClient(create_app(demo_pipeline(demo[1])))  # no index_dir: read-only
    r = client.post("/v1/documents", files={"files": ("a.md", b"# A\n\ntext")}, headers=WRITE)
    assert r.status_code == 501


def test_a_cross_origin_form_cannot_upload(tmp_path):
    _, index = demo_copy(tmp_path)
    client = TestClient(build_app(index))
    doc = {"files": ("planted.md", b"# Planted\n\nThe answer is whatever the attacker says.\n")}
    # what a hostile page's <form enctype="multipart/form-data"> sends
    evil = client.post("/v1/documents", files=doc, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    fetch_meta = client.post("/v1/documents", files=doc, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch_meta.status_code == 403
    no_token = client.post("/v1/documents", files=doc)  # a form cannot set a header
    assert no_token.status_code == 403 and "X-M2IO-Write" in no_token.json()["error"]["message"]
    assert client.get("/health").json()["documents"] == 11  # nothing was planted
    same = client.post("/v1/documents", files=doc, headers={**WRITE, "Origin": "http://testserver"})
    assert same.status_code == 200, same.text
    cross_answer = client.post(
        "/v1/answer", json={"question": QUESTION}, headers={"Origin": "https://evil.example"}
    )
    assert cross_answer.status_code == 403


def test_host_names_are_checked_against_the_allowlist(demo):
    app = build_app(demo[1], allowed_hosts=allowed_hosts("127.0.0.1", None))
    client = TestClient(app)
    rebound = client.get("/health", headers={"Host": "attacker.example:8000"})
    assert rebound.status_code == 421
    assert client.get("/health", headers={"Host": "localhost:8000"}).status_code == 200
    assert client.get("/health", headers={"Host": "127.0.0.1:8000"}).status_code == 200
    r = client.post("/v1/answer", json={"question": QUESTION}, headers={"Host": "[::1]:8000"})
    assert r.status_code == 200
    assert "attacker.example" not in r.text


# 7. clients choose only among backends the operator configured


def test_a_client_cannot_switch_on_a_backend_the_operator_did_not_allow(demo):
    client = TestClient(build_app(demo[1]))
    for choice in ({"generator": "openai"}, {"generator": "local"}, {"inserter": "llm"}):
        r = client.post("/v1/answer", json={"question": QUESTION, **choice})
        assert r.status_code == 400, choice
        message = r.json()["error"]["message"]
        assert "not allowed" in message and "allowed:" in message
    gen = client.post("/v1/answer", json={"question": QUESTION, "generator": "openai"})
    assert "extractive" in gen.json()["error"]["message"]  # names what is allowed
    own = client.post("/v1/answer", json={"question": QUESTION, "inserter": "anchored"})
    assert own.status_code == 200  # the served pipeline's own choice is always fine
    allowed = TestClient(build_app(demo[1], backends={"inserter": ["none"]}))
    ok = allowed.post("/v1/answer", json={"question": QUESTION, "inserter": "none"})
    assert ok.status_code == 200
    with pytest.raises(ValueError, match="unknown inserter"):
        build_app(demo[1], backends={"inserter": ["os:system"]})


# 8. images stream; uploads have a pixel cap; connections per client are limited


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_unread_image_downloads_hold_no_copy_of_the_image(tmp_path):
    from test_serve_uvicorn import LiveServer

    corpus = tmp_path / "c"
    corpus.mkdir()
    big = PNG + b"\x00" * (8 * 1024 * 1024)  # an 8 MB 'PNG': its first bytes say so
    (corpus / "big.png").write_bytes(big)
    (corpus / "guide.md").write_text(
        "# Guide\n\nThe clock face shows the time of day.\n\n![A large clock face](big.png)\n\n"
        "More words about the clock face and its hands follow here.\n"
    )
    from test_serve_api import index_folder

    index = index_folder(corpus, tmp_path / "i")
    with LiveServer(build_app(index)) as server:
        socks = []
        before = _rss_bytes()
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=DEADLINE_S)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /v1/images/big.png HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        time.sleep(1.5)  # let the server send what the sockets take
        grown = _rss_bytes() - before
        for s in socks:
            s.close()
        with httpx.Client(base_url=server.url, timeout=DEADLINE_S) as client:
            assert client.get("/v1/images/big.png").content == big
    assert grown < 60 * 1024 * 1024, grown  # a copy per client would be 160 MB


def _png(width: int, height: int) -> bytes:
    """A real 1-bit grayscale PNG of ``width`` x ``height`` black pixels (it compresses well)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = (b"\x00" + b"\x00" * ((width + 7) // 8)) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def test_an_upload_with_a_huge_image_is_refused(tmp_path):
    _, index = demo_copy(tmp_path)
    client = TestClient(build_app(index))
    doc = b"# Big\n\nA very large picture of a field.\n\n![field](field.png)\n"
    r = client.post(
        "/v1/documents",
        files=[
            ("files", ("big.md", doc, "text/markdown")),
            ("files", ("field.png", _png(12_000, 12_000), "image/png")),
        ],
        headers=WRITE,
    )
    assert r.status_code == 413
    assert "12000x12000" in r.json()["error"]["message"]


def test_a_client_past_its_connection_limit_is_closed(demo):
    uvicorn = pytest.importorskip("uvicorn")

    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    protocol = limited_protocol(per_client=3, first_request_s=1.0)
    config = uvicorn.Config(build_app(demo[1]), log_level="warning", lifespan="off", http=protocol)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
        closed = 0
        for s in idle[3:]:
            closed += s.recv(1) == b""  # closed at once: past the limit
        assert closed == 2
        time.sleep(1.5)  # the three within the limit sent no request: closed too
        assert all(s.recv(1) == b"" for s in idle[:3])
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            assert client.get("/health").status_code == 200
        for s in idle:
            s.close()
    finally:
        server.should_exit = True
        thread.join(DEADLINE_S)
        sock.close()


def test_one_client_may_have_only_so_many_requests_in_flight(demo):
    client = TestClient(build_app(demo[1], max_client_requests=0))
    r = client.get("/health")
    assert r.status_code == 429


# 9. signatures expire and bind; the key comes before the body; wrong keys slow down


def test_signed_image_urls_expire_and_bind_to_route_and_id(demo):
    client = TestClient(build_app(demo[1], api_key="s3cret"))
    good = {"Authorization": "Bearer s3cret"}
    body = client.post("/v1/answer", json={"question": QUESTION}, headers=good).json()
    url = next(s["url"] for s in body["segments"] if s["type"] == "image")
    assert "exp=" in url and "sig=" in url
    assert client.get(url).status_code == 200
    bare, image_id = url.split("?")[0], "images/camera.png"
    past = int(time.time()) - 10
    expired = f"?exp={past}&sig={signature('s3cret', 'images', image_id, past)}"
    assert client.get("/v1/images/images%2Fcamera.png" + expired).status_code == 401
    future = int(time.time()) + 600
    other_id = f"?exp={future}&sig={signature('s3cret', 'images', 'images/clock.png', future)}"
    assert client.get("/v1/images/images%2Fcamera.png" + other_id).status_code == 401
    other_route = f"?exp={future}&sig={signature('s3cret', 'sources', image_id, future)}"
    assert client.get("/v1/images/images%2Fcamera.png" + other_route).status_code == 401
    fine = f"?exp={future}&sig={signature('s3cret', 'images', image_id, future)}"
    assert client.get("/v1/images/images%2Fcamera.png" + fine).status_code == 200
    assert client.get(bare + "?sig=" + url.split("sig=")[1]).status_code == 401  # no expiry
    for _ in range(8):  # a page left open past the expiry reloads its images: not a guess
        assert client.get("/v1/images/images%2Fcamera.png" + expired).status_code == 401
    assert client.get(url).status_code == 200  # so the client is not slowed down


def test_source_links_of_a_keyed_server_open_in_a_browser_and_bind_to_route_and_id(demo):
    client = TestClient(build_app(demo[1], api_key="s3cret"))
    good = {"Authorization": "Bearer s3cret"}
    body = client.post("/v1/answer", json={"question": QUESTION}, headers=good).json()
    source = next(s for s in body["sources"] if s["url"])
    url = source["url"]
    assert "exp=" in url and "sig=" in url
    assert url.split("?")[1].partition("#")[0] in body["markdown"]  # the Markdown link too
    r = client.get(url.partition("#")[0])  # as a browser opens it: no Authorization header
    assert r.status_code == 200 and r.content
    doc = source["doc_id"]
    bare = url.split("?")[0]
    assert client.get(bare).status_code == 401
    future = int(time.time()) + 600
    as_image = f"?exp={future}&sig={signature('s3cret', 'images', doc, future)}"
    assert client.get(bare + as_image).status_code == 401  # bound to the route
    other = next(d for d in ("06-thresholding.md", "09-morphology.md") if d != doc)
    borrowed = f"?exp={future}&sig={signature('s3cret', 'sources', other, future)}"
    assert client.get(bare + borrowed).status_code == 401  # bound to the id
    past = int(time.time()) - 10
    expired = f"?exp={past}&sig={signature('s3cret', 'sources', doc, past)}"
    assert client.get(bare + expired).status_code == 401
    chat = client.post(
        "/v1/chat/completions",
        json={"model": "m2io", "messages": [{"role": "user", "content": QUESTION}]},
        headers=good,
    ).json()
    reply = chat["choices"][0]["message"]["content"]
    link = next(part for part in reply.split("(<") if part.startswith(bare))
    assert "sig=" in link
    assert client.get(link.split(">")[0].partition("#")[0]).status_code == 200


def test_the_key_is_checked_before_the_body_is_read(demo):
    app = build_app(demo[1], api_key="s3cret")
    reads = 0

    async def receive() -> dict:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/documents",
        "raw_path": b"/v1/documents",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; b=x")],
        "client": ("10.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), DEADLINE_S))
    assert sent[0]["status"] == 401
    assert reads == 0


def test_repeated_wrong_keys_are_slowed(demo):
    client = TestClient(build_app(demo[1], api_key="s3cret"))
    wrong = {"Authorization": "Bearer guess"}
    codes = [client.get("/v1/models", headers=wrong).status_code for _ in range(8)]
    assert codes[:5] == [401] * 5 and 429 in codes[5:]
    blocked = client.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
    assert blocked.status_code == 429  # even the right key waits its turn
    assert int(blocked.headers["retry-after"]) >= 1
    assert client.get("/health").status_code == 200  # no key needed, not slowed


def test_error_bodies_carry_no_paths_or_library_internals(tmp_path):
    _, index = demo_copy(tmp_path)
    client = TestClient(build_app(index), raise_server_exceptions=False)
    (index / "chunks.faiss").write_bytes(b"\x00" * 64)  # the index is damaged under the server
    r = client.post(
        "/v1/documents", files={"files": ("a.md", b"# A\n\nSome text.\n")}, headers=WRITE
    )
    assert r.status_code >= 400
    assert str(tmp_path) not in r.text and "faiss" not in r.text.lower()
    assert r.json()["error"]["message"]


def test_log_lines_are_capped():
    record = logging.LogRecord(
        "m2io", logging.WARNING, __file__, 1, "ref %s", ("x" * 100_000,), None
    )
    CapLength(2000).filter(record)
    assert len(record.getMessage()) < 2100
    assert "more characters" in record.getMessage()


# 3 and 9. uploads: deduplicated, disk quota, CPU budget


def test_the_same_upload_twice_adds_nothing_the_second_time(tmp_path):
    _, index = demo_copy(tmp_path)
    client = TestClient(build_app(index))
    doc = {"files": ("fog.md", b"# Fog\n\nFog is a cloud that touches the ground.\n")}
    first = client.post("/v1/documents", files=doc, headers=WRITE)
    assert first.status_code == 200 and first.json()["doc_ids"]
    size = sum(p.stat().st_size for p in index.rglob("*") if p.is_file())
    second = client.post("/v1/documents", files=doc, headers=WRITE)
    assert second.status_code == 200
    assert second.json()["doc_ids"] == []
    assert "already in the index" in " ".join(second.json()["problems"])
    assert sum(p.stat().st_size for p in index.rglob("*") if p.is_file()) == size


def test_uploads_have_a_disk_quota(tmp_path):
    _, index = demo_copy(tmp_path)
    client = TestClient(build_app(index, upload_limits=UploadLimits(quota_bytes=1000)))
    doc = {"files": ("long.md", b"# Long\n\n" + b"Words about rain and clouds. " * 100)}
    r = client.post("/v1/documents", files=doc, headers=WRITE)
    assert r.status_code == 507
    assert "quota of 1000 bytes" in r.json()["error"]["message"]


def test_an_upload_over_its_cpu_budget_is_refused_and_reported(tmp_path, caplog):
    _, index = demo_copy(tmp_path)
    client = TestClient(build_app(index, upload_limits=UploadLimits(budget_s=0.01)))
    text = "# Heavy\n\n" + "".join(f"Paragraph {k} about rain.\n\n" for k in range(40_000))
    with caplog.at_level(logging.WARNING):
        r = client.post(
            "/v1/documents", files={"files": ("heavy.md", text.encode())}, headers=WRITE
        )
    assert r.status_code == 422
    assert "budget" in r.json()["error"]["message"]
    assert "heavy.md" in caplog.text
    assert client.get("/health").json()["documents"] == 11
    fine = TestClient(build_app(index, upload_limits=UploadLimits(budget_s=10)))
    doc = {"files": ("ok.md", b"# Ok\n\nA short note about the weather.\n")}
    assert fine.post("/v1/documents", files=doc, headers=WRITE).status_code == 200
