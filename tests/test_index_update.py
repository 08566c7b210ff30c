"""Updating a built index (issue 12 item 1, POST /v1/documents; issue 13 item 3): documents added
without a rebuild, and incremental, resumable rebuilds."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from builders import FakePixels

from m2io.testing.hash_embedder import HashEmbedder

pytest.importorskip("faiss")
pytest.importorskip("bm25s")
PIL = pytest.importorskip("PIL.Image")

from m2io.index import Index, build_index  # noqa: E402
from m2io.index.update import AddResult, NewDocument, add_documents  # noqa: E402
from m2io.retrievers.headings import heading_text  # noqa: E402
from m2io.retrievers.hybrid import HybridRetriever  # noqa: E402


def png(color: tuple[int, int, int] = (200, 30, 30), size: int = 64) -> bytes:
    buf = io.BytesIO()
    PIL.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def write_corpus(root: Path) -> None:
    """A small Markdown corpus with one image."""
    (root / "img").mkdir(parents=True, exist_ok=True)
    (root / "img" / "crop.png").write_bytes(png((10, 200, 10)))
    (root / "crop.md").write_text(
        "# Crop tool\n\nThe crop tool removes the borders of an image.\n\n"
        "![The crop rectangle](img/crop.png)\n\nPress Enter to crop.\n"
    )
    (root / "blur.md").write_text(
        "# Gaussian blur\n\nThe blur filter softens every pixel of the layer.\n"
    )
    (root / "layers.md").write_text(
        "# Layers\n\nLayers are stacked like transparent sheets of paper.\n"
    )


def build(root: Path, out: Path, embedder=None, **kw):
    from m2io.corpus import load_corpus

    corpus = load_corpus(str(root))
    return build_index(
        corpus.documents,
        out,
        embedder=embedder or HashEmbedder(),
        corpus_root=corpus.root,
        progress=False,
        **kw,
    )


@pytest.fixture
def index_dir(tmp_path) -> Path:
    write_corpus(tmp_path / "corpus")
    build(tmp_path / "corpus", tmp_path / "idx")
    return tmp_path / "idx"


FOG = (
    "# Fog filter\n\nThe fog filter draws clouds of mist over the zebra picture.\n\n"
    "![The fog dialog with its turbulence slider](shots/fog.png)\n\n"
    "Raise the turbulence to thicken the mist.\n"
)


def retrieve(index_dir: Path, query: str):
    index = Index.open(index_dir, embedder=HashEmbedder())
    return index, HybridRetriever(index, top_k=3).retrieve(query)


# --- add_documents -------------------------------------------------------------------------------


def test_added_documents_are_found_with_their_images_and_survive_reopening(index_dir):
    before = Index.open(index_dir, embedder=HashEmbedder())
    emb = HashEmbedder()
    result = add_documents(
        index_dir, [NewDocument("fog.md", FOG, {"shots/fog.png": png()})], text_embedder=emb
    )
    assert result.doc_ids == ("added/fog.md",) and result.images == 1 and result.chunks >= 1
    assert result.problems == ()

    index, found = retrieve(index_dir, "fog turbulence mist zebra")
    assert len(index.chunks) == len(before.chunks) + result.chunks  # the count it reports
    assert found.chunks[0].chunk.doc_id == "added/fog.md"
    (cand,) = [c for c in found.candidates if c.doc_id == "added/fog.md"]
    assert cand.image.caption.startswith("The fog dialog")
    assert Path(cand.image.path).read_bytes() == png()
    assert Path(cand.image.path).is_relative_to(index_dir.resolve() / "added")
    # the old rows and vectors are kept as they were; only the new texts were embedded
    assert index.chunks[: len(before.chunks)] == before.chunks
    assert np.array_equal(
        index.stored_vectors("chunks")[: len(before.chunks)], before.stored_vectors("chunks")
    )
    assert index.manifest.n_documents == before.manifest.n_documents + 1
    assert emb.calls == 2  # the new chunks, then the new image: nothing old re-embedded
    # the old corpus images still resolve inside the corpus
    crop = [c for c in index.candidates if c.doc_id == "crop.md"][0]
    assert Path(crop.image.path).is_relative_to((index_dir.parent / "corpus").resolve())


def test_a_repeated_name_gets_a_new_id_and_bad_inputs_are_reported(index_dir):
    first = add_documents(
        index_dir,
        [NewDocument("fog.md", FOG, {"shots/fog.png": png()})],
        text_embedder=HashEmbedder(),
    )
    docs = [
        NewDocument(
            "fog.md",
            "# Giraffe\n\nA giraffe eats leaves from tall trees.\n\n![Fog](shots/fog.png)\n",
            {
                "shots/fog.png": b"<script>alert(1)</script> not a png",
                "unused.png": png(),
                "../escape.png": png(),
                "dir": png(),
                "dir/inside.png": png(),  # "dir" is a file now: cannot be a folder too
            },
        ),
        NewDocument("../../etc/passwd.md", "# x\n\ntext", {}),
        NewDocument("a\x00b.md", "# x\n\ntext", {}),
        NewDocument("x" * 5000 + ".md", "# x\n\ntext", {}),
        NewDocument("bad\udcff.md", "# x\n\ntext", {}),
        NewDocument("notes.exe", "text", {}),
        NewDocument("empty.md", "", {}),
    ]
    result = add_documents(index_dir, docs, text_embedder=HashEmbedder())
    assert first.doc_ids == ("added/fog.md",)
    assert result.doc_ids == ("added/fog-2.md",)
    text = "\n".join(result.problems)
    assert "fog.md: shots/fog.png: not an image" in text
    assert "fog.md: unused.png: not used by the document" in text
    assert "fog.md: ../escape.png: the path leads outside" in text
    assert "fog.md: shots/fog.png: missing" in text  # referenced, never stored
    assert "'../../etc/passwd.md': the name must be a file name" in text
    assert "control characters" in text and "longer than 200" in text
    assert "not valid UTF-8" in text and "unsupported file type" in text
    assert "empty.md: no text or images" in text
    assert "fog.md: dir/inside.png: cannot be stored" in text
    files = sorted(p.relative_to(index_dir).as_posix() for p in index_dir.rglob("*") if p.is_file())
    added = [f for f in files if f.startswith("added/")]
    assert added == ["added/fog-2.md/fog.md", "added/fog.md/fog.md", "added/fog.md/shots/fog.png"]
    assert not list(index_dir.parent.glob("escape.png")) and not (index_dir / "escape.png").exists()
    index, found = retrieve(index_dir, "giraffe leaves trees")
    assert found.chunks[0].chunk.doc_id == "added/fog-2.md"
    assert not [c for c in index.candidates if c.doc_id == "added/fog-2.md"]


def test_a_request_that_adds_nothing_is_a_value_error_and_changes_nothing(index_dir):
    before = (index_dir / "manifest.json").read_text()
    with pytest.raises(ValueError, match="nothing to add"):
        add_documents(index_dir, [], text_embedder=HashEmbedder())
    with pytest.raises(ValueError, match=r"nothing was added: '\.\./x\.md': the name"):
        add_documents(
            index_dir, [NewDocument("../x.md", "# x\n\ntext", {})], text_embedder=HashEmbedder()
        )
    with pytest.raises(ValueError, match="mix two models"):
        add_documents(
            index_dir,
            [NewDocument("x.md", "# x\n\ntext", {})],
            text_embedder=HashEmbedder(name="other"),
        )
    assert (index_dir / "manifest.json").read_text() == before
    assert sorted(p.name for p in index_dir.parent.iterdir()) == ["corpus", "idx"]


def test_a_reader_that_has_the_index_open_keeps_working_during_updates(index_dir):
    reader = Index.open(index_dir, embedder=HashEmbedder())
    retriever = HybridRetriever(reader, top_k=3)
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                got = retriever.retrieve("crop tool borders")
                assert got.chunks[0].chunk.doc_id == "crop.md"
                Index.open(index_dir, embedder=HashEmbedder())  # a fresh reader opens a whole index
            except BaseException as err:  # reported below
                errors.append(err)
                return

    t = threading.Thread(target=ask)
    t.start()
    try:
        for k in range(5):
            add_documents(
                index_dir,
                [NewDocument(f"n{k}.md", f"# Note {k}\n\nnote number {k} about zebras", {})],
                text_embedder=HashEmbedder(),
            )
    finally:
        stop.set()
        t.join(20)
    assert errors == []
    assert Index.open(index_dir).manifest.n_documents == 3 + 5


def test_a_crash_half_way_through_an_update_leaves_the_old_index(index_dir):
    class Dies(HashEmbedder):
        def encode(self, texts, **kw):
            raise RuntimeError("killed mid-update")

    before = {p.name: p.read_bytes() for p in index_dir.iterdir() if p.is_file()}
    with pytest.raises(RuntimeError, match="killed"):
        add_documents(
            index_dir, [NewDocument("fog.md", FOG, {"shots/fog.png": png()})], text_embedder=Dies()
        )
    assert {p.name: p.read_bytes() for p in index_dir.iterdir() if p.is_file()} == before
    assert not (index_dir / "added").exists()
    assert sorted(p.name for p in index_dir.parent.iterdir()) == ["corpus", "idx"]


# --- incremental and resumable builds ------------------------------------------------------------


class CountingEmbedder(HashEmbedder):
    """The hash embedder, remembering every text it embedded."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts, **kw):
        self.texts.extend(texts)
        return super().encode(texts, **kw)


