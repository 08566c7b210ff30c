"""An opened index keeps its rows and vectors in mapped files (issue 24, item 1): what callers
see is unchanged, the pages are the page cache's (shared by every process that opens the index),
and an index swapped out under a reader stays whole for that reader."""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import Document, ImageAnchor, ImageRef

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.index import Index, IndexFormatError, build_index  # noqa: E402
from m2io.index.rows import RowFile, scan_rows  # noqa: E402


def _docs(tag: str, n: int = 6) -> list[Document]:
    icon = ImageRef("icon", None, "http://x/icon.png", "The crop icon")
    return [
        Document(
            f"{tag}{i}",
            f"Page {i} of {tag}. The crop tool number {i} removes borders. " * 30,
            (ImageAnchor(icon, 5),) if i % 2 == 0 else (),
            f"{tag} page {i}",
        )
        for i in range(n)
    ]


@pytest.fixture
def idx(tmp_path) -> Path:
    out = tmp_path / "idx"
    build_index(_docs("a"), out, embedder=HashEmbedder(), max_words=40, progress=False)
    return out


def test_rows_read_on_access_equal_the_rows_in_the_file(idx):
    index = Index.open(idx, embedder=HashEmbedder())
    chunks = list(index.chunks)
    assert len(chunks) == index.manifest.n_chunks > 6
    assert index.chunks[-1] == chunks[-1] and index.chunks[np.int64(2)] == chunks[2]
    assert index.chunks[1:3] == chunks[1:3] and index.chunks == chunks
    with pytest.raises(IndexError):
        index.chunks[len(chunks)]
    # each chunk's images, section and document agree with the rows themselves
    for row, chunk in enumerate(chunks):
        images = [index.candidates[r].image for r in index.chunk_image_rows[row]]
        assert images == [a.image for a in chunk.images]
        assert row in index.doc_rows[chunk.doc_id]
        start, end = index.chunk_sections[row]
        assert start <= chunk.start < end
        assert index.chunk_words[row] == len(chunk.text.split())
    assert [r for rows in index.doc_rows.values() for r in rows] == list(range(len(chunks)))
    # counted at open so that a retriever need not read every row
    assert index.titled_chunks == sum(1 for c in chunks if c.title) > 0
    assert index.chunk_languages == Counter(c.source.language for c in chunks)


def test_a_reader_keeps_its_version_when_a_new_build_replaces_the_folder(idx):
    old = Index.open(idx, embedder=HashEmbedder())
    q = old.embed_query("crop tool number 3")
    before = (list(old.chunks), old.stored_vectors("chunks").copy(), old.search_chunks(q, 3))
    build_index(_docs("b", 9), idx, embedder=HashEmbedder(), max_words=40, progress=False)
    assert {c.doc_id[0] for c in Index.open(idx, embedder=HashEmbedder()).chunks} == {"b"}
    old.__dict__.pop("_memo", None)  # search again, not from the memo
    assert list(old.chunks) == before[0]
    np.testing.assert_array_equal(old.stored_vectors("chunks"), before[1])
    scores, rows = old.search_chunks(q, 3)
    np.testing.assert_array_equal(rows, before[2][1])
    assert old.lexical.scores("crop").shape == (len(before[0]),)


def test_stored_vectors_are_read_only_not_a_crash_when_written(idx):
    vecs = Index.open(idx, embedder=HashEmbedder()).stored_vectors("chunks")
    with pytest.raises(ValueError, match="read-only"):
        vecs[0, 0] = 1.0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_an_open_index_maps_its_vectors_rows_and_bm25_arrays_instead_of_copying_them(idx):
    index = Index.open(idx, embedder=HashEmbedder())
    real = os.path.realpath(idx)
    mapped = {
        Path(line.split()[-1]).relative_to(real).as_posix()
        for line in Path("/proc/self/maps").read_text().splitlines()
        if line.split()[-1].startswith(real + os.sep)
    }
    assert {"chunks.faiss", "images.faiss", "chunks.jsonl", "images.jsonl"} <= mapped
    assert any(name.startswith("bm25/") for name in mapped)
    assert index.chunks[0].text  # still read from the map


def test_blank_lines_are_skipped_and_a_bad_row_is_named_by_its_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    buf, starts = scan_rows(path, lambda value, row: None)
    assert [r["a"] for r in RowFile(path, buf, starts, lambda v: v)] == [1, 2]
    path.write_text('{"a": 1}\n\n[1,\n', encoding="utf-8")
    with pytest.raises(IndexFormatError, match=r"rows\.jsonl line 3: invalid JSON"):
        scan_rows(path, lambda value, row: None)
    path.write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(IndexFormatError, match="corrupt index: rows.jsonl line 1"):
        scan_rows(path, lambda value, row: None)
    path.write_bytes(b"")
    buf, starts = scan_rows(path, lambda value, row: None)
    assert len(RowFile(path, buf, starts, lambda v: v)) == 0


def test_where_files_are_not_mapped_the_index_reads_the_same_rows_and_maps_nothing(
    idx, monkeypatch
):
    from m2io.index import ann, lexical, rows, sentences

    mapped = Index.open(idx, embedder=HashEmbedder())
    for module in (ann, lexical, rows, sentences):
        monkeypatch.setattr(module, "MAP_FILES", False)
    read = Index.open(idx, embedder=HashEmbedder())
    assert read.chunks == list(mapped.chunks) and read.candidates == list(mapped.candidates)
    np.testing.assert_array_equal(read.stored_vectors("chunks"), mapped.stored_vectors("chunks"))
    assert isinstance(read.chunks._buf, bytes)
    if sys.platform.startswith("linux"):
        del mapped
        import gc

        gc.collect()
        maps = Path("/proc/self/maps").read_text()
        assert os.path.realpath(idx) + os.sep not in maps
