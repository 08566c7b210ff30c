"""Hostile files in a corpus or an index (issue 19, items 3-5; docs/design.md, "Hostile input").

Long image references are capped and reported (resolution stays linear, log lines short); FIFOs,
devices and sockets are skipped and reported, never opened for a blocking read; binary index
files whose headers declare more than they hold are a "corrupt index" before anything is
allocated. Every FIFO test runs the loader in a thread with a timeout and unblocks it after, so a
regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import logging
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from m2io.corpus import CorpusError, load_folder, load_mramg
from m2io.safety import MAX_REFERENCE, NotRegularFile, read_regular
from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import Document, ImageAnchor, ImageRef

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")


def _png(path: Path, size: tuple[int, int] = (40, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, "red").save(path)


def _run_with_timeout(fn: Callable[[], Any], fifos: list[Path], timeout: float = 20.0) -> Any:
    """``fn()`` in a thread; fails (and unblocks the thread through ``fifos``) if it hangs."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    hung = thread.is_alive()
    if hung:  # open a writer end so a reader blocked on a FIFO sees EOF and the thread ends
        for fifo in fifos:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        thread.join(5)
    assert not hung, f"the loader blocked on a FIFO for {timeout} s"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# --- item 3: long references ------------------------------------------------------------------


def test_a_450_kb_image_reference_is_reported_and_skipped_with_short_log_lines(tmp_path, caplog):
    root = tmp_path / "c"
    _png(root / "img" / "a.png")
    ref = "a/" * 225_000 + "x.png"  # 450 KB: about 3 s of path resolution before the cap
    (root / "page.md").write_text(
        f"# Page\n\nSome text.\n\n![hostile]({ref})\n\nMore.\n\n![ok](img/a.png)\n",
        encoding="utf-8",
    )
    with caplog.at_level(logging.DEBUG, logger="m2io"):
        corpus = load_folder(root)
    assert [a.image.image_id for a in corpus.documents[0].images] == ["img/a.png"]
    long = [w for w in corpus.warnings if f"longer than {MAX_REFERENCE}" in w]
    assert len(long) == 1 and "page.md" in long[0]
    assert max(len(r.getMessage()) for r in caplog.records) < 10_000
    assert max(len(w) for w in corpus.warnings) < 10_000


