"""Chunking keeps every image, once, with the text that introduces it; contexts around images."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures_corpus import build_folder, build_mramg

from m2io.corpus import (
    chunk_corpus,
    chunk_document,
    image_context,
    load_corpus,
    load_folder,
    load_mramg,
    sentence_spans,
)
from m2io.text import split_sentences
from m2io.types import Chunk, Document, ImageAnchor, ImageRef


def _doc(text_with_marks: str, doc_id: str = "d") -> Document:
    """A document from text where ``@name`` marks an image position."""
    parts = text_with_marks.split("@")
    text, anchors = parts[0], []
    for part in parts[1:]:
        name, _, rest = part.partition(" ")
        anchors.append(ImageAnchor(ImageRef(name), len(text)))
        text += rest
    return Document(doc_id, text, tuple(anchors), title="T")


def _check_invariants(doc: Document, chunks: list[Chunk]) -> None:
    """Every image exactly once, offsets re-based onto the chunk text, text slices of the doc."""
    placed = [(a.image.image_id, c.start + a.offset) for c in chunks for a in c.images]
    assert sorted(i for i, _ in placed) == sorted(a.image.image_id for a in doc.images)
    for c in chunks:
        assert doc.text[c.start : c.start + len(c.text)] == c.text
        for a in c.images:
            assert 0 <= a.offset <= len(c.text)
    for anchor, (_, offset) in zip(doc.images, placed, strict=True):
        # re-based offsets map back to the same place, up to the whitespace at a chunk's end
        assert doc.text[offset : anchor.offset].strip() == ""


LONG = (
    "Layers hold parts of a picture. @a Each layer can be hidden or shown at will.\n\n"
    "The Layers dialog lists them all. It opens from the Windows menu. @b\n\n"
    "Blend modes combine a layer with the ones below. There are many of them. "
    "Multiply darkens. Screen lightens. @c @d Overlay does both. "
    "A very long closing sentence goes on and on with many words so that it has to be cut "
    "somewhere in the middle because it alone is longer than the limit. @e"
)


@pytest.mark.parametrize("max_words", [3, 8, 15, 40, 500])
@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_every_image_kept_once_with_rebased_offsets(max_words: int, overlap: int) -> None:
    doc = _doc(LONG)
    chunks = chunk_document(doc, max_words=max_words, overlap_sentences=overlap)
    _check_invariants(doc, chunks)
    assert [c.chunk_id for c in chunks] == [f"d#{n}" for n in range(len(chunks))]
    assert all(c.title == "T" and c.doc_id == "d" for c in chunks)
    if overlap == 0:
        assert all(len(c.text.split()) <= max_words for c in chunks)
        assert " ".join(" ".join(c.text.split()) for c in chunks) == " ".join(doc.text.split())


def test_image_on_a_boundary_stays_with_the_sentence_before() -> None:
    doc = _doc("First figure is here. @fig Then the text goes on.")
    chunks = chunk_document(doc, max_words=5, overlap_sentences=0)
    assert [c.text for c in chunks] == ["First figure is here.", "Then the text goes on."]
    assert [(a.image.image_id, a.offset) for a in chunks[0].images] == [("fig", 21)]
    assert chunks[1].images == ()


def test_image_inside_a_chunk_keeps_its_place() -> None:
    doc = _doc("One two three. @x Four five six. Seven eight nine.")
    [chunk] = chunk_document(doc, max_words=50)
    assert chunk.images[0].offset == doc.images[0].offset
    assert chunk.text[: chunk.images[0].offset].endswith("three. ")


def test_overlap_repeats_sentences_but_not_images() -> None:
    doc = _doc("Alpha beta gamma. @x Delta epsilon zeta. Eta theta iota.")
    chunks = chunk_document(doc, max_words=3, overlap_sentences=1)
    assert [c.text for c in chunks] == [
        "Alpha beta gamma.",
        "Alpha beta gamma. Delta epsilon zeta.",
        "Delta epsilon zeta. Eta theta iota.",
    ]
    assert [len(c.images) for c in chunks] == [1, 0, 0]
    assert chunks[1].start == 0


def test_cuts_prefer_paragraph_breaks() -> None:
    text = "A b c d e. F g h i j.\n\nK l m n o. P q r s t. U v w x y."
    chunks = chunk_document(Document("d", text), max_words=16, overlap_sentences=0)
    assert [c.text for c in chunks] == ["A b c d e. F g h i j.", "K l m n o. P q r s t. U v w x y."]


def test_long_sentence_is_cut_at_words() -> None:
    doc = Document("d", " ".join(f"w{i}" for i in range(25)))
    chunks = chunk_document(doc, max_words=10, overlap_sentences=0)
    assert [len(c.text.split()) for c in chunks] == [10, 10, 5]


def test_edge_documents() -> None:
    assert chunk_document(Document("e", "  \n ")) == []
    only_images = Document("i", "", (ImageAnchor(ImageRef("x"), 0), ImageAnchor(ImageRef("y"), 0)))
    [chunk] = chunk_document(only_images)
    assert [a.image.image_id for a in chunk.images] == ["x", "y"]
    with pytest.raises(ValueError, match="max_words"):
        chunk_document(only_images, max_words=0)
    with pytest.raises(ValueError, match="overlap"):
        chunk_document(only_images, overlap_sentences=-1)


def test_chunking_is_deterministic() -> None:
    doc = _doc(LONG)
    assert chunk_document(doc, max_words=12) == chunk_document(doc, max_words=12)


def test_sentence_spans_follow_the_shared_splitter() -> None:
    text = 'He said "stop." Then he left.\nA heading\nWrapped line of a\nlonger sentence here.'
    spans = sentence_spans(text)
    assert len(spans) == len(split_sentences(text))
    assert [text[s:e] for s, e in spans][:2] == ['He said "stop.', "Then he left."]


def test_image_context_is_trimmed_at_words() -> None:
    doc = _doc("The toolbox holds every tool. @t It sits on the left of the window.")
    assert image_context(doc, 0) == (
        "The toolbox holds every tool.",
        "It sits on the left of the window.",
    )
    before, after = image_context(doc, 0, chars=12)
    assert before == "every tool."  # "holds" would be cut, so it goes
    assert after == "It sits on"
    with pytest.raises(IndexError):
        image_context(doc, 1)


def test_corpora_chunk_with_all_images(tmp_path: Path) -> None:
    for corpus in (
        load_mramg(build_mramg(tmp_path / "m")),
        load_folder(build_folder(tmp_path / "f")),
    ):
        chunks = chunk_corpus(corpus.documents, max_words=8)
        for doc in corpus.documents:
            _check_invariants(doc, [c for c in chunks if c.doc_id == doc.doc_id])


def test_dev_set_chunks_keep_all_images(dev_data: Path) -> None:
    corpus = load_corpus(dev_data)
    chunks = chunk_corpus(corpus.documents)
    assert sum(len(c.images) for c in chunks) == sum(len(d.images) for d in corpus.documents)
    by_doc: dict[str, list[Chunk]] = {}
    for c in chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    for doc in corpus.documents:
        _check_invariants(doc, by_doc.get(doc.doc_id, []))
