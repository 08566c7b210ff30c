"""Issue 21 retrieval: sections ranked as units, and by what their headings mean.

A section whose heading path means the question ranks with it although its text words it
otherwise (the dense headings list); a section every list ranks near the top beats a chunk that
two lists rank fairly high (section fusion); an untitled corpus is ranked as before.
"""

from __future__ import annotations

import numpy as np
import pytest

from m2io.retrievers.headings import HeadingVectors, agreement, heading_text, unit_rrf
from m2io.testing.hash_embedder import HashEmbedder
from m2io.types import Chunk, Document, Source

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.index import Index, build_index  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever, rrf  # noqa: E402


def _index(tmp_path, docs, **kw):
    emb = HashEmbedder(64, "test-hash")
    build_index(docs, tmp_path / "idx", embedder=emb, progress=False, **kw)
    return Index.open(tmp_path / "idx", embedder=emb)


def test_heading_text_is_the_path_each_heading_once():
    chunk = Chunk(
        "c", "d", "text", title="Fonts", source=Source("d", title="Editor", section="Fonts")
    )
    assert heading_text(chunk) == "Fonts Editor"
    assert heading_text(Chunk("c", "d", "text")) == ""


def test_heading_vectors_rank_a_heading_rows_together_and_skip_left_out_rows():
    words = ["editor", "font", "table"]

    def encode(texts):  # one axis per word
        return np.array([[float(w in t.lower()) for w in words] for t in texts])

    heads = ["Table tools", "Configuring the editor", "Table tools", "", "Configuring the editor"]
    hv = HeadingVectors(heads, encode)
    editor = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    assert hv.ranking(editor, 10, frozenset()) == [1, 4, 0, 2]  # untitled row 3 never ranked
    assert hv.ranking(editor, 10, frozenset({1})) == [4, 0, 2]
    assert hv.ranking(editor, 1, frozenset()) == [1]
    assert HeadingVectors(["", ""], encode).ranking(editor, 5, frozenset()) == []


def test_a_section_every_list_ranks_first_beats_a_chunk_two_lists_rank_second():
    # chunks 0 and 1 are one section "s"; chunk 2 is section "x", 3 "y", 4 "z"
    section = {0: "s", 1: "s", 2: "x", 3: "y", 4: "z"}.__getitem__
    lists = [[0, 2, 3, 4, 1], [1, 2, 3, 4, 0]]
    by_chunk = rrf(lists, 60)
    assert max(by_chunk, key=by_chunk.get) == 2  # as chunks, 2 wins (second in both)
    by_section = unit_rrf(lists, 60, None, section)
    assert max(by_section, key=by_section.get) == "s"
    assert by_section["s"] == pytest.approx(2 / 61)
    assert by_section["x"] == pytest.approx(2 / 62)  # its rank among sections, not chunks
    assert unit_rrf(lists, 60, [2.0, 0.0], section)["s"] == 2 / 61


def test_a_list_that_agrees_with_no_other_has_no_say_in_the_section_order():
    # dense and BM25 put "pens" and "paths" first; the headings list is drawn to a chapter
    # overview and the title page, and all three rank "contour" third
    section = {0: "pens", 1: "paths", 2: "contour", 3: "overview", 4: "title"}.__getitem__
    dense, bm25, headings = [0, 1, 2], [1, 0, 2], [3, 4, 2]
    lists, weights = [dense, bm25, headings], [1.5, 1.0, 1.0]
    plain = unit_rrf(lists, 60, weights, section)
    assert max(plain, key=plain.get) == "contour"  # third everywhere wins without agreement
    agreed = unit_rrf(lists, 60, weights, section, agree_top=2)
    assert max(agreed, key=agreed.get) == "pens"
    assert agreed["overview"] == 0.0
    # a list's share: one of its three first units is among another list's three first
    assert agreement([["a", "b", "c"], ["a", "x", "y"]], 3) == [1 / 3, 1 / 3]
    # lists that agree with nothing keep their weights, as without agreement
    apart = [[0], [1], [2]]
    assert unit_rrf(apart, 60, None, section, agree_top=3) == unit_rrf(apart, 60, None, section)


