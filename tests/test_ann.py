"""Approximate vector search for large indexes: chosen by size, close to exact, read back
without holding the vectors twice."""

from __future__ import annotations

import gc

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.index import ann  # noqa: E402
from m2io.index.ann import (  # noqa: E402
    EXACT_MAX,
    KIND_ENV,
    VectorStore,
    choose_kind,
    index_kind,
    read_store_vectors,
    recall_at_k,
    write_store_vectors,
)
from m2io.testing.hash_embedder import HashEmbedder  # noqa: E402
from m2io.types import Document  # noqa: E402


def _clustered(n: int, dim: int = 48, centres: int = 40, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centres, dim))
    x = c[rng.integers(0, centres, n)] + 0.35 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_small_indexes_stay_exact_and_large_ones_become_approximate(monkeypatch):
    monkeypatch.setenv(KIND_ENV, "hnsw")  # the library reads no environment (issue 23 item 3)
    assert choose_kind(EXACT_MAX - 1) == "exact"
    assert choose_kind(EXACT_MAX) == "ivf"
    assert choose_kind(10 * EXACT_MAX, "exact") == "exact"
    assert choose_kind(500, "hnsw") == "hnsw"
    assert choose_kind(10, "ivf") == "exact"  # too few to train cells on
    assert choose_kind(1000) == "exact"
    with pytest.raises(ValueError, match="use one of"):
        choose_kind(1000, "lsh")
    with pytest.raises(ValueError, match="use one of"):
        VectorStore("lsh")
    with pytest.raises(ValueError, match="needs the milvus"):
        VectorStore("exact", milvus_uri="http://h:19530")


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_search_finds_what_exact_search_finds(tmp_path, kind):
    vecs = _clustered(4000)
    queries = _clustered(50, seed=1)
    write_store_vectors(tmp_path / "exact.faiss", vecs, "exact")
    assert write_store_vectors(tmp_path / "ann.faiss", vecs, kind) == kind
    exact, exact_vecs = read_store_vectors(tmp_path / "exact.faiss")
    approx, approx_vecs = read_store_vectors(tmp_path / "ann.faiss")
    assert index_kind(approx) == kind and index_kind(exact) == "exact"
    np.testing.assert_allclose(approx_vecs, vecs, atol=1e-6)  # row order kept
    np.testing.assert_allclose(exact_vecs, vecs, atol=1e-6)
    _, want = exact.search(queries, 10)
    _, got = approx.search(queries, 10)
    assert recall_at_k(got, want, 10) >= 0.9


def test_vectors_read_back_stay_valid_after_the_index_is_dropped(tmp_path):
    vecs = _clustered(300)
    write_store_vectors(tmp_path / "v.faiss", vecs, "exact")
    index, view = read_store_vectors(tmp_path / "v.faiss")
    del index
    gc.collect()
    _clustered(3000, seed=5)  # reuse freed memory, if any was freed
    np.testing.assert_allclose(view, vecs, atol=1e-6)


def test_a_large_index_is_built_approximate_and_answers_like_exact(tmp_path, monkeypatch):
    from m2io.index import Index, build_index

    monkeypatch.setattr(ann, "EXACT_MAX", 100)  # "large" for a test
    topics = ["crop", "layer", "brush", "colour", "path", "text", "filter", "mask"]
    docs = [
        Document(
            doc_id=f"d{i}",
            text=" ".join(f"Use the {topics[i % 8]} tool {w} {i}." for w in range(12)),
            title=f"{topics[i % 8]} {i}",
        )
        for i in range(160)
    ]
    build_index(docs, tmp_path / "big", embedder=HashEmbedder(dim=256), progress=False)
    index = Index.open(tmp_path / "big", embedder=HashEmbedder(dim=256))
    assert index_kind(index._chunk_index) == "ivf"
    q = index.embed_query("how do I use the brush tool")
    scores, rows = index.search_chunks(q, 5)
    exact = np.argsort(-(index.stored_vectors("chunks") @ q), kind="stable")[:5]
    assert index.chunks[rows[0]].title.startswith("brush")
    assert recall_at_k(rows[None], exact[None], 5) >= 0.8
    np.testing.assert_allclose(index.chunk_similarity(q, list(rows)), scores, atol=1e-5)


def test_one_query_is_searched_on_one_thread_and_the_setting_is_restored(tmp_path):
    import faiss

    from m2io.index.ann import search_one

    vecs = _clustered(500)
    write_store_vectors(tmp_path / "v.faiss", vecs, "exact")
    index, _ = read_store_vectors(tmp_path / "v.faiss")
    before = faiss.omp_get_max_threads()
    scores, rows = search_one(index, vecs[7], 3)
    assert rows[0] == 7 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert faiss.omp_get_max_threads() == before
