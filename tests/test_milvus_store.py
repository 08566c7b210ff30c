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


def test_a_question_costs_one_search_per_vector_set_and_rows_are_fetched_once(
    tmp_path, monkeypatch
):
    """Issue 24 item 3: the retriever searched the image vectors twice per question and fetched
    the same chunk rows twice; on Milvus each is a round trip."""
    from m2io.types import ImageAnchor, ImageRef

    emb = HashEmbedder(dim=64)
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
        client = store._client
        for method in ("search", "query"):
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
        assert calls.count("chunks.query") <= 1, calls  # the section's rows, fetched once


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