class DiesAfter(CountingEmbedder):
    """Embeds ``n`` batches, then raises as if the process were killed."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    def encode(self, texts, **kw):
        if self.calls == self.n:
            raise KeyboardInterrupt("killed half-way")
        return super().encode(texts, **kw)


def index_files(folder: Path) -> dict[str, bytes]:
    """Every file of an index but its build time, for comparing two builds byte for byte."""
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    manifest = json.loads(files.pop("manifest.json"))
    manifest.pop("created")
    files["manifest.json"] = json.dumps(manifest, sort_keys=True).encode()
    return files


def update(root: Path, out: Path, embedder, **kw):
    from m2io.corpus import load_corpus
    from m2io.index.build import update_index

    corpus = load_corpus(str(root))
    return update_index(
        corpus.documents, out, embedder=embedder, corpus_root=corpus.root, progress=False, **kw
    )


def test_a_rebuild_of_a_changed_corpus_embeds_only_what_changed_and_drops_deleted(tmp_path):
    corpus, out = tmp_path / "corpus", tmp_path / "idx"
    write_corpus(corpus)
    first = update(corpus, out, CountingEmbedder())
    assert (first.unchanged, first.embedded, first.removed) == (0, 3, 0)

    (corpus / "blur.md").write_text("# Gaussian blur\n\nThe blur filter now has a radius slider.\n")
    (corpus / "layers.md").unlink()
    (corpus / "fog.md").write_text("# Fog\n\nThe fog filter adds mist.\n")
    emb = CountingEmbedder()
    report = update(corpus, out, emb)

    assert (report.unchanged, report.embedded, report.removed) == (1, 2, 1)
    assert report.summary() == "1 documents unchanged, 2 re-embedded, 1 removed"
    assert emb.texts and all("crop" not in t.lower() for t in emb.texts)  # crop.md untouched
    assert any("radius slider" in t for t in emb.texts)
    index = Index.open(out, embedder=HashEmbedder())
    assert set(index.doc_rows) == {"crop.md", "blur.md", "fog.md"}
    # the same files as a build from scratch
    fresh = tmp_path / "fresh"
    update(corpus, fresh, HashEmbedder(), rebuild=True)
    assert index_files(out) == index_files(fresh)

    # nothing changed: nothing embedded; --rebuild embeds everything again
    again = CountingEmbedder()
    assert update(corpus, out, again).summary() == "3 documents unchanged, 0 re-embedded, 0 removed"
    assert again.texts == []
    forced = CountingEmbedder()
    assert update(corpus, out, forced, rebuild=True).embedded == 3 and forced.texts


def test_a_build_killed_half_way_resumes_to_the_uninterrupted_index(tmp_path):
    corpus, out, whole = tmp_path / "corpus", tmp_path / "idx", tmp_path / "whole"
    write_corpus(corpus)
    for k in range(4):
        (corpus / f"page{k}.md").write_text(
            f"# Page {k}\n\n" + " ".join(f"Sentence {k}.{i} about tool {i}." for i in range(30))
        )
    update(corpus, whole, HashEmbedder(), max_words=20, checkpoint_every=2)
    dying = DiesAfter(3)
    with pytest.raises(KeyboardInterrupt):
        update(corpus, out, dying, max_words=20, checkpoint_every=2)
    assert not (out / "manifest.json").exists()  # no index yet, only checkpoints
    assert len(list((out / ".m2io-work").rglob("*.npz"))) == 3

    resumed = CountingEmbedder()
    report = update(corpus, out, resumed, max_words=20, checkpoint_every=2)
    assert set(resumed.texts).isdisjoint(dying.texts)  # nothing embedded twice
    assert report.vectors_resumed == len(dying.texts) == 6
    assert index_files(out).keys() == index_files(whole).keys()
    for name, data in index_files(out).items():
        if name != "manifest.json":
            assert data == index_files(whole)[name], name
    assert not (out / ".m2io-work").exists()  # checkpoints go once the build is in place
    a, b = Index.open(out), Index.open(whole)
    assert a.chunks == b.chunks and a.candidates == b.candidates
    assert np.array_equal(a.stored_vectors("chunks"), b.stored_vectors("chunks"))


def test_added_documents_survive_an_incremental_rebuild_without_being_embedded_again(index_dir):
    add_documents(
        index_dir,
        [NewDocument("fog.md", FOG, {"shots/fog.png": png()})],
        text_embedder=HashEmbedder(),
    )
    emb = CountingEmbedder()
    report = update(index_dir.parent / "corpus", index_dir, emb)
    assert emb.texts == [] and report.unchanged == 4 and report.removed == 0
    index, found = retrieve(index_dir, "fog turbulence mist zebra")
    assert found.chunks[0].chunk.doc_id == "added/fog.md"
    (cand,) = [c for c in found.candidates if c.doc_id == "added/fog.md"]
    assert Path(cand.image.path).read_bytes() == png()


KILLED_BUILD = """
import sys, time
from m2io.corpus import load_corpus
from m2io.index.build import update_index
from m2io.testing.hash_embedder import HashEmbedder

