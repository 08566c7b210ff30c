"""Index integrity under hostile or broken input (issue 10, items 1 and 6).

An index records its corpus root and hands out only image files inside it; it can be moved with
its corpus; builds into one folder take turns and clean up after killed ones; a damaged index is
a clear "rebuild" error, never a stray AttributeError; an unknown embedder name is a one-line
error saying what works offline.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from m2io.testing.hash_embedder import HashEmbedder as _HashEmbedder
from m2io.types import Document, ImageAnchor, ImageRef

pytest.importorskip("faiss")
pytest.importorskip("bm25s")

from m2io.index import Index, IndexFormatError, build_index  # noqa: E402
from m2io.index.vectors import write_vectors  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24
REBUILD = r"rebuild the index with: m2io index SOURCE --out DIR"


class HashEmbedder(_HashEmbedder):
    """The shared test embedder at this file's vector size."""

    def __init__(self, dim: int = 32, name: str = "test-hash") -> None:
        super().__init__(dim, name)


class GatedEmbedder(HashEmbedder):
    """Says when a build reaches embedding, then waits until released."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def encode(self, texts, **kw):
        self.entered.set()
        assert self.release.wait(20), "test never released the build"
        return super().encode(texts, **kw)


def make_corpus(root: Path, tag: str = "") -> list[Document]:
    """Two documents with two local images under ``root/images``."""
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    refs = []
    for name in ("crop", "blur"):
        (images / f"{name}.png").write_bytes(PNG)
        refs.append(ImageRef(name, str(images / f"{name}.png"), caption=f"The {name} dialog"))
    docs = []
    for ref, text in zip(
        refs,
        ["The crop tool removes borders of an image.", "The blur filter softens every pixel."],
        strict=True,
    ):
        body = f"{text} {tag}".strip()
        docs.append(
            Document(ref.image_id + tag, body, (ImageAnchor(ref, len(body)),), ref.image_id)
        )
    return docs


@pytest.fixture
def built(tmp_path) -> tuple[Path, Path]:
    """``(corpus folder, index folder)``, siblings under ``tmp_path/site``."""
    corpus, idx = tmp_path / "site" / "corpus", tmp_path / "site" / "idx"
    build_index(
        make_corpus(corpus), idx, embedder=HashEmbedder(), progress=False, corpus_root=corpus
    )
    return corpus, idx


def _rewrite(path: Path, line: int, edit) -> None:
    """Replace the parsed row on 1-based ``line`` of a JSONL file by ``edit(row)`` (raw if str)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    new = edit(json.loads(lines[line - 1]))
    lines[line - 1] = new if isinstance(new, str) else json.dumps(new)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _refusals(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "outside the corpus root" in r.getMessage()]


# --- corpus root and image paths ------------------------------------------------------------


def test_image_paths_are_stored_relative_to_a_recorded_corpus_root(built):
    corpus, idx = built
    manifest = json.loads((idx / "manifest.json").read_text())
    assert manifest["corpus_root"] == "../corpus"
    assert manifest["corpus_root_absolute"] == str(corpus.resolve())
    rows = [json.loads(line) for line in (idx / "images.jsonl").read_text().splitlines()]
    assert [r["path"] for r in rows] == ["images/crop.png", "images/blur.png"]
    index = Index.open(idx, embedder=HashEmbedder())
    assert index.corpus_root == corpus.resolve()
    assert [c.image.path for c in index.candidates] == [
        str(corpus.resolve() / "images" / f"{n}.png") for n in ("crop", "blur")
    ]


@pytest.mark.parametrize("hostile", ["/proc/self/environ", "../../etc/passwd", "/etc/passwd"])
def test_an_index_row_pointing_outside_the_corpus_gets_no_file(built, hostile, caplog):
    _, idx = built
    _rewrite(idx / "images.jsonl", 1, lambda row: {**row, "path": hostile})
    with caplog.at_level(logging.WARNING):
        index = Index.open(idx, embedder=HashEmbedder())
    assert index.candidates[0].image.path is None
    assert index.candidates[1].image.path is not None  # the honest row is untouched
    held = [a.image for chunk in index.chunks for a in chunk.images]
    assert all(image.path != hostile for image in held)
    refusals = _refusals(caplog)
    assert len(refusals) == 1 and "1 image paths outside the corpus root refused" in refusals[0]


