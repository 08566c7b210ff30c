"""Vectors in Milvus (milvus-lite here): the same index folder, the same answers as faiss."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("bm25s")
pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

from m2io.index import Index, build_index  # noqa: E402
from m2io.index.ann import KIND_ENV, VectorStore, index_kind  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402
from m2io.testing.hash_embedder import HashEmbedder  # noqa: E402
from m2io.types import Document  # noqa: E402

TOPICS = ["crop", "layer", "brush", "colour", "path", "text", "filter", "mask", "scale", "rotate"]
QUESTIONS = [f"how do I use the {t} tool" for t in TOPICS] + ["rotate a layer", "mask colour"]


def _docs() -> list[Document]:
    return [
        Document(
            doc_id=f"d{i}",
            text=" ".join(
                f"Use the {TOPICS[i % 10]} tool on step {w} of page {i}." for w in range(8)
            ),
            title=f"{TOPICS[i % 10]} {i}",
        )
        for i in range(40)
    ]


def _answers(index: Index) -> list[list[str]]:
    r = HybridRetriever(index, top_k=5, min_score=0.0)
    return [[c.chunk.chunk_id for c in r.retrieve(q).chunks] for q in QUESTIONS]


def test_a_milvus_index_answers_like_the_embedded_one_and_moves_with_its_folder(
    tmp_path, monkeypatch
):
    emb = HashEmbedder(dim=64)
    build_index(_docs(), tmp_path / "faiss", embedder=emb, progress=False)
    store = VectorStore("milvus")
    build_index(_docs(), tmp_path / "milvus", embedder=emb, progress=False, store=store)
    names = {p.name for p in (tmp_path / "milvus").iterdir()}
    assert {"chunks.milvus.json", "images.milvus.json", "milvus.db"} <= names
    assert "chunks.faiss" not in names

    exact = Index.open(tmp_path / "faiss", embedder=emb)
    shutil.move(tmp_path / "milvus", tmp_path / "moved")  # the database lives in the folder
    milvus = Index.open(tmp_path / "moved", embedder=emb)
    assert index_kind(milvus._chunk_index) == "milvus"
    assert _answers(milvus) == _answers(exact)

    q = exact.embed_query("brush tool")
    s1, r1 = exact.search_chunks(q, 5)
    s2, r2 = milvus.search_chunks(q, 5)
    np.testing.assert_allclose(s1, s2, atol=1e-5)  # rows of equal score may come in any order
    np.testing.assert_allclose(exact.chunk_similarity(q, list(r2)), s2, atol=1e-5)
    np.testing.assert_allclose(
        milvus.chunk_similarity(q, [3, 0, 7]), exact.chunk_similarity(q, [3, 0, 7]), atol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(milvus.stored_vectors("images")), exact.stored_vectors("images"), atol=1e-6
    )


def test_m2io_index_store_milvus_writes_a_milvus_index_that_m2io_opens(tmp_path, monkeypatch):
    """`m2io index SOURCE --out DIR --store milvus`: vectors in milvus.db inside DIR, and the
    index opens and answers as any other; --milvus-uri without --store milvus is refused."""
    import argparse

    import m2io.embed.text as text_mod
    from m2io.cli import index as cli_index

    monkeypatch.delenv(KIND_ENV, raising=False)
    monkeypatch.delenv("M2IO_MILVUS_URI", raising=False)
    monkeypatch.setattr(
        text_mod, "load_text_embedder", lambda name=None, backend=None: HashEmbedder(dim=64)
    )
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, topic in enumerate(TOPICS):
        (corpus / f"{topic}.md").write_text(
            f"# The {topic} tool\n\nUse the {topic} tool on page {i} to change the picture.\n"
        )
    parser = argparse.ArgumentParser()
    cli_index.add_arguments(parser)
    out = tmp_path / "idx"
    args = parser.parse_args([str(corpus), "--out", str(out), "--store", "milvus"])
    args.quiet = True
    assert cli_index.run(args) == 0
    assert KIND_ENV not in os.environ  # the choice is passed on, not written to the environment
    names = {p.name for p in out.iterdir()}
    assert {"chunks.milvus.json", "milvus.db"} <= names and "chunks.faiss" not in names
    index = Index.open(out, embedder=HashEmbedder(dim=64))
    assert index_kind(index._chunk_index) == "milvus"
    hits = HybridRetriever(index, top_k=3, min_score=0.0).retrieve("how do I use the crop tool")
    assert hits.chunks and hits.chunks[0].chunk.doc_id == "crop.md"

    bad = parser.parse_args([str(corpus), "--out", str(out), "--milvus-uri", "http://h:19530"])
    with pytest.raises(ValueError, match="--store milvus"):
        cli_index.run(bad)


def _docs_with_figures(tmp_path):
    """The test documents, each with a figure (one PNG file under ``tmp_path/corpus``)."""
    from m2io.types import ImageAnchor, ImageRef

    png = tmp_path / "corpus" / "a.png"
    png.parent.mkdir()
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 24)
    docs = [
        Document(
            d.doc_id,
            d.text,
            (ImageAnchor(ImageRef(f"img{i}", str(png), caption=f"The {d.title} dialog"), 10),),
            d.title,
        )
        for i, d in enumerate(_docs())
    ]
    return png, docs


def test_a_question_costs_one_search_per_vector_set_and_rows_are_fetched_once(
    tmp_path, monkeypatch
):
    """Issue 24 item 3: the retriever searched the image vectors twice per question and fetched
    the same chunk rows twice; on Milvus each is a round trip."""
    emb = HashEmbedder(dim=64)
    png, docs = _docs_with_figures(tmp_path)
    build_index(
        docs,
        tmp_path / "milvus",
        embedder=emb,
        progress=False,
        corpus_root=png.parent,
        store=VectorStore("milvus"),
    )
    index = Index.open(tmp_path / "milvus", embedder=emb)
    calls: list[str] = []
    for store, name in ((index._chunk_index, "chunks"), (index._image_index, "images")):
        client = store._store
        for method in ("search", "get"):
            real = getattr(client, method)

            def counted(*a, _real=real, _what=f"{name}.{method}", **kw):
                calls.append(_what)
                return _real(*a, **kw)

            monkeypatch.setattr(client, method, counted)
    r = HybridRetriever(index, top_k=5, min_score=0.0, image_neighbours=2)
    for q in QUESTIONS[:4]:
        calls.clear()
        found = r.retrieve(q)
        assert found.chunks and found.candidates
        assert calls.count("chunks.search") == 1 and calls.count("images.search") == 1, calls
        assert calls.count("chunks.get") <= 1, calls  # the section's rows, fetched once


def test_documents_added_to_a_milvus_index_go_to_milvus_without_the_environment(
    tmp_path, monkeypatch
):
    """Issue 23 item 3: an upload follows the store the index was built with (the build's
    option object), not a variable a command wrote into its environment."""
    from m2io.index import NewDocument, add_documents

    monkeypatch.delenv(KIND_ENV, raising=False)
    emb = HashEmbedder(dim=64)
    folder = tmp_path / "milvus"
    build_index(_docs(), folder, embedder=emb, progress=False, store=VectorStore("milvus"))
    text = "# Sharpen\n\nUse the sharpen tool to make edges crisp in the picture.\n"
    result = add_documents(folder, [NewDocument("sharpen.md", text, {})], text_embedder=emb)
    assert result.doc_ids == ("added/sharpen.md",)
    names = {p.name for p in folder.iterdir()}
    assert "chunks.milvus.json" in names and "chunks.faiss" not in names
    index = Index.open(folder, embedder=emb)
    assert index.vector_store() == VectorStore("milvus", "milvus.db")
    hits = HybridRetriever(index, top_k=3, min_score=0.0).retrieve("how do I sharpen edges")
    assert hits.chunks[0].chunk.doc_id == "added/sharpen.md"


def test_a_milvus_server_is_asked_for_both_searches_of_a_question_at_once(tmp_path, monkeypatch):
    """Issue 24 item 3: on a server each search is a round trip; the chunk and image searches
    of a question go out together, so it waits for one. The server here is milvus-lite's gRPC
    one on a loopback port, reached through pymilvus as a remote Milvus is."""
    import threading

    from milvus_lite.server_manager import server_manager_instance

    emb = HashEmbedder(dim=64)
    png, docs = _docs_with_figures(tmp_path)
    db = str(tmp_path / "server.db")
    uri = server_manager_instance.start_and_get_uri(db)
    try:
        kw = {"embedder": emb, "progress": False, "corpus_root": png.parent}
        # ties (this embedder makes many) are ordered as Milvus orders them, not as faiss does
        build_index(docs, tmp_path / "lite", store=VectorStore("milvus"), **kw)
        build_index(docs, tmp_path / "remote", store=VectorStore("milvus", uri), **kw)
        assert "milvus.db" not in {p.name for p in (tmp_path / "remote").iterdir()}
        lite = Index.open(tmp_path / "lite", embedder=emb)
        assert not lite._chunk_index.remote
        remote = Index.open(tmp_path / "remote", embedder=emb)
        assert remote._chunk_index.remote and remote._image_index.remote
        both = threading.Barrier(2, timeout=10)  # a search waits here for the other one
        fetches: list[int] = []
        for store in (remote._chunk_index, remote._image_index):
            real = store._store.search

            def together(*a, _real=real, **kw):
                both.wait()  # raises BrokenBarrierError if the searches came one by one
                return _real(*a, **kw)

            monkeypatch.setattr(store._store, "search", together)
        real_get = remote._chunk_index._store.get

        def counted_get(rows, _real=real_get):
            fetches.append(len(rows))
            return _real(rows)

        monkeypatch.setattr(remote._chunk_index._store, "get", counted_get)
        r_lite = HybridRetriever(lite, top_k=5, min_score=0.0, image_neighbours=2)
        r_remote = HybridRetriever(remote, top_k=5, min_score=0.0, image_neighbours=2)
        for q in QUESTIONS:
            got, want = r_remote.retrieve(q), r_lite.retrieve(q)
            assert [c.chunk.chunk_id for c in got.chunks] == [c.chunk.chunk_id for c in want.chunks]
            assert [c.image_id for c in got.candidates] == [c.image_id for c in want.candidates]
        # rows a search did not score: the small collection is read whole once, then kept
        vecs = np.asarray(lite.stored_vectors("chunks"))
        np.testing.assert_allclose(remote._chunk_index.fetch([3, 7]), vecs[[3, 7]], atol=1e-6)
        np.testing.assert_allclose(remote._chunk_index.fetch([39, 0]), vecs[[39, 0]], atol=1e-6)
        assert fetches == [40]
    finally:
        server_manager_instance.release_server(db)


def test_the_milvus_index_is_exact_below_the_ivf_size_and_recorded_in_the_pointer(tmp_path):
    """The collection's index and search parameters are chosen by size and written in the
    pointer file, which a reader searches with; a pointer from before (no index record) still
    opens, as FLAT."""
    import json

    from m2io.index.ann import EXACT_MAX, NPROBE, milvus_index

    assert milvus_index(EXACT_MAX - 1) == ("IVF_FLAT", {"nlist": 1}, {"nprobe": 1})
    assert milvus_index(1_000_000) == ("IVF_FLAT", {"nlist": 1000}, {"nprobe": NPROBE})
    emb = HashEmbedder(dim=64)
    build_index(_docs(), tmp_path / "m", embedder=emb, progress=False, store=VectorStore("milvus"))
    pointer = tmp_path / "m" / "chunks.milvus.json"
    record = json.loads(pointer.read_text())
    assert record["milvus"]["index"] == {
        "type": "IVF_FLAT",
        "params": {"nlist": 1},
        "search": {"nprobe": 1},
    }
    want = _answers(Index.open(tmp_path / "m", embedder=emb))
    del record["milvus"]["index"]
    pointer.write_text(json.dumps(record))
    old = Index.open(tmp_path / "m", embedder=emb)
    assert old._chunk_index.index_type == "FLAT" and _answers(old) == want


def test_a_milvus_lite_database_held_by_another_process_is_a_clear_error(tmp_path):
    """milvus-lite locks its database folder: a second process opening the index is told why."""
    import subprocess
    import sys

    from m2io.index.store import IndexFormatError

    emb = HashEmbedder(dim=64)
    build_index(_docs(), tmp_path / "m", embedder=emb, progress=False, store=VectorStore("milvus"))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from milvus_lite.db import MilvusLite; db = MilvusLite(sys.argv[1]); "
            "print('held', flush=True); sys.stdin.read()",
            str(tmp_path / "m" / "milvus.db"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(IndexFormatError, match="open in another process"):
            Index.open(tmp_path / "m", embedder=emb)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_remote_search_threads_work_in_a_forked_worker():
    """`m2io serve --workers` forks after loading: a thread pool made before the fork has no
    threads in the child, and work submitted there would wait for ever."""
    from m2io.index import store

    assert store._pool().submit(lambda: 1).result(timeout=10) == 1  # made in this process
    pid = os.fork()
    if pid == 0:  # the worker: exit 0 only if its searches can run
        try:
            os._exit(0 if store._pool().submit(lambda: 2).result(timeout=5) == 2 else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
