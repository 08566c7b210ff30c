"""Sentence vectors filled in the background (issue 24 item 2): an index built without them gets
them while it is served, written like a build's, so the inserters stop embedding answers'
sentences; a fill that dies leaves a consistent index, and a folder it cannot write is filled in
memory."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("faiss")
pytest.importorskip("bm25s")
pytest.importorskip("PIL.Image")

from test_sentence_vectors import CountingEmbedder, _built  # noqa: E402

from m2io.index import Index  # noqa: E402
from m2io.index import sentence_fill as fill_mod  # noqa: E402
from m2io.index.sentence_fill import SentenceFill  # noqa: E402
from m2io.index.sentences import index_sentences, keeps_sentences  # noqa: E402
from m2io.pipeline import Pipeline  # noqa: E402


@pytest.fixture
def plain(tmp_path: Path) -> Path:
    """An index built the default way: an empty sentence table."""
    return _built(tmp_path, sentence_vectors=None)


def _sentences(index: Index) -> list[str]:
    return index_sentences(index.chunks)


def test_a_served_index_fills_and_its_answers_then_embed_no_sentence(plain: Path) -> None:
    assert not keeps_sentences(plain)
    emb = CountingEmbedder()
    index = Index.open(plain, embedder=emb)
    texts = _sentences(index)
    fill = SentenceFill(index, batch=3)
    fill.run()
    assert (fill.done, fill.total, fill.saved) == (len(texts), len(texts), len(texts))
    assert keeps_sentences(plain)  # written: a restart finds them
    emb.sent.clear()
    emb.encode(texts)
    assert emb.sent == []  # every sentence an extractive answer quotes is looked up
    again = CountingEmbedder()
    reopened = Index.open(plain, embedder=again)
    assert len(reopened.sentence_vectors) == len(texts)
    got = again.encode(texts[:2])
    assert again.sent == [] and np.allclose(got, emb._hash.encode(texts[:2]), atol=1e-3)
    assert not list(plain.glob(".*.tmp"))


def test_the_pipeline_fills_on_a_thread_at_its_own_pace(plain: Path) -> None:
    from m2io.retrievers.hybrid import HybridRetriever

    emb = CountingEmbedder()
    pipe = Pipeline(HybridRetriever(Index.open(plain, embedder=emb)), None, None)  # type: ignore[arg-type]
    fill = pipe.fill_sentence_vectors()
    assert fill is not None and fill.finished.wait(30)
    assert fill.done == fill.total > 0 and keeps_sentences(plain)
    assert SentenceFill(Index.open(plain, embedder=CountingEmbedder())).run() is None


class Dying(CountingEmbedder):
    """Dies on its ``die_at``-th model call, as a killed process would stop."""

    def __init__(self, die_at: int) -> None:
        super().__init__()
        self.calls, self.die_at = 0, die_at

    def _run(self, texts, batch_size):
        self.calls += 1
        if self.calls == self.die_at:
            raise KeyboardInterrupt("killed")
        return super()._run(texts, batch_size)


def test_a_killed_fill_leaves_a_consistent_index_and_the_next_one_resumes(plain: Path) -> None:
    index = Index.open(plain, embedder=Dying(die_at=3))
    total = len(_sentences(index))
    fill = SentenceFill(index, batch=2, save_every=0.0)
    with pytest.raises(KeyboardInterrupt):
        fill.run()
    assert fill.saved == 4 < total  # two calls written, the third died
    assert not list(plain.glob(".*.tmp"))
    (plain / ".sentences.npy.999.fill.tmp").write_bytes(b"half")  # killed while writing
    emb = CountingEmbedder()
    resumed = Index.open(plain, embedder=emb)
    assert len(resumed.sentence_vectors) == 4  # the files agree with each other
    SentenceFill(resumed, batch=2).run()
    assert len(emb.sent) == total - 4  # only what was missing was embedded
    assert not list(plain.glob(".*.tmp"))  # the killed write's leftovers are gone
    assert len(Index.open(plain, embedder=CountingEmbedder()).sentence_vectors) == total


def test_a_folder_that_cannot_be_written_is_filled_in_memory(plain: Path, monkeypatch) -> None:
    def read_only(*args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    before = {p.name: p.read_bytes() for p in plain.iterdir() if p.is_file()}
    emb = CountingEmbedder()
    index = Index.open(plain, embedder=emb)
    texts = _sentences(index)
    monkeypatch.setattr(fill_mod, "_save", read_only)
    monkeypatch.setattr(fill_mod.os, "open", read_only)  # not even the lock file
    fill = SentenceFill(index)
    fill.run()
    monkeypatch.undo()
    assert fill.saved is None and fill.done == fill.total > 0
    assert {p.name: p.read_bytes() for p in plain.iterdir() if p.is_file()} == before
    emb.sent.clear()
    emb.encode(texts)
    assert emb.sent == []  # this process answers from memory


def test_a_second_process_follows_the_one_that_fills(plain: Path) -> None:
    first = SentenceFill(Index.open(plain, embedder=CountingEmbedder()), save_every=0.0)
    assert first._take_lock() is True  # the first worker fills
    emb = CountingEmbedder()
    second = SentenceFill(Index.open(plain, embedder=emb), save_every=0.0)
    second.follow_every = 0.05
    thread = threading.Thread(target=second.run)
    thread.start()
    first._fill()
    import os

    os.close(first._lock_fd)  # the first one ends: the second takes the lock, finds all there
    thread.join(10)
    assert second.finished.is_set() and second.done == second.total > 0
    assert emb.sent == []  # it read what the first one wrote


def test_a_reopened_index_gets_its_own_fill_and_the_old_one_stops(plain: Path) -> None:
    pytest.importorskip("fastapi")
    from m2io.retrievers.hybrid import HybridRetriever
    from m2io.serve.state import reopen_pipeline

    emb = CountingEmbedder()
    pipe = Pipeline(HybridRetriever(Index.open(plain, embedder=emb)), None, None)  # type: ignore[arg-type]
    assert Pipeline(pipe.retriever, None, None).sentence_fill is None  # type: ignore[arg-type]
    old = pipe.fill_sentence_vectors(background=False)
    new = reopen_pipeline(pipe, plain)  # as after an upload swapped the folder
    assert old._stop.is_set()
    assert new.sentence_fill is not None and new.sentence_fill is not old
    assert new.sentence_fill.index is new.retriever.index
    assert new.sentence_fill.finished.wait(30) and new.sentence_fill.done == old.total