def _manual():
    fill = "Panel: toolbar, margins, colours, layout, spacing, cursor, wrapping. " * 3
    return [
        Document(
            "prefs",
            f"{fill}You can pick another typeface and size for the text you type here.",
            title="Configuring the editor",
        ),
        Document(
            "fontref",
            "The \\font command changes the font in the editor. A font has a size; the font "
            "size is set with \\fontsize. Font, font, font.",
            title="LaTeX commands",
        ),
        Document("other", f"{fill}Tables have rows and columns in the editor.", title="Tables"),
    ]


def test_the_heading_that_means_the_question_ranks_its_section_first(tmp_path):
    index = _index(tmp_path, _manual())
    query = "change the font of the editor"
    plain = HybridRetriever(index, min_score=0, heading_weight=0, fuse_sections=False)
    headed = HybridRetriever(index, min_score=0, heading_weight=5.0)
    assert plain.retrieve(query).chunks[0].chunk.doc_id == "fontref"
    assert headed.retrieve(query).chunks[0].chunk.doc_id == "prefs"


def test_an_untitled_corpus_embeds_no_headings_and_ranks_chunks_as_before(tmp_path):
    docs = [Document(d.doc_id, d.text) for d in _manual()]  # no titles
    index = _index(tmp_path, docs)
    query = "change the font of the editor"
    default = HybridRetriever(index, min_score=0)
    calls = index.embedder.calls
    got = default.retrieve(query)
    assert index.embedder.calls == calls + 1  # the question only: no heading was embedded
    old = HybridRetriever(index, min_score=0, heading_weight=0, fuse_sections=False)
    assert [(c.chunk.chunk_id, c.score) for c in got.chunks] == [
        (c.chunk.chunk_id, c.score) for c in old.retrieve(query).chunks
    ]


def test_section_fusion_still_seeds_several_sections(tmp_path):
    # one long page of many chunks all about the question must not fill every seed
    long = " ".join(f"Export the note as a Word file, step {i}." for i in range(120))
    docs = [
        Document("long", long, title="Exporting"),
        Document("word", "Export to Word: choose File, Export, Word document.", title="Word"),
        Document("pdf", "Export to PDF: choose File, Export, PDF.", title="PDF export"),
    ]
    index = _index(tmp_path, docs, max_words=40)
    r = HybridRetriever(index, min_score=0, context_words=4000, section_words=60)
    docs_seen = {c.chunk.doc_id for c in r.retrieve("export my note as a Word file").chunks}
    assert {"long", "word"} <= docs_seen


def test_heading_weight_and_fuse_sections_are_checked(tmp_path):
    index = _index(tmp_path, _manual())
    with pytest.raises(ValueError, match="heading_weight"):
        HybridRetriever(index, heading_weight=-1)
    with pytest.raises(ValueError, match="heading_weight"):
        HybridRetriever(index, heading_weight="1")


class _Counting:
    def __init__(self):
        self.texts = 0

    def __call__(self, texts):
        self.texts += len(texts)
        return HashEmbedder(16).encode(texts)


def test_heading_vectors_are_kept_in_the_folder_and_read_back(tmp_path):
    heads = ["Fonts", "Tables", "Fonts", ""]
    first, again = _Counting(), _Counting()
    made = HeadingVectors(heads, first, cache=tmp_path, model="m")
    kept = list(tmp_path.glob("heading_vectors.*.npy"))
    assert first.texts == 2 and len(kept) == 1
    read = HeadingVectors(heads, again, cache=tmp_path, model="m")
    assert again.texts == 0  # nothing embedded the second time
    np.testing.assert_array_equal(read.vectors, made.vectors)
    other = _Counting()
    HeadingVectors(heads, other, cache=tmp_path, model="another model")
    assert other.texts == 2  # another embedder's vectors are not reused