class Hangs(HashEmbedder):
    def encode(self, texts, **kw):
        if self.calls == 2:
            time.sleep(600)  # the test kills the process here, two batches checkpointed
        return super().encode(texts, **kw)

corpus = load_corpus(sys.argv[1])
update_index(corpus.documents, sys.argv[2], embedder=Hangs(), corpus_root=corpus.root,
             progress=False, max_words=20, checkpoint_every=2)
"""


def test_a_build_killed_with_sigkill_resumes_to_the_uninterrupted_index(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus, out, whole = tmp_path / "corpus", tmp_path / "idx", tmp_path / "whole"
    write_corpus(corpus)
    (corpus / "long.md").write_text(
        "# Long\n\n" + " ".join(f"Sentence {i} about tool {i}." for i in range(40))
    )
    update(corpus, whole, HashEmbedder(), max_words=20, checkpoint_every=2)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_BUILD, str(corpus), str(out)])
    try:
        deadline = time.monotonic() + 60
        while len(list(out.glob(".m2io-work/*/*.npz"))) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "build never got going"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    assert list(tmp_path.glob(".idx.building-*"))  # what a killed build leaves

    resumed = CountingEmbedder()
    report = update(corpus, out, resumed, max_words=20, checkpoint_every=2)
    assert report.vectors_resumed == 4 and len(resumed.texts) == report.vectors_embedded
    assert index_files(out) == index_files(whole)  # byte for byte, build time aside
    assert not list(tmp_path.glob(".idx.*"))


KILLED_MID_CALL = """
import os, sys, time
from m2io.corpus import load_corpus
from m2io.index.build import update_index
from m2io.testing.hash_embedder import HashEmbedder

