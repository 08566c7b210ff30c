"""The persistent index: build, reopen without re-embedding, determinism, atomic rebuilds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from builders import FakePixels

from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import Document, ImageAnchor, ImageRef

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.index import (  # noqa: E402
    FORMAT_VERSION,
    Index,
    IndexFormatError,
    build_index,
    corpus_hash,
)


class FailingEmbedder(HashEmbedder):
    """Raises on its ``fail_on``-th call, to kill a build half-way."""

    def __init__(self, fail_on: int) -> None:
        super().__init__()
        self.fail_on = fail_on

    def encode(self, texts, **kw):
        if self.calls + 1 == self.fail_on:
            raise RuntimeError("embedding died half-way")
        return super().encode(texts, **kw)


def _doc(doc_id: str, title: str, paragraphs: list[str], images: dict[int, ImageRef]) -> Document:
    """A document whose ``images[k]`` sits right after paragraph k."""
    text, anchors = "", []
    for k, para in enumerate(paragraphs):
        text += para if not text else "\n\n" + para
        if k in images:
            anchors.append(ImageAnchor(images[k], len(text)))
    return Document(doc_id, text, tuple(anchors), title=title)


def make_docs(tmp_path: Path) -> list[Document]:
    icon = tmp_path / "crop-icon.png"
    icon.write_bytes(b"\x89PNG crop icon bytes")
    crop_icon = ImageRef("crop-icon", str(icon), caption="The Crop tool icon in the Toolbox")
    return [
        _doc(
            "crop",
            "Crop Tool",
            [
                "Crop Tool. The Crop tool removes the border areas of an image or a layer.",
                "Select the crop tool in the toolbox. Then drag a rectangle over the part of the "
                "image you want to keep. Press Enter to crop the image to that rectangle.",
                "Cropping is often used to remove distracting borders from a photograph.",
            ],
            {
                0: crop_icon,
                1: ImageRef(
                    "crop-drag",
                    None,
                    "http://x/crop.png",
                    "Dragging the crop rectangle over the canvas",
                ),
            },
        ),
        _doc(
            "blur",
            "Gaussian Blur",
            [
                "Gaussian Blur. The Gaussian blur filter blurs every pixel of the active layer.",
                "Open Filters, Blur, Gaussian Blur and set the radius. A larger radius gives a "
                "softer picture.",
            ],
            {1: ImageRef("blur-dialog", None, None, "The Gaussian blur dialog")},
        ),
        _doc(
            "layers",
            "Layers",
            [
                f"Layers. Sentence {i} about layers stacked like transparent sheets of paper, each "
                "with its own opacity and mode, and the stack order decides what you see."
                for i in range(12)
            ],
            {},
        ),
        _doc(
            "toolbox",
            "Toolbox",
            [
                "Toolbox. The toolbox holds the tools such as the crop tool and the text tool.",
                "Each tool has options in the tool options dialog.",
            ],
            {0: crop_icon},
        ),
    ]


@pytest.fixture
def docs(tmp_path) -> list[Document]:
    return make_docs(tmp_path)


def test_build_then_open_round_trips_chunks_and_image_records(docs, tmp_path):
    out = tmp_path / "idx"
    manifest = build_index(docs, out, embedder=HashEmbedder(), max_words=40, progress=False)

    assert manifest.format_version == FORMAT_VERSION
    assert (manifest.embedder, manifest.dim) == ("test-hash", 64)
    assert manifest.n_documents == 4 and manifest.n_images == 4
    assert manifest.n_chunks > 4  # the layers page is cut into several chunks
    assert manifest.content_hash == corpus_hash(docs)
    assert json.loads((out / "manifest.json").read_text())["n_chunks"] == manifest.n_chunks

    index = Index.open(out, embedder=HashEmbedder())
    assert index.manifest == manifest
    assert len(index.chunks) == manifest.n_chunks
    assert [c.image_id for c in index.candidates] == [
        "crop-icon",
        "crop-drag",
        "blur-dialog",
        "crop-icon",
    ]
    drag = index.candidates[1]
    assert drag.doc_id == "crop" and drag.image.url == "http://x/crop.png"
    assert drag.context_before.endswith("to that rectangle.")
    assert drag.context_after.startswith("Cropping is often")
    assert 0 < drag.doc_position < 1
    # every image occurrence sits in exactly one chunk, which its record names
    held = [row for rows in index.chunk_image_rows for row in rows]
    assert sorted(held) == [0, 1, 2, 3]
    for chunk, rows in zip(index.chunks, index.chunk_image_rows, strict=True):
        assert [a.image for a in chunk.images] == [index.candidates[r].image for r in rows]
        for r in rows:
            assert index.candidates[r].chunk_id == chunk.chunk_id


def test_open_computes_no_embedding_and_loads_the_embedder_lazily(docs, tmp_path, monkeypatch):
    build_index(docs, tmp_path / "idx", embedder=HashEmbedder(), progress=False)
    import m2io.embed.text as text_mod

    loaded = []
    monkeypatch.setattr(
        text_mod, "load_text_embedder", lambda name: loaded.append(name) or HashEmbedder()
    )
    index = Index.open(tmp_path / "idx")
    assert loaded == []
    q = index.embed_query("crop tool")
    assert loaded == ["test-hash"] and q.shape == (64,)
    scores, rows = index.search_chunks(q, 3)
    assert index.chunks[rows[0]].doc_id in {"crop", "toolbox"}
    assert np.all(np.diff(scores) <= 1e-6)


def test_same_documents_give_identical_files(docs, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    build_index(docs, a, embedder=HashEmbedder(), image_embedder=FakePixels(), progress=False)
    build_index(docs, b, embedder=HashEmbedder(), image_embedder=FakePixels(), progress=False)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert {Path("chunks.jsonl"), Path("images.jsonl"), Path("chunks.faiss")} <= set(files)
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        if rel.name != "manifest.json":
            assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    ma.pop("created"), mb.pop("created")
    assert ma == mb


def test_pixel_vectors_are_stored_once_per_file_and_zero_without_a_file(docs, tmp_path):
    pixels = FakePixels()
    manifest = build_index(
        docs, tmp_path / "idx", embedder=HashEmbedder(), image_embedder=pixels, progress=False
    )
    assert (manifest.image_embedder, manifest.image_dim) == ("fake-pixels", 8)
    assert len(pixels.seen) == 1  # crop-icon.png is used twice, embedded once
    index = Index.open(tmp_path / "idx", embedder=HashEmbedder(), image_embedder=FakePixels())
    assert index.has_pixels
    scores, rows = index.search_pixels("anything", 4)
    by_row = dict(zip(rows.tolist(), scores.tolist(), strict=True))
    assert by_row[0] > 0 and by_row[3] == pytest.approx(by_row[0])
    assert by_row[1] == 0 and by_row[2] == 0  # no local file: zero vector


def test_empty_document_list_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least one document"):
        build_index([], tmp_path / "idx", embedder=HashEmbedder())
    assert not (tmp_path / "idx").exists()


def test_repeated_doc_ids_are_refused(docs, tmp_path):
    with pytest.raises(ValueError, match="unique"):
        build_index([docs[0], docs[0]], tmp_path / "idx", embedder=HashEmbedder())


def test_opening_something_else_names_the_folder(docs, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(IndexFormatError, match="plain.*not an m2io index"):
        Index.open(plain)
    with pytest.raises(IndexFormatError, match="missing"):
        Index.open(tmp_path / "missing")

    out = tmp_path / "idx"
    build_index(docs, out, embedder=HashEmbedder(), progress=False)
    data = json.loads((out / "manifest.json").read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (out / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match=rf"idx.*version {FORMAT_VERSION + 1}"):
        Index.open(out)


def test_incomplete_index_is_a_clear_error(docs, tmp_path):
    out = tmp_path / "idx"
    build_index(docs, out, embedder=HashEmbedder(), progress=False)
    (out / "chunks.faiss").unlink()
    with pytest.raises(IndexFormatError, match="idx.*incomplete"):
        Index.open(out)


def test_injected_embedder_must_match_the_index_dimension(docs, tmp_path):
    build_index(docs, tmp_path / "idx", embedder=HashEmbedder(), progress=False)
    with pytest.raises(ValueError, match="32-d.*64-d"):
        Index.open(tmp_path / "idx", embedder=HashEmbedder(dim=32))


def test_a_build_that_dies_half_way_leaves_the_old_index_usable(docs, tmp_path):
    out = tmp_path / "idx"
    old = build_index(docs[:2], out, embedder=HashEmbedder(), progress=False)
    # call 1 embeds the chunks, call 2 the images: die in between, files half written
    with pytest.raises(RuntimeError, match="half-way"):
        build_index(docs, out, embedder=FailingEmbedder(fail_on=2), progress=False)
    index = Index.open(out, embedder=HashEmbedder())
    assert index.manifest == old
    assert {c.doc_id for c in index.chunks} == {"crop", "blur"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crop-icon.png", "idx"]

    new = build_index(docs, out, embedder=HashEmbedder(), progress=False)
    assert Index.open(out).manifest == new and new.n_documents == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crop-icon.png", "idx"]


def test_refuses_to_overwrite_a_folder_that_is_not_an_index(docs, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    with pytest.raises(ValueError, match="not an m2io index"):
        build_index(docs, precious, embedder=HashEmbedder())
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_bm25_matches_word_forms(docs, tmp_path):
    build_index(docs, tmp_path / "idx", embedder=HashEmbedder(), progress=False)
    index = Index.open(tmp_path / "idx")
    scores = index.lexical.scores("cropped images")  # stems: crop, imag
    best = index.chunks[int(np.argmax(scores))]
    assert best.doc_id == "crop"
    assert not index.lexical.scores("the of and").any()  # stopwords only
    assert not index.lexical.scores("zebra").any()