@pytest.mark.parametrize("bad", ["garbage", "shape", "rows", "header", "fifo", "nan"])
def test_a_hostile_heading_vector_file_is_embedded_again(tmp_path, bad):
    import os

    heads = ["Fonts", "Tables"]
    HeadingVectors(heads, _Counting(), cache=tmp_path, model="m")
    (path,) = tmp_path.glob("heading_vectors.*.npy")
    path.unlink()
    if bad == "garbage":
        path.write_bytes(b"\x93NUMPY not really")
    elif bad == "shape":  # a header promising far more than the file holds
        with open(path, "wb") as f:
            header = {"descr": "<f4", "fortran_order": False, "shape": (2, 10**9)}
            np.lib.format.write_array_header_1_0(f, header)
            f.write(bytes(128))
    elif bad == "rows":  # vectors of another index
        np.save(path, np.zeros((3, 16), dtype=np.float32))
    elif bad == "header":
        np.save(path, np.zeros((2, 16), dtype=np.float32))
        path.write_bytes(path.read_bytes().replace(b"(2, 16)", b"(2, 1 "))
    elif bad == "fifo":
        os.mkfifo(path)  # reading it would block forever
    else:
        np.save(path, np.full((2, 16), np.nan, dtype=np.float32))
    again = _Counting()
    hv = HeadingVectors(heads, again, cache=tmp_path, model="m")
    assert again.texts == 2
    assert hv.vectors.shape == (2, 16) and np.isfinite(hv.vectors).all()


def test_a_folder_that_cannot_be_written_still_ranks(tmp_path):
    blocked = tmp_path / "file"  # a file where the folder should be: nothing can be written
    blocked.write_text("x")
    hv = HeadingVectors(["Fonts", "Tables"], _Counting(), cache=blocked, model="m")
    assert hv.ranking(hv.vectors[1], 5, frozenset()) == [1, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_the_retriever_keeps_the_heading_vectors_of_its_index(tmp_path):
    index = _index(tmp_path, _manual())
    HybridRetriever(index, min_score=0).retrieve("change the font of the editor")
    assert len(list((tmp_path / "idx").glob("heading_vectors.*.npy"))) == 1
    calls = index.embedder.calls
    HybridRetriever(index, min_score=0).retrieve("change the font of the editor")
    assert index.embedder.calls == calls + 1  # the question only


def test_new_headings_replace_the_old_vectors_file(tmp_path):
    """An upload changes an index's headings: the folder keeps one vectors file, not one per
    version, whoever asked the first question after each."""
    HeadingVectors(["Fonts", "Tables"], _Counting(), cache=tmp_path, model="m")
    (first,) = tmp_path.glob("heading_vectors.*.npy")
    HeadingVectors(["Fonts", "Tables", "Uploads"], _Counting(), cache=tmp_path, model="m")
    (second,) = tmp_path.glob("heading_vectors.*.npy")
    assert second.name != first.name


def test_prepare_embeds_the_headings_before_the_first_question(tmp_path):
    """``m2io index`` and the server call ``prepare``: the first question then embeds itself
    only, in this process and in the next one that opens the index."""
    index = _index(tmp_path, _manual())
    HybridRetriever(index, min_score=0).prepare()
    assert len(list((tmp_path / "idx").glob("heading_vectors.*.npy"))) == 1
    emb = HashEmbedder(64, "test-hash")
    again = Index.open(tmp_path / "idx", embedder=emb)
    HybridRetriever(again, min_score=0).retrieve("change the font of the editor")
    assert emb.calls == 1  # the question


def test_prepare_on_an_untitled_index_embeds_nothing(tmp_path):
    index = _index(tmp_path, [Document(d.doc_id, d.text) for d in _manual()])
    calls = index.embedder.calls
    HybridRetriever(index, min_score=0).prepare()
    assert index.embedder.calls == calls
    assert not list((tmp_path / "idx").glob("heading_vectors.*.npy"))


def test_a_reopened_pipeline_has_its_headings_ready(tmp_path):
    """After an upload the server reopens the index: the new headings are embedded then, not
    by the next question."""
    from types import SimpleNamespace

    from m2io.serve.state import reopen_pipeline

    index = _index(tmp_path, _manual())
    pipeline = SimpleNamespace(retriever=HybridRetriever(index, min_score=0))
    build_index(
        [*_manual(), Document("new", "Uploads go here.", title="Uploads")],
        tmp_path / "idx",
        embedder=index.embedder,
        progress=False,
    )
    new = reopen_pipeline(pipeline, tmp_path / "idx")
    calls = new.retriever.index.embedder.calls
    new.retriever.retrieve("change the font of the editor")
    assert new.retriever.index.embedder.calls == calls + 1  # the question only