class HangsMidway(HashEmbedder):
    seen = 0
    def encode(self, texts, **kw):
        if self.seen + len(texts) > 300:  # killed inside the call that crosses text 300
            open(sys.argv[3], "w").close()
            time.sleep(600)
        self.seen += len(texts)
        return super().encode(texts, **kw)

corpus = load_corpus(sys.argv[1])
update_index(corpus.documents, sys.argv[2], embedder=HangsMidway(), corpus_root=corpus.root,
             progress=False, max_words=12)
"""


def test_a_default_build_killed_half_way_through_a_manual_resumes_what_it_had_embedded(tmp_path):
    """Issue 24 item 5: with the default checkpoint size, a build of ~650 chunks killed with
    SIGKILL in the middle of embedding keeps what it finished; the rerun embeds only the rest."""
    import os
    import signal
    import subprocess
    import sys
    import time

    corpus, out, marker = tmp_path / "corpus", tmp_path / "idx", tmp_path / "hanging"
    corpus.mkdir()
    for k in range(26):
        (corpus / f"page{k}.md").write_text(
            f"# Page {k}\n\n"
            + "\n\n".join(f"Step {i} of task {k} sets option {i} to {k}." for i in range(25))
        )
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_CALL, str(corpus), str(out), str(marker)],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "build never got going"
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    resumed = CountingEmbedder()
    report = update(corpus, out, resumed, max_words=12)
    n = report.manifest.n_chunks
    assert n > 600
    assert report.vectors_resumed >= 256  # the finished calls survived the kill
    assert len(resumed.texts) == report.vectors_embedded
    assert report.vectors_resumed + report.vectors_embedded >= n  # nothing embedded twice
    assert "resumed from a killed build" in report.vectors()


def test_m2io_index_reports_what_it_reused_and_rebuild_embeds_everything(
    tmp_path, monkeypatch, capsys
):
    import argparse

    import m2io.embed.text as text_mod
    from m2io.cli import index as cli_index

    embedders: list[CountingEmbedder] = []
    monkeypatch.setattr(
        text_mod,
        "load_text_embedder",
        lambda name=None, backend=None: embedders.append(CountingEmbedder()) or embedders[-1],
    )
    corpus, out = tmp_path / "corpus", tmp_path / "idx"
    write_corpus(corpus)
    parser = argparse.ArgumentParser()
    cli_index.add_arguments(parser)

    def run(*extra: str) -> str:
        assert cli_index.run(parser.parse_args([str(corpus), "--out", str(out), *extra])) == 0
        return capsys.readouterr().err

    assert "0 documents unchanged, 3 re-embedded, 0 removed" in run()
    (corpus / "layers.md").unlink()
    (corpus / "blur.md").write_text("# Blur\n\nBlur now has a radius slider.\n")
    assert "1 documents unchanged, 1 re-embedded, 1 removed" in run()
    # the unchanged page's text is not embedded again (its heading is, with the index's new
    # heading list, for the retriever: HybridRetriever.prepare)
    heads = {heading_text(c) for c in Index.open(out, embedder=HashEmbedder()).chunks}
    assert all("crop" not in t.lower() for t in embedders[-1].texts if t not in heads)
    assert "0 documents unchanged, 2 re-embedded, 0 removed" in run("--rebuild")
    assert any("crop" in t.lower() for t in embedders[-1].texts)


def test_pixel_vectors_are_reused_until_the_image_file_changes(tmp_path):
    corpus, out = tmp_path / "corpus", tmp_path / "idx"
    write_corpus(corpus)
    first = FakePixels(last=True)
    update(corpus, out, HashEmbedder(), image_embedder=first)
    assert len(first.seen) == 1
    again = FakePixels(last=True)
    assert update(corpus, out, HashEmbedder(), image_embedder=again).unchanged == 3
    assert again.seen == []
    (corpus / "img" / "crop.png").write_bytes(png((1, 2, 3)))  # same name, new pixels
    changed = FakePixels(last=True)
    report = update(corpus, out, HashEmbedder(), image_embedder=changed)
    assert len(changed.seen) == 1 and report.embedded == 1
    fresh = tmp_path / "fresh"
    update(corpus, fresh, HashEmbedder(), image_embedder=FakePixels(last=True), rebuild=True)
    assert index_files(out) == index_files(fresh)


def test_concurrent_updates_take_turns_and_keep_every_document(index_dir):
    results: list[AddResult] = []
    errors: list[BaseException] = []

    def add(k: int) -> None:
        try:
            doc = NewDocument(f"page{k}.md", f"# Page {k}\n\nword{k} is on page {k}.", {})
            results.append(add_documents(index_dir, [doc], text_embedder=HashEmbedder()))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=add, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    index = Index.open(index_dir, embedder=HashEmbedder())
    assert {f"added/page{k}.md" for k in range(4)} <= set(index.doc_rows)
    assert index.manifest.n_documents == 3 + 4


def test_documents_added_to_an_index_with_pixel_vectors_get_theirs(tmp_path):
    corpus, out = tmp_path / "corpus", tmp_path / "idx"
    write_corpus(corpus)
    update(corpus, out, HashEmbedder(), image_embedder=FakePixels(last=True))
    pixels = FakePixels(last=True)
    add_documents(
        out,
        [NewDocument("fog.md", FOG, {"shots/fog.png": png()})],
        text_embedder=HashEmbedder(),
        image_embedder=pixels,
    )
    assert len(pixels.seen) == 1
    index = Index.open(out, embedder=HashEmbedder(), image_embedder=FakePixels(last=True))
    row = [i for i, c in enumerate(index.candidates) if c.doc_id == "added/fog.md"]
    assert np.linalg.norm(index.stored_vectors("pixels")[row[0]]) == pytest.approx(1.0)
    later = FakePixels(last=True)
    update(corpus, out, HashEmbedder(), image_embedder=later)
    assert later.seen == []  # the added image's pixel vector is kept too


def test_adding_to_a_folder_that_is_no_index_is_a_clear_error(tmp_path):
    from m2io.index import IndexFormatError

    with pytest.raises(IndexFormatError, match="not an m2io index"):
        add_documents(tmp_path / "nowhere", [NewDocument("a.md", "# A\n\ntext", {})])
    result = None
    write_corpus(tmp_path / "corpus")
    build(tmp_path / "corpus", tmp_path / "idx")
    long_utf8 = "é" * 150 + ".md"  # 150 characters, 300 bytes: no file system takes it
    with pytest.raises(ValueError, match="longer than 240 bytes"):
        result = add_documents(
            tmp_path / "idx",
            [NewDocument(long_utf8, "# A\n\ntext", {})],
            text_embedder=HashEmbedder(),
        )
    assert result is None and not (tmp_path / "nowhere").exists()


def test_the_html_page_embeds_the_figures_of_documents_added_after_the_build(index_dir):
    """An added document's image lies in the index's added/ folder, not in the corpus root: the
    answer carries both roots, so `m2io ask --html` shows it instead of dropping it."""
    from m2io.generators.extractive import ExtractiveGenerator
    from m2io.inserters.rule import RuleInserter
    from m2io.mergers.default import DefaultMerger
    from m2io.mergers.render import to_html, to_markdown
    from m2io.pipeline import Pipeline

    add_documents(
        index_dir,
        [NewDocument("fog.md", FOG, {"shots/fog.png": png((9, 9, 200))})],
        text_embedder=HashEmbedder(),
    )
    index = Index.open(index_dir, embedder=HashEmbedder())
    pipe = Pipeline(
        HybridRetriever(index, top_k=3), ExtractiveGenerator(), RuleInserter(), DefaultMerger()
    )
    answer = pipe.run("fog filter turbulence mist zebra")
    figs = [s for s in answer.images if "fog" in s.image_id]
    assert figs, answer.segments
    assert answer.added_root == str(index.added_root)
    page = to_html(answer)
    assert page.count("data:image/png;base64,") >= len(figs)
    assert "not shown" not in page
    assert "fog.png" in to_markdown(answer)
    # Without the added root the same image is refused, as any file outside the corpus is.
    from dataclasses import replace

    assert "data:image/png;base64," not in to_html(replace(answer, added_root=None))


def test_a_slow_embedder_gets_smaller_checkpoints_within_the_time_budget(tmp_path, monkeypatch):
    """Past ``CHECKPOINT_SECONDS`` a call's successors shrink, so a kill loses less work."""
    import math

    from m2io.index import build

    corpus, out = tmp_path / "corpus", tmp_path / "idx"
    corpus.mkdir()
    for k in range(12):
        (corpus / f"page{k}.md").write_text(
            f"# Page {k}\n\n"
            + "\n\n".join(f"Step {i} of task {k} sets option {i} to {k}." for i in range(25))
        )
    monkeypatch.setattr(build, "CHECKPOINT_SECONDS", 0.0)  # every call is "too slow"
    report = update(corpus, out, HashEmbedder(), max_words=12)
    n = report.vectors_embedded
    assert n > build.CHECKPOINT_EVERY
    first = build.CHECKPOINT_EVERY
    assert report.checkpoints == 1 + math.ceil((n - first) / build.MIN_CHECKPOINT)


