"""Stored sentence vectors (issue 24 item 2): an index keeps a vector for every sentence an
extractive answer can quote, so the inserters that compare an answer's sentences with its images
send none of them to the model; old indexes without the files, and damaged files, still work."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from m2io.embed.base import CachedTextEmbedder
from m2io.testing.hash_embedder import HashEmbedder

pytest.importorskip("faiss")
pytest.importorskip("bm25s")
PIL = pytest.importorskip("PIL.Image")

from m2io.generators.extractive import ExtractiveGenerator  # noqa: E402
from m2io.index import Index, build_index  # noqa: E402
from m2io.index import sentences as stored  # noqa: E402
from m2io.index.build import text_key  # noqa: E402
from m2io.index.sentences import SENTENCE_KEYS, SENTENCES  # noqa: E402
from m2io.index.update import NewDocument, add_documents  # noqa: E402
from m2io.inserters.anchored import AnchoredInserter  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402


class CountingEmbedder(CachedTextEmbedder):
    """The hash embedder behind the real embedders' cache; ``sent`` holds every text that
    reached the model."""

    def __init__(self, dim: int = 64) -> None:
        self._hash = HashEmbedder(dim=dim)
        self.name, self.dim = self._hash.name, dim
        self.sent: list[str] = []
        self._init_cache(small_batch=32, recent=0)

    def _run(self, texts: list[str], batch_size: int) -> np.ndarray:
        self.sent += texts
        return self._hash.encode(texts)


CORPUS = {
    "crop.md": (
        "# Crop tool\n\nThe crop tool removes the borders of an image. Drag a rectangle over the "
        "part to keep, e.g. the face in a portrait.\n\n![The crop rectangle](crop.png)\n\n"
        "Press Enter to crop the image to the rectangle. The canvas shrinks to fit.\n"
    ),
    "blur.md": "# Gaussian blur\n\nThe blur filter softens every pixel of the layer.\n",
    "layers.md": "# Layers\n\nLayers are stacked like transparent sheets of paper.\n",
}


@pytest.fixture(autouse=True)
def _report_again():
    stored._reported.clear()  # each test sees its own once-per-folder warnings
    yield
    stored._reported.clear()


def _built(tmp_path: Path, sentence_vectors: bool | None) -> Path:
    """The test corpus (with a figure) indexed into ``tmp_path/index``."""
    from m2io.corpus import load_corpus

    root = tmp_path / "corpus"
    root.mkdir()
    for name, text in CORPUS.items():
        (root / name).write_text(text)
    PIL.new("RGB", (64, 64), (10, 200, 10)).save(root / "crop.png")
    corpus = load_corpus(str(root))
    out = tmp_path / "index"
    kw = {"embedder": HashEmbedder(), "corpus_root": corpus.root, "progress": False}
    build_index(corpus.documents, out, sentence_vectors=sentence_vectors, **kw)
    return out


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return _built(tmp_path, sentence_vectors=True)


def answer_of(index: Index, question: str):
    retrieval = HybridRetriever(index, top_k=3).retrieve(question)
    answer = ExtractiveGenerator(embedder=None, max_words=60).generate(question, retrieval)
    assert answer.sentences
    return answer, retrieval


def test_an_extractive_answer_embeds_none_of_its_sentences(index_dir):
    emb = CountingEmbedder()
    index = Index.open(index_dir, embedder=emb)
    assert index.sentence_vectors is not None and len(index.sentence_vectors) >= 6
    answer, retrieval = answer_of(index, "How do I crop an image?")
    texts = [s.text for s in answer.sentences]
    emb.sent.clear()
    vecs = emb.encode(texts)
    assert emb.sent == []  # every sentence came from the index
    assert np.allclose(vecs, HashEmbedder().encode(texts), atol=1e-3)  # float16 of the same
    # the anchored inserter compares the sentences with an image it must place by similarity
    bare = replace(retrieval.candidates[0], context_before="", context_after="")
    emb.sent.clear()
    placement = AnchoredInserter(embedder=emb, fallback=1, threshold=-1.0).insert(answer, (bare,))
    assert placement.slots  # placed by similarity with the sentences ...
    assert emb.sent and not set(emb.sent) & set(texts)  # ... none of which was embedded


def test_a_sentence_not_in_the_index_is_embedded(index_dir):
    emb = CountingEmbedder()
    Index.open(index_dir, embedder=emb)
    emb.encode(["A sentence an LLM wrote.", "The blur filter softens every pixel of the layer."])
    assert emb.sent == ["A sentence an LLM wrote."]


def test_an_index_without_the_files_opens_embeds_and_says_so_once(index_dir, caplog):
    for name in (SENTENCES, SENTENCE_KEYS):
        (index_dir / name).unlink()
    emb = CountingEmbedder()
    with caplog.at_level(logging.INFO, logger="m2io.index.sentences"):
        index = Index.open(index_dir, embedder=emb)
        Index.open(index_dir, embedder=CountingEmbedder())
    assert index.sentence_vectors is None
    said = [r.getMessage() for r in caplog.records if "sentence vectors" in r.getMessage()]
    assert len(said) == 1 and "m2io index --sentence-vectors" in said[0]
    assert all(r.levelno < logging.WARNING for r in caplog.records)  # the default: not a fault
    answer, _ = answer_of(index, "How do I crop an image?")
    emb.sent.clear()
    emb.encode([s.text for s in answer.sentences])
    assert emb.sent == list(dict.fromkeys(s.text for s in answer.sentences))


def _damage(index_dir: Path, how: str) -> None:
    keys, vecs = index_dir / SENTENCE_KEYS, index_dir / SENTENCES
    if how == "one file missing":
        keys.unlink()
    elif how == "header declares more than the file holds":
        data = bytearray(vecs.read_bytes())
        at = data.index(b"'shape': (") + len("'shape': (")
        data[at : at + 1] = b"9"  # (n, 64) -> (9n, 64)
        vecs.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "another model's width":
        arr = np.load(vecs)
        np.save(vecs, np.ascontiguousarray(arr[:, :32]))
    elif how == "float32, not float16":
        np.save(vecs, np.load(vecs).astype(np.float32))
    elif how == "rows out of order":
        np.save(keys, np.load(keys)[::-1].copy())
    elif how == "not unit vectors":
        np.save(vecs, np.load(vecs) * 3.0)
    elif how == "not a numpy file":
        vecs.write_bytes(b"hello")
    else:  # pragma: no cover
        raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "one file missing",
        "header declares more than the file holds",
        "another model's width",
        "float32, not float16",
        "rows out of order",
        "not unit vectors",
        "not a numpy file",
    ],
)
def test_damaged_files_are_reported_and_ignored(index_dir, caplog, how):
    _damage(index_dir, how)
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="m2io.index.sentences"):
        index = Index.open(index_dir, embedder=emb)
        answer, _ = answer_of(index, "How do I crop an image?")
        texts = list(dict.fromkeys(s.text for s in answer.sentences))
        emb.sent.clear()
        vecs = emb.encode(texts)
    assert emb.sent == texts  # embedded, as without the files
    assert np.allclose(vecs, HashEmbedder().encode(texts), atol=1e-6)
    said = [r.getMessage() for r in caplog.records if "sentence vectors ignored" in r.getMessage()]
    assert len(said) == 1 and str(index_dir) in said[0]


def test_an_embedder_of_another_model_is_not_handed_the_vectors(index_dir):
    emb = CountingEmbedder()
    emb.name = "another-model"
    Index.open(index_dir, embedder=emb)
    emb.encode(["The blur filter softens every pixel of the layer."])
    assert len(emb.sent) == 1


def test_keys_are_the_builds_text_keys_and_rebuilds_reuse_them(index_dir, tmp_path):
    index = Index.open(index_dir, embedder=HashEmbedder())
    table = index.sentence_vectors
    assert table is not None
    key = text_key("The blur filter softens every pixel of the layer.")
    assert key in {k.tobytes() for k in table.keys}
    # an old index gains the files from an incremental build that embeds only the sentences
    for name in (SENTENCES, SENTENCE_KEYS):
        (index_dir / name).unlink()
    from m2io.corpus import load_corpus
    from m2io.index.build import update_index

    corpus = load_corpus(str(tmp_path / "corpus"))
    kw = {"embedder": HashEmbedder(), "corpus_root": corpus.root, "progress": False}
    report = update_index(corpus.documents, index_dir, sentence_vectors=True, **kw)
    assert report.vectors_embedded == len(table)
    again = Index.open(index_dir, embedder=HashEmbedder()).sentence_vectors
    assert again is not None and np.array_equal(again.keys, table.keys)
    report = update_index(corpus.documents, index_dir, **kw)
    assert report.vectors_embedded == 0


def test_documents_added_later_get_their_sentences_stored(index_dir):
    add_documents(
        index_dir,
        [
            NewDocument(
                "fog.md", "# Fog\n\nThe fog filter adds a haze. It works on any layer.\n", {}
            )
        ],
        text_embedder=HashEmbedder(),
    )
    emb = CountingEmbedder()
    Index.open(index_dir, embedder=emb)
    emb.encode(
        ["The fog filter adds a haze.", "Layers are stacked like transparent sheets of paper."]
    )
    assert emb.sent == []


def test_an_index_copied_elsewhere_is_a_separate_table(index_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(index_dir, copy)
    emb = CountingEmbedder()
    Index.open(index_dir, embedder=emb)
    Index.open(copy, embedder=emb)
    assert len(emb._tables) == 2
    Index.open(copy, embedder=emb)  # opened again (after an update): replaces, not adds
    assert len(emb._tables) == 2


@pytest.mark.parametrize("asked", [False, None])  # None: the default, for a new index
def test_a_build_without_sentence_vectors_stores_none_and_says_nothing(tmp_path, caplog, asked):
    out = _built(tmp_path, sentence_vectors=asked)
    emb = CountingEmbedder()
    with caplog.at_level(logging.WARNING, logger="m2io.index.sentences"):
        index = Index.open(out, embedder=emb)
    assert index.sentence_vectors is not None and len(index.sentence_vectors) == 0
    assert not [r for r in caplog.records if "sentence vectors" in r.getMessage()]
    emb.encode(["The blur filter softens every pixel of the layer."])
    assert len(emb.sent) == 1


def test_a_build_keeps_what_the_index_has_unless_told(index_dir, tmp_path):
    """The option is opt-in (about 3x the build time): a later build that does not say keeps an
    index's sentence vectors (embedding nothing again), and False drops them."""
    from m2io.corpus import load_corpus
    from m2io.index.build import update_index

    corpus = load_corpus(str(tmp_path / "corpus"))
    kw = {"embedder": HashEmbedder(), "corpus_root": corpus.root, "progress": False}
    report = update_index(corpus.documents, index_dir, **kw)
    assert report.vectors_embedded == 0
    assert len(Index.open(index_dir, embedder=HashEmbedder()).sentence_vectors) >= 6
    update_index(corpus.documents, index_dir, sentence_vectors=False, **kw)
    assert len(Index.open(index_dir, embedder=HashEmbedder()).sentence_vectors) == 0


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this system")
def test_a_fifo_in_place_of_the_sentence_files_is_not_waited_on(index_dir, caplog):
    """A hostile index folder: a FIFO named sentences.keys.npy would block a plain open for
    ever; the build's check and the index's open read only regular files."""
    from m2io.index.sentences import keeps_sentences

    (index_dir / SENTENCE_KEYS).unlink()
    os.mkfifo(index_dir / SENTENCE_KEYS)
    assert keeps_sentences(index_dir) is False
    with caplog.at_level(logging.WARNING, logger="m2io.index.sentences"):
        index = Index.open(index_dir, embedder=HashEmbedder())
    assert index.sentence_vectors is None
    assert any("ignored" in r.getMessage() for r in caplog.records)
