"""Messages a person can read (issue 9.7): problems grouped per file with counts, a summary
that names every file with a problem, progress bars that say what they count, and ``--quiet``
that silences every bar (the weight-loading one included) but still prints the warnings."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fixtures_corpus import build_mramg, make_png

from m2io.cli.main import main
from m2io.corpus import load_folder, load_mramg

TOOLBAR_REFS_PER_DOC = 6
GUIDE_DOCS = 12


def _manual(root: Path) -> Path:
    """A small manual: 12 guide pages each showing a missing toolbar.png 6 times (72
    references), one page with a different missing figure, and one page with a real image."""
    guide = root / "guide"
    guide.mkdir(parents=True)
    for i in range(GUIDE_DOCS):
        steps = "\n\n".join(
            f"Step {j} of page {i}: click the toolbar button and set option {j}.\n\n"
            "![toolbar](../images/toolbar.png)"
            for j in range(TOOLBAR_REFS_PER_DOC)
        )
        (guide / f"p{i:02d}.md").write_text(f"# Guide page {i}\n\n{steps}\n", encoding="utf-8")
    (root / "setup.md").write_text(
        "# Setup\n\nInstall the package, then open the settings dialog.\n\n"
        "![The settings dialog](images/settings-dialog.png)\n\nDone.\n",
        encoding="utf-8",
    )
    make_png(root / "images" / "edges.png", (64, 48))
    (root / "edges.md").write_text(
        "# Edges\n\nThe Sobel filter finds edges.\n\n![Sobel edges](images/edges.png)\n",
        encoding="utf-8",
    )
    return root


def test_repeated_missing_image_is_one_problem_with_its_count(tmp_path: Path) -> None:
    corpus = load_folder(_manual(tmp_path / "manual"))
    assert len(corpus.warnings) == GUIDE_DOCS * TOOLBAR_REFS_PER_DOC + 1  # one per reference
    by_file = {p.subject: p for p in corpus.problems()}
    assert set(by_file) == {"images/toolbar.png", "images/settings-dialog.png"}
    toolbar = by_file["images/toolbar.png"]
    assert toolbar.kind == "missing" and toolbar.count == 72
    assert len(toolbar.documents) == GUIDE_DOCS
    assert toolbar.line() == (
        "images/toolbar.png: missing, referenced 72 times "
        "(in guide/p00.md, guide/p01.md, guide/p02.md, … 12 documents)"
    )
    assert by_file["images/settings-dialog.png"].line() == (
        "images/settings-dialog.png: missing (in setup.md)"
    )


def test_summary_names_every_file_and_hides_none(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="m2io.corpus.report"):
        load_folder(_manual(tmp_path / "manual"))
    [summary] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "2 problems (73 occurrences)" in summary
    assert "images/toolbar.png: missing, referenced 72 times" in summary
    assert "images/settings-dialog.png: missing (in setup.md)" in summary
    assert "more" not in summary


def test_many_distinct_files_are_all_named_compactly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "many"
    root.mkdir()
    refs = "\n\n".join(f"Figure {k}.\n\n![f{k}](img/f{k:02d}.png)" for k in range(30))
    (root / "a.md").write_text(f"# Many\n\n{refs}\n\n![again](img/f00.png)\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="m2io.corpus.report"):
        corpus = load_folder(root)
    assert len(corpus.problems()) == 30
    [summary] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    # files of one folder are listed under it once (210 icons under one folder read as one line)
    assert "missing (30 files in img/): f00.png (×2), f01.png" in summary
    assert all(f" f{k:02d}.png" in summary for k in range(30))
    assert summary.count("img/") == 1
    assert "more" not in summary


def test_mramg_missing_image_shared_by_documents_is_grouped(tmp_path: Path) -> None:
    docs = [[d, f"Doc {d} text.<PIC> More text.", [11]] for d in range(4)]
    docs.append([4, "A page whose figure is there.<PIC>", [10]])
    build_mramg(tmp_path, docs=docs)
    (tmp_path / "IMAGE/images/TOY/11.png").unlink()
    corpus = load_mramg(tmp_path)
    assert len(corpus.warnings) == 4
    [problem] = corpus.problems()
    assert (
        problem.line() == "11: missing, referenced 4 times (in doc 0, doc 1, doc 2, … 4 documents)"
    )


@pytest.fixture
def restore_progress_bars(monkeypatch: pytest.MonkeyPatch):
    """``--quiet`` turns progress bars off for the whole process; turn them back on after.

    tqdm and huggingface_hub read their environment variables when first imported: import them
    first, so that what ``main`` sets does not outlive this test.
    """
    import tqdm.auto  # noqa: F401
    from huggingface_hub.utils import enable_progress_bars
    from transformers.utils import logging as hf_logging

    for var in ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        monkeypatch.setenv(var, "")  # recorded, so the teardown removes what main() set
    yield
    monkeypatch.undo()
    hf_logging.enable_progress_bar()
    enable_progress_bars()


@pytest.mark.slow
def test_index_quiet_prints_only_the_grouped_problems(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], restore_progress_bars: None
) -> None:
    manual = _manual(tmp_path / "manual")
    out = tmp_path / "index"
    assert main(["index", str(manual), "--out", str(out), "--quiet"]) == 0
    err = capfd.readouterr().err
    assert err.splitlines() == [
        "2 problems (73 occurrences) skipped over:",
        "  images/settings-dialog.png: missing (in setup.md)",
        "  images/toolbar.png: missing, referenced 72 times "
        "(in guide/p00.md, guide/p01.md, guide/p02.md, … 12 documents)",
    ]
    # ask --quiet: the answer on stdout, nothing at all on stderr
    assert main(["ask", "--index", str(out), "How do I find edges?", "--quiet"]) == 0
    captured = capfd.readouterr()
    assert "Sobel" in captured.out
    assert captured.err == ""


@pytest.mark.slow
def test_demo_and_ask_html_quiet_leave_stderr_empty(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], restore_progress_bars: None
) -> None:
    page = tmp_path / "demo.html"
    index = tmp_path / "demo-index"
    argv = ["demo", "--quiet", "--index", str(index), "--html", str(page)]
    assert main(argv) == 0
    captured = capfd.readouterr()
    assert captured.out.strip() and page.is_file()
    assert captured.err == ""
    html = tmp_path / "ask.html"
    argv = ["ask", "--index", str(index), "What is a pixel?", "--html", str(html), "--quiet"]
    assert main(argv) == 0
    assert capfd.readouterr().err == "" and html.is_file()


@pytest.mark.slow
def test_index_progress_bars_say_what_they_count(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from m2io.embed.text import load_text_embedder

    load_text_embedder().forget_recent()  # else texts embedded by an earlier test are reused
    manual = _manual(tmp_path / "manual")
    assert main(["index", str(manual), "--out", str(tmp_path / "index")]) == 0
    err = capfd.readouterr().err
    assert "embedding" in err
    assert "Batches" not in err
    assert "Loading weights" not in err
    assert err.count("images/toolbar.png") == 1  # one grouped line, not one per reference


@pytest.mark.slow
def test_loading_the_embedder_shows_no_weight_bar_and_logs_one_line(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    from m2io.embed.text import SentenceTransformerEmbedder

    capfd.readouterr()
    with caplog.at_level(logging.INFO, logger="m2io.embed.text"):
        SentenceTransformerEmbedder()  # a fresh load, not the per-process cached one
    assert "Loading weights" not in capfd.readouterr().err
    lines = [r.getMessage() for r in caplog.records if r.name == "m2io.embed.text"]
    assert len(lines) == 1 and lines[0].startswith("loaded text embedder all-MiniLM-L6-v2 in ")