class FakeRay(CountingEmbedder):
    """Stands in for ``RayTextEmbedder``: which embedder a build picks is what is tested."""

    made: list[str] = []

    def __init__(self, model=None, *, backend=None, address="local"):
        super().__init__()
        FakeRay.made.append(address)

    def shutdown(self):
        FakeRay.made.append("shutdown")


def _cli_with_fake_ray(monkeypatch, cores: int, model=None):
    import m2io.embed.distributed as dist
    import m2io.embed.ray_plan as ray_plan
    from m2io.cli import index as cli_index

    class FakeMap:
        map = staticmethod(map)

    FakeRay.made = []
    monkeypatch.setattr(dist, "RayTextEmbedder", FakeRay)
    monkeypatch.setattr(dist, "RayMap", FakeMap)
    monkeypatch.setattr(cli_index.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(
        "m2io.embed.text.load_text_embedder", lambda name, backend=None: CountingEmbedder()
    )
    if model is not None:
        monkeypatch.setattr(ray_plan, "MEASURED", model)
    return cli_index


def _index_cli(cli_index, *argv: str) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    cli_index.add_arguments(parser)
    return cli_index.run(parser.parse_args(list(argv)))


@pytest.mark.parametrize(
    ("cores", "startup_s", "why"),
    [(2, 8.0, "slower than in process"), (2, 0.0, "on fewer than 4 cores"), (16, 0.0, None)],
)
def test_m2io_index_ray_local_says_when_it_will_be_slower(
    tmp_path, monkeypatch, capsys, cores, startup_s, why
):
    """Issue 24 item 4: ``--ray local`` still runs as asked, but where the model predicts it
    slower than in process (its start-up on a small corpus), or on fewer than 4 cores, it says
    so with the predicted times."""
    from m2io.embed.ray_plan import RayModel

    model = RayModel(
        one_thread=10, parallel=0.5, worker=10, worker_scaling=0.9, startup_s=startup_s
    )
    cli = _cli_with_fake_ray(monkeypatch, cores, model)
    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    assert _index_cli(cli, str(corpus), "--out", str(tmp_path / "idx"), "--ray", "local") == 0
    err = capsys.readouterr().err
    if why is None:
        assert "warning: --ray local" not in err
    else:
        assert f"warning: --ray local, {why}: ~" in err
        assert f"texts on {cores} cores: predicted " in err and "s on a local Ray" in err
    assert FakeRay.made == ["local", "shutdown"]  # run on Ray either way
    assert "re-embedded" in err


def test_m2io_index_without_ray_chooses_by_the_model_and_says_so(tmp_path, monkeypatch, capsys):
    """Not asked for Ray, a fresh build goes to a local Ray only where the model predicts it
    clearly faster (here: a model whose in-process rate is tiny, on 16 cores); on 2 cores with
    the measured model, for an update, or with ``--ray off``, it stays in process."""
    from m2io.embed.ray_plan import MEASURED, RayModel

    corpus = tmp_path / "corpus"
    write_corpus(corpus)
    slow = RayModel(one_thread=0.01, parallel=0.0, worker=10, worker_scaling=1.0, startup_s=1)
    cli = _cli_with_fake_ray(monkeypatch, 16, slow)
    assert _index_cli(cli, str(corpus), "--out", str(tmp_path / "a")) == 0
    assert "embedding on a local Ray: ~" in capsys.readouterr().err
    assert FakeRay.made == ["local", "shutdown"]
    FakeRay.made = []
    (corpus / "new.md").write_text("# New\n\nA new page about the new tool.\n")
    assert _index_cli(cli, str(corpus), "--out", str(tmp_path / "a")) == 0  # an update
    assert FakeRay.made == []
    assert _index_cli(cli, str(corpus), "--out", str(tmp_path / "b"), "--ray", "off") == 0
    assert FakeRay.made == []
    cli = _cli_with_fake_ray(monkeypatch, 2, MEASURED)  # as measured on the 2-core machine
    assert _index_cli(cli, str(corpus), "--out", str(tmp_path / "c")) == 0
    assert FakeRay.made == [] and "local Ray" not in capsys.readouterr().err