def test_a_reference_under_the_cap_still_resolves(tmp_path):
    root = tmp_path / "c"
    _png(root / "img" / "a.png")
    ref = "./" * ((MAX_REFERENCE - 20) // 2) + "img/a.png"
    (root / "page.md").write_text(f"# Page\n\nText.\n\n![ok]({ref})\n", encoding="utf-8")
    corpus = load_folder(root)
    assert [a.image.image_id for a in corpus.documents[0].images] == ["img/a.png"]


# --- item 4: only regular files ---------------------------------------------------------------


@needs_fifo
def test_read_regular_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "x.md"
    os.mkfifo(fifo)
    with pytest.raises(NotRegularFile, match="a FIFO, not a regular file"):
        _run_with_timeout(lambda: read_regular(fifo), [fifo])


@needs_fifo
def test_a_fifo_named_md_in_a_corpus_folder_is_skipped_and_reported(tmp_path):
    root = tmp_path / "c"
    _png(root / "img" / "a.png")
    (root / "good.md").write_text("# Good\n\nReal text.\n\n![A](img/a.png)\n", encoding="utf-8")
    os.mkfifo(root / "x.md")
    os.mkfifo(root / "img" / "f.png")
    (root / "pipe.md").write_text("# Pipe\n\nText.\n\n![F](img/f.png)\n", encoding="utf-8")
    corpus = _run_with_timeout(lambda: load_folder(root), [root / "x.md", root / "img" / "f.png"])
    assert sorted(d.doc_id for d in corpus.documents) == ["good.md", "pipe.md"]
    assert any("x.md" in w and "FIFO" in w for w in corpus.warnings), corpus.warnings
    assert any("img/f.png" in w and "FIFO" in w for w in corpus.warnings), corpus.warnings
    assert corpus.get("pipe.md").images == ()


def _mramg(root: Path) -> None:
    images = root / "IMAGE" / "images" / "T"
    _png(images / "10.png")
    info = root / "IMAGE" / "images_info"
    info.mkdir(parents=True)
    collection = {
        str(i): {"image_url": "", "image_path": f"{i}.png", "image_caption": f"C{i}"}
        for i in (10, 11)
    }
    (info / "t_imgs_collection.json").write_text(json.dumps(collection), encoding="utf-8")
    os.mkfifo(images / "11.png")


@needs_fifo
def test_a_fifo_doc_jsonl_in_an_mramg_folder_is_a_clear_error_not_a_hang(tmp_path):
    root = tmp_path / "m"
    _mramg(root)
    os.mkfifo(root / "doc_t.jsonl")
    with pytest.raises(CorpusError, match=r"doc_t\.jsonl: a FIFO, not a regular file"):
        _run_with_timeout(lambda: load_mramg(root, "t"), [root / "doc_t.jsonl"])


@needs_fifo
def test_a_fifo_image_in_an_mramg_folder_is_skipped_and_the_rest_loads(tmp_path):
    root = tmp_path / "m"
    _mramg(root)
    line = json.dumps([0, "One.<PIC> Two.<PIC>", [10, 11]])
    (root / "doc_t.jsonl").write_text(line + "\n", encoding="utf-8")
    fifo = root / "IMAGE" / "images" / "T" / "11.png"
    corpus = _run_with_timeout(lambda: load_mramg(root, "t"), [fifo])
    assert [a.image.image_id for a in corpus.documents[0].images] == ["10"]
    assert any("11" in w for w in corpus.warnings)


@needs_fifo
def test_an_index_build_skips_an_image_swapped_for_a_fifo(tmp_path):
    pytest.importorskip("faiss")
    pytest.importorskip("bm25s")
    from m2io.index import Index, build_index

    corpus = tmp_path / "c"
    _png(corpus / "a.png")
    os.mkfifo(corpus / "f.png")  # a FIFO where a loaded image was: every reader must refuse it
    refs = [
        ImageRef("a", str(corpus / "a.png"), caption="The crop dialog"),
        ImageRef("f", str(corpus / "f.png"), caption="The blur dialog"),
    ]
    docs = [
        Document(r.image_id, f"The {r.image_id} tool text.", (ImageAnchor(r, 5),), r.image_id)
        for r in refs
    ]
    idx = tmp_path / "idx"
    _run_with_timeout(
        lambda: build_index(
            docs, idx, embedder=HashEmbedder(32), progress=False, corpus_root=corpus
        ),
        [corpus / "f.png"],
    )
    assert Index.open(idx, embedder=HashEmbedder(32)).manifest.n_chunks == 2


# --- item 5: binary headers against file sizes -------------------------------------------------


@pytest.fixture
def built(tmp_path) -> Path:
    pytest.importorskip("faiss")
    pytest.importorskip("bm25s")
    from m2io.index import build_index

    corpus = tmp_path / "c"
    _png(corpus / "a.png")
    ref = ImageRef("a", str(corpus / "a.png"), caption="The crop dialog")
    docs = [
        Document("a", "The crop tool removes borders.", (ImageAnchor(ref, 5),), "a"),
        Document("b", "The blur filter softens pixels.", (), "b"),
    ]
    idx = tmp_path / "idx"
    build_index(docs, idx, embedder=HashEmbedder(32), progress=False, corpus_root=corpus)
    return idx


def _poke(path: Path, offset: int, fmt: str, value: int) -> None:
    data = bytearray(path.read_bytes())
    struct.pack_into(fmt, data, offset, value)
    path.write_bytes(bytes(data))


# A flat faiss file: fourcc, d (i32), ntotal (i64), 2 x i64, is_trained (u8), metric (i32) = 37
# bytes of header, then the vector data's length (u64) and the floats.
@pytest.mark.parametrize(
    ("offset", "fmt", "value", "says"),
    [
        (37, "<Q", 100_000_000, "vector data declares 100000000 items"),  # 400 MB of floats
        (8, "<q", 10**9, "header declares 1000000000 vectors"),
        (4, "<i", 1 << 20, "header declares 2 vectors of 1048576 dimensions"),
    ],
)
def test_a_faiss_file_declaring_more_than_it_holds_is_a_corrupt_index(
    built, offset, fmt, value, says
):
    from m2io.index import Index, IndexFormatError

    _poke(built / "chunks.faiss", offset, fmt, value)
    with pytest.raises(IndexFormatError, match=rf"corrupt index: chunks\.faiss: {says}"):
        Index.open(built, embedder=HashEmbedder(32))


def test_a_bm25_array_declaring_more_than_it_holds_is_a_corrupt_index(built):
    from m2io.index import Index, IndexFormatError

    path = built / "bm25" / "data.csc.index.npy"
    data = np.load(path)
    header = np.lib.format.header_data_from_array_1_0(data)
    header["shape"] = (100_000_000,)  # 400 MB that numpy would allocate before reading
    with path.open("wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(data.tobytes())
    with pytest.raises(IndexFormatError, match=r"corrupt index: data\.csc\.index\.npy: header"):
        Index.open(built, embedder=HashEmbedder(32))


def test_an_intact_index_of_every_faiss_kind_passes_the_header_check(tmp_path):
    pytest.importorskip("faiss")
    from m2io.index.ann import read_store_vectors, write_store_vectors

    vecs = np.random.default_rng(0).standard_normal((2000, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    for kind in ("exact", "ivf", "hnsw"):
        path = tmp_path / f"{kind}.faiss"
        write_store_vectors(path, vecs, kind)
        index, rows = read_store_vectors(path)
        assert index.ntotal == 2000 and rows.shape == (2000, 8)


@needs_fifo
@pytest.mark.parametrize("name", ["chunks.faiss", "chunks.jsonl"])
def test_an_index_file_swapped_for_a_fifo_is_a_corrupt_index_not_a_hang(built, name):
    from m2io.index import Index, IndexFormatError

    (built / name).unlink()
    os.mkfifo(built / name)
    with pytest.raises(IndexFormatError, match="a FIFO, not a regular file"):
        _run_with_timeout(lambda: Index.open(built, embedder=HashEmbedder(32)), [built / name])
