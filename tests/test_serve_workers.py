"""``m2io serve --workers 2`` as a user runs it: two processes answer on one port, an upload
through one is answered by both, and stopping the server stops every worker.

The server is a subprocess on a free loopback port; each check uses one keep-alive connection
(``/health`` names the process that holds it) and has a deadline.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from m2io.corpus import load_corpus  # noqa: E402
from m2io.demo import corpus_path  # noqa: E402
from m2io.index import build_index  # noqa: E402

DEADLINE_S = 60.0
WRITE = {"X-M2IO-Write": "1"}
DOC = (
    "# Calibrating the K042 spectrometer\n\n"
    "To calibrate the K042 spectrometer, point it at the white reference tile and press the "
    "calibrate button until the K042 status light turns green.\n\n"
    "![The K042 spectrometer at the white tile](img/k042.png)\n"
)
QUESTION = "How do I calibrate the K042 spectrometer?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(index: Path) -> tuple[str, subprocess.Popen]:
    """``m2io serve --workers 2`` over ``index`` on a free port, answering: (url, process)."""
    port = free_port()
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "m2io.cli.main", "serve", "--index", str(index)]
    cmd += ["--port", str(port), "--workers", "2", "--allow-writes", "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return url, proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"m2io serve did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """A copy of the demo corpus and its index (default embedder): (corpus, index)."""
    tmp = tmp_path_factory.mktemp("workers")
    corpus = tmp / "corpus"
    shutil.copytree(corpus_path(), corpus)
    loaded = load_corpus(corpus, format="folder", exclude=("LICENSE*",))
    build_index(loaded.documents, tmp / "index", progress=False, corpus_root=corpus)
    return corpus, tmp / "index"


@pytest.fixture(scope="module")
def server(built):
    corpus, index = built
    url, proc = start(index)
    yield url, proc, corpus
    stop(proc)


def ask_each_worker(url: str, question: str, want: int = 2) -> dict[int, dict]:
    """``question`` answered by ``want`` distinct worker processes: {pid: answer}."""
    answers: dict[int, dict] = {}
    deadline = time.monotonic() + DEADLINE_S
    while len(answers) < want and time.monotonic() < deadline:
        # fresh connections, several at once, so the kernel hands them to different workers
        clients = [httpx.Client(base_url=url, timeout=10) for _ in range(4)]
        try:
            pids = [c.get("/health").json()["worker"] for c in clients]
            for pid, c in zip(pids, clients, strict=True):  # same connection, same process
                if pid not in answers:
                    r = c.post("/v1/answer", json={"question": question})
                    assert r.status_code == 200, r.text
                    answers[pid] = r.json()
        finally:
            for c in clients:
                c.close()
    return answers


def test_two_workers_answer_and_an_upload_reaches_both(server):
    url, proc, corpus = server
    before = ask_each_worker(url, QUESTION)
    assert len(before) == 2, "the second worker never answered"
    assert all(p != proc.pid for p in before), "the master answered instead of a worker"
    for answer in before.values():
        assert not any("k042" in s["doc_id"].lower() for s in answer["sources"])

    png = (corpus / "images" / "clock.png").read_bytes()
    files = [
        ("files", ("k042.md", DOC.encode(), "text/markdown")),
        ("files", ("img/k042.png", png, "image/png")),
    ]
    r = httpx.post(f"{url}/v1/documents", files=files, headers=WRITE, timeout=DEADLINE_S)
    assert r.status_code == 200, r.text
    added = set(r.json()["doc_ids"])
    assert added

    after = ask_each_worker(url, QUESTION)
    assert len(after) == 2
    for pid, answer in after.items():
        found = {s["doc_id"] for s in answer["sources"]}
        assert added & found, f"worker {pid} does not answer from the uploaded document"
        assert "K042" in answer["markdown"]
    with httpx.Client(base_url=url, timeout=10) as c:  # counts after the worker reopened
        assert c.get("/health").json()["documents"] == 12


def test_stopping_the_master_stops_every_worker(server):
    url, proc, _ = server
    pids = set(ask_each_worker(url, "How do I set the clock?"))
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(DEADLINE_S) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def gone(pids: set[int]) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


def test_a_killed_master_takes_its_workers_with_it(built):
    url, proc = start(built[1])
    try:
        pids = set(ask_each_worker(url, "How do I set the clock?"))
        proc.kill()  # SIGKILL: the master cannot stop them itself
        proc.wait(DEADLINE_S)
        deadline = time.monotonic() + DEADLINE_S
        while not gone(pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert gone(pids), "workers outlived their master"
    finally:
        stop(proc)


def test_a_following_state_reopens_the_index_another_process_swapped(tmp_path):
    from test_serve_api import demo_copy, demo_pipeline

    from m2io.index.update import NewDocument, add_documents
    from m2io.serve.state import ServiceState
    from m2io.testing.hash_embedder import HashEmbedder

    _, index = demo_copy(tmp_path)
    follower = ServiceState(demo_pipeline(index), index, follow=True)
    still = ServiceState(demo_pipeline(index), index)  # a single process: swaps only its own
    before = follower.snapshot
    assert follower.snapshot is before  # nothing changed: the same snapshot, nothing reopened
    add_documents(index, [NewDocument("k042.md", DOC, {})], text_embedder=HashEmbedder())
    assert follower.current is before  # /health's view is not reopened on the event loop
    after = follower.snapshot
    assert after is not before and after.counts()[0] == before.counts()[0] + 1
    assert follower.snapshot is after  # reopened once
    assert still.snapshot.counts()[0] == before.counts()[0]