def test_a_corpus_image_swapped_for_a_symlink_after_indexing_is_refused(built, tmp_path, caplog):
    corpus, idx = built
    secret = tmp_path / "secret.txt"
    secret.write_text("API_KEY=hunter2")
    (corpus / "images" / "crop.png").unlink()
    (corpus / "images" / "crop.png").symlink_to(secret)
    with caplog.at_level(logging.WARNING):
        index = Index.open(idx, embedder=HashEmbedder())
    by_id = {c.image_id: c.image.path for c in index.candidates}
    assert by_id["crop"] is None
    assert by_id["blur"] is not None and Path(by_id["blur"]).is_file()
    assert len(_refusals(caplog)) == 1


def test_an_image_outside_the_corpus_root_is_not_indexed_as_a_file(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "elsewhere"
    docs = make_corpus(corpus)
    (outside).mkdir()
    (outside / "x.png").write_bytes(PNG)
    stray = ImageRef("stray", str(outside / "x.png"), caption="stray")
    docs.append(Document("stray", "A stray image.", (ImageAnchor(stray, 3),)))
    build_index(docs, tmp_path / "idx", embedder=HashEmbedder(), progress=False, corpus_root=corpus)
    index = Index.open(tmp_path / "idx", embedder=HashEmbedder())
    by_id = {c.image_id: c.image.path for c in index.candidates}
    assert by_id["stray"] is None and by_id["crop"] is not None
    assert str(outside) not in (tmp_path / "idx" / "images.jsonl").read_text()


def test_an_index_moved_with_its_corpus_keeps_its_images(built, tmp_path):
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "site", moved)
    index = Index.open(moved / "idx", embedder=HashEmbedder())
    assert index.corpus_root == (moved / "corpus").resolve()
    paths = [c.image.path for c in index.candidates]
    assert paths and all(p is not None and Path(p).is_file() for p in paths)
    assert all(Path(p).is_relative_to(moved.resolve()) for p in paths)


def test_a_corpus_moved_with_its_index_is_still_current(built, tmp_path):
    from m2io.evaluation.e2e import index_matches

    corpus, idx = built
    assert index_matches(idx, make_corpus(corpus), corpus)
    moved = tmp_path / "moved"
    shutil.move(tmp_path / "site", moved)
    # documents reloaded from the new place carry new absolute paths, yet match the index
    assert index_matches(moved / "idx", make_corpus(moved / "corpus"), moved / "corpus")
    assert not index_matches(moved / "idx", make_corpus(moved / "corpus", "v2"), moved / "corpus")


def test_an_index_moved_alone_finds_its_corpus_by_the_absolute_root(built, tmp_path):
    corpus, idx = built
    shutil.move(idx, tmp_path / "lonely-idx")
    index = Index.open(tmp_path / "lonely-idx", embedder=HashEmbedder())
    assert index.corpus_root == corpus.resolve()
    assert all(Path(c.image.path).is_file() for c in index.candidates)


def test_a_missing_corpus_is_one_warning_naming_it_and_text_still_answers(built, caplog):
    corpus, idx = built
    shutil.rmtree(corpus)
    with caplog.at_level(logging.WARNING):
        index = Index.open(idx, embedder=HashEmbedder())
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert str(corpus.resolve()) in warnings[0] and "corpus root is gone" in warnings[0]
    assert index.corpus_root is None
    assert all(c.image.path is None for c in index.candidates)
    _, rows = index.search_chunks(index.embed_query("crop borders"), 1)
    assert index.chunks[rows[0]].doc_id == "crop"


def test_the_cli_records_the_corpus_folder_as_root(tmp_path, monkeypatch):
    import m2io.embed.text as text_mod
    from m2io.cli.main import main

    corpus = tmp_path / "corpus"
    (corpus / "img").mkdir(parents=True)
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(corpus / "img" / "red.png")
    (corpus / "page.md").write_text("# Red\n\nA red square.\n\n![A red square](img/red.png)\n")
    monkeypatch.setattr(text_mod, "load_text_embedder", lambda name, backend: HashEmbedder())
    assert main(["index", str(corpus), "--out", str(tmp_path / "idx"), "--quiet"]) == 0
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["corpus_root"] == "../corpus"
    index = Index.open(tmp_path / "idx", embedder=HashEmbedder())
    assert [Path(c.image.path).name for c in index.candidates] == ["red.png"]


# --- validation on open ------------------------------------------------------------------------


def test_a_version_1_index_says_how_to_rebuild(built):
    _, idx = built
    data = json.loads((idx / "manifest.json").read_text())
    data["format_version"] = 1
    del data["corpus_root"], data["corpus_root_absolute"]
    (idx / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match=rf"version 1.*{REBUILD}"):
        Index.open(idx)


@pytest.mark.parametrize("name", ["chunks.faiss", "images.faiss"])
def test_a_vector_file_with_the_wrong_row_count_is_refused(built, name):
    _, idx = built
    write_vectors(idx / name, np.ones((7, 32), np.float32))
    with pytest.raises(IndexFormatError, match=rf"{name}: holds 7 rows.*says 2.*{REBUILD}"):
        Index.open(idx, embedder=HashEmbedder())


def test_a_bm25_index_with_the_wrong_row_count_is_refused(built):
    from m2io.index.lexical import LexicalIndex

    _, idx = built
    shutil.rmtree(idx / "bm25")
    LexicalIndex.build(["one text", "two", "three"]).save(idx / "bm25")
    with pytest.raises(IndexFormatError, match=rf"bm25: holds 3 rows.*{REBUILD}"):
        Index.open(idx, embedder=HashEmbedder())


BAD_ROWS = {
    "chunk text is a number": ("chunks.jsonl", lambda r: {**r, "text": 5}),
    "chunk images not pairs": ("chunks.jsonl", lambda r: {**r, "images": [["0", 1]]}),
    "chunk images a string": ("chunks.jsonl", lambda r: {**r, "images": "x"}),
    "chunk image row out of range": ("chunks.jsonl", lambda r: {**r, "images": [[999, 0]]}),
    "chunk image offset negative": ("chunks.jsonl", lambda r: {**r, "images": [[0, -4]]}),
    "chunk row lacks doc_id": (
        "chunks.jsonl",
        lambda r: {k: v for k, v in r.items() if k != "doc_id"},
    ),
    "chunk row is a list": ("chunks.jsonl", lambda r: "[1, 2]"),
    "chunk line is not JSON": ("chunks.jsonl", lambda r: '{"chunk_id": '),
    "image path is a number": ("images.jsonl", lambda r: {**r, "path": 7}),
    "image caption is null": ("images.jsonl", lambda r: {**r, "caption": None}),
    "image position is text": ("images.jsonl", lambda r: {**r, "doc_position": "half"}),
    "image row is a string": ("images.jsonl", lambda r: '"hello"'),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_rows_with_wrong_types_are_a_rebuild_error_naming_file_and_line(built, case):
    _, idx = built
    name, edit = BAD_ROWS[case]
    _rewrite(idx / name, 2, edit)
    with pytest.raises(IndexFormatError, match=rf"{name} line 2: .*{REBUILD}"):
        Index.open(idx, embedder=HashEmbedder())


def test_a_manifest_with_wrong_types_is_a_rebuild_error(built):
    _, idx = built
    data = json.loads((idx / "manifest.json").read_text())
    data["n_chunks"] = "2"
    (idx / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexFormatError, match=rf"n_chunks.*{REBUILD}"):
        Index.open(idx)


# --- build lock and leftovers -------------------------------------------------------------------


def _siblings(idx: Path) -> list[str]:
    return sorted(p.name for p in idx.parent.iterdir() if p.name.startswith(f".{idx.name}"))


def test_a_second_build_into_the_same_folder_waits_for_the_first(tmp_path):
    corpus, idx = tmp_path / "corpus", tmp_path / "idx"
    first, second = GatedEmbedder(), HashEmbedder()
    second_started: list[float] = []
    encode = second.encode
    second.encode = lambda texts, **kw: (
        second_started.append(time.monotonic()) or encode(texts, **kw)
    )
    errors: list[BaseException] = []

    def build(tag, embedder):
        try:
            build_index(make_corpus(corpus, tag), idx, embedder=embedder, progress=False)
        except BaseException as err:  # reported below
            errors.append(err)

    a = threading.Thread(target=build, args=("a", first))
    a.start()
    assert first.entered.wait(10)
    b = threading.Thread(target=build, args=("b", second))
    b.start()
    time.sleep(0.5)
    assert second_started == []  # still waiting for the first build's lock
    released = time.monotonic()
    first.release.set()
    a.join(20)
    b.join(20)
    assert errors == []
    assert second_started and second_started[0] >= released
    index = Index.open(idx, embedder=HashEmbedder())
    assert {c.doc_id for c in index.chunks} == {"cropb", "blurb"}  # the later build won
    assert _siblings(idx) == []


def test_a_build_that_cannot_get_the_lock_in_time_fails_clearly(tmp_path):
    corpus, idx = tmp_path / "corpus", tmp_path / "idx"
    first = GatedEmbedder()
    a = threading.Thread(
        target=build_index,
        args=(make_corpus(corpus), idx),
        kwargs={"embedder": first, "progress": False},
    )
    a.start()
    try:
        assert first.entered.wait(10)
        with pytest.raises(ValueError, match=r"another build into .*idx is still running"):
            build_index(
                make_corpus(corpus), idx, embedder=HashEmbedder(), progress=False, lock_timeout=0.2
            )
    finally:
        first.release.set()
        a.join(20)
    assert Index.open(idx, embedder=HashEmbedder()).manifest.n_documents == 2


class RendezvousEmbedder(HashEmbedder):
    """Holds each build, at its last embedding call, until all builds are there (or 1 s passed):
    without a lock they then all reach the final renames together."""

    def __init__(self, barrier) -> None:
        super().__init__()
        self.barrier, self.calls = barrier, 0

    def encode(self, texts, **kw):
        self.calls += 1
        if self.calls == 2:  # chunks, then images: the last call before the swap
            try:
                self.barrier.wait(timeout=1.0)
            except threading.BrokenBarrierError:
                pass  # builds take turns: the others are waiting for the lock
        return super().encode(texts, **kw)


def _build_in_process(corpus: Path, idx: Path, tag: str, barrier, failures) -> None:
    try:
        build_index(
            make_corpus(corpus, tag), idx, embedder=RendezvousEmbedder(barrier), progress=False
        )
    except BaseException as err:  # reported by the test
        failures.put(f"{tag}: {type(err).__name__}: {err}")


def test_many_concurrent_builds_end_with_one_valid_index_and_no_leftovers(tmp_path):
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    corpus, idx = tmp_path / "corpus", tmp_path / "idx"
    make_corpus(corpus)
    tags = "abcdef"
    for _ in range(3):  # the first round creates the index, the others replace it
        barrier, failures = ctx.Barrier(len(tags)), ctx.Queue()
        procs = [
            ctx.Process(target=_build_in_process, args=(corpus, idx, t, barrier, failures))
            for t in tags
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        errors = []
        while not failures.empty():
            errors.append(failures.get())
        assert errors == [] and [p.exitcode for p in procs] == [0] * len(tags)
        index = Index.open(idx, embedder=HashEmbedder())
        assert len({c.doc_id[-1] for c in index.chunks}) == 1  # one build's documents, no mix
        assert _siblings(idx) == []


def test_leftovers_of_killed_builds_are_removed_by_the_next_build(built):
    corpus, idx = built
    for name in (f".{idx.name}.building-deadbeef", f".{idx.name}.old-cafebabe"):
        (idx.parent / name).mkdir()
        (idx.parent / name / "chunks.jsonl").write_text("half\n")
    build_index(make_corpus(corpus), idx, embedder=HashEmbedder(), progress=False)
    assert _siblings(idx) == []
    assert sorted(os.listdir(idx.parent)) == ["corpus", "idx"]


def test_an_index_left_renamed_away_by_a_killed_build_is_restored(built):
    corpus, idx = built
    os.replace(idx, idx.parent / f".{idx.name}.old-12345678")
    docs = make_corpus(corpus)

    class Dies(HashEmbedder):
        def encode(self, texts, **kw):
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        build_index(docs, idx, embedder=Dies(), progress=False)
    assert Index.open(idx, embedder=HashEmbedder()).manifest.n_documents == 2
    assert _siblings(idx) == []


# --- embedder names -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["no-such-org/no-such-model", "./no/such/folder"])
def test_an_unknown_embedder_is_a_one_line_error_naming_what_works_offline(tmp_path, capsys, name):
    pytest.importorskip("sentence_transformers")
    from m2io.cli.main import main

    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.md").write_text("# A\n\nSome text.\n")
    rc = main(
        ["index", str(tmp_path / "corpus"), "--out", str(tmp_path / "idx"), "--embedder", name]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("m2io index: error:") and name in err[-1]
    assert "'all-MiniLM-L6-v2'" in err[-1] and "offline" in err[-1]
    assert not (tmp_path / "idx").exists()


def test_an_unknown_clip_model_is_a_value_error_in_one_line(tmp_path):
    pytest.importorskip("transformers")
    from m2io.embed.image import CLIPImageEmbedder

    with pytest.raises(ValueError, match="cannot load CLIP model") as info:
        CLIPImageEmbedder(str(tmp_path / "nowhere"))
    assert "\n" not in str(info.value)
