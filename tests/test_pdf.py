"""PDF manuals (issue 20 item 5): sections from the outline or font sizes, pages in sources,
figures in place with captions, running headers and page numbers dropped, scans named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from m2io.corpus import CorpusError, chunk_corpus, load_corpus
from m2io.index.sections import chunk_sources
from m2io.testing.pdfmake import make_pdf

pytest.importorskip("pypdfium2")


def _manual(outline: bool) -> bytes:
    pages = []
    for i in range(5):
        items: list = [("Editor Manual", 9)]
        if i == 1:
            items.append(("Installing the editor", 18))
        items += [
            (f"Page {i} says {'abcde'[i] * 3} about the editor and its {'fghij'[i] * 2} tools", 10),
            (f"and continues with {'klmno'[i] * 4} here.", 10),
        ]
        if i == 2:
            items += [
                ("Open the main window first.", 10),
                ("IMAGE", 120, 80),
                ("Figure 2.1: The main window", 9),
                ("Then choose a tool.", 10),
            ]
        items.append((str(i + 1), 9))
        pages.append(items)
    return make_pdf(pages, outline=[("Installing the editor", 1)] if outline else [])


@pytest.mark.parametrize("outline", [True, False])
def test_a_pdf_reads_as_sections_with_pages_and_figures(tmp_path: Path, outline: bool) -> None:
    (tmp_path / "manual.pdf").write_bytes(_manual(outline))
    corpus = load_corpus(tmp_path / "manual.pdf")  # a PDF alone
    ids = [d.doc_id for d in corpus.documents]
    assert ids == ["manual.pdf#page=1", "manual.pdf#page=2"]
    doc = corpus.documents[1]
    assert doc.title == "Installing the editor"
    text = doc.text
    assert "Editor Manual" not in text  # running header
    assert "\n3\n" not in text and not text.endswith("5")  # page numbers
    assert "Page 2 says ccc about the editor and its hh tools and continues" in text
    (anchor,) = doc.images
    assert text[: anchor.offset].endswith("Open the main window first.")
    assert anchor.image.caption == "Figure 2.1: The main window"
    assert Path(anchor.image.path or "").is_file()
    chunks = chunk_corpus([doc])
    source, _, _ = chunk_sources(doc, chunks, tmp_path)[0]
    assert (source.location, source.anchor, source.section) == (
        "manual.pdf",
        "page=2",
        "Installing the editor",
    )


def test_a_table_of_contents_page_is_left_out(tmp_path: Path) -> None:
    contents = [("Contents", 14)] + [
        (f"{i}.1 Topic number {i} " + ". " * 30 + str(i * 3), 10) for i in range(1, 6)
    ]
    body = [("Installing the editor", 18), ("Run the setup program and answer its questions.", 10)]
    (tmp_path / "m.pdf").write_bytes(
        make_pdf([contents, body], outline=[("Installing the editor", 1)])
    )
    corpus = load_corpus(tmp_path / "m.pdf")
    assert [d.doc_id for d in corpus.documents] == ["m.pdf#page=2"]
    assert ". . . . ." not in corpus.documents[0].text


def test_a_pdf_in_a_folder_is_read_beside_html(tmp_path: Path) -> None:
    (tmp_path / "manual.pdf").write_bytes(_manual(True))
    (tmp_path / "a.html").write_text("<h1>Page</h1><p>Text.</p>")
    corpus = load_corpus(tmp_path)
    assert {d.doc_id.split("#")[0] for d in corpus.documents} == {"a.html", "manual.pdf"}
    # extracted images live in a hidden folder that is never read back as documents
    assert not any(d.doc_id.startswith(".m2io-images") for d in load_corpus(tmp_path).documents)


def test_a_scanned_pdf_is_named_and_skipped(tmp_path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (200, 300), "white").save(tmp_path / "scan.pdf")
    (tmp_path / "a.md").write_text("# A\n\nText.")
    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["a.md"]
    assert any("scan.pdf: no text layer" in w for w in corpus.warnings)
    with pytest.raises(CorpusError, match="no documents"):
        load_corpus(tmp_path / "scan.pdf")


def test_a_broken_pdf_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4\nnot really")
    (tmp_path / "a.md").write_text("# A\n\nText.")
    corpus = load_corpus(tmp_path)
    assert any(w.startswith("bad.pdf: not readable as a PDF") for w in corpus.warnings)


def test_an_unwritable_image_folder_keeps_the_text_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import m2io.corpus.pdffig as pdf

    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the image folder would go")
    monkeypatch.setattr(pdf, "_image_dir", lambda root, rel: blocker / "images")
    (tmp_path / "manual.pdf").write_bytes(_manual(True))
    corpus = load_corpus(tmp_path / "manual.pdf")
    assert len(corpus.documents) == 2 and not any(d.images for d in corpus.documents)
    assert [w for w in corpus.warnings if "images not extracted" in w][0].startswith("manual.pdf")


def _office_manual() -> bytes:
    """Six pages as LibreOffice writes them: the book's title atop even pages, the chapter's
    atop odd ones; the page number, then a figure's caption frame, read after the text."""
    chapters = ["Getting Started"] * 3 + ["Tools"] * 3
    pages = []
    for i, chapter in enumerate(chapters):
        items: list = [("Editor Manual" if i % 2 else chapter, 9)]
        if i in (0, 3):
            items.append((chapter, 18))
        if i == 2:
            items.append(("configured to save every minute.", 10))
        items.append((f"Page {i + 1} tells of {'abcdef'[i] * 3} and {'ghijkl'[i] * 4}.", 10))
        if i == 1:
            items += [
                ("Open the options to save.", 10),
                ("AT", 500, ("IMAGE", 200, 100)),
                ("AT", 320, ("By default, the editor is", 10)),
            ]
        if i == 3:  # a note's icon, drawn small, no caption: no figure
            items.append(("AT", 600, ("IMAGE", 30, 30)))
        if i == 4:
            items += [
                ("AT", 500, ("IMAGE", 200, 100)),
                ("AT", 398, ("Figure 5 below shows them.", 10)),
            ]
        items.append(("AT", 60, (str(i + 1), 9)))
        if i == 1:
            # a caption of five lines leaves the text whole
            caption = ["Figure 1.2: The save options,", "set by", "the editor", "for each", "file."]
            items += [("AT", 398 - 11 * k, (text, 9)) for k, text in enumerate(caption)]
        pages.append(items)
    return make_pdf(pages, outline=[("Getting Started", 0), ("Tools", 3)])


def test_captions_and_running_headers_leave_the_running_text(tmp_path: Path) -> None:
    (tmp_path / "manual.pdf").write_bytes(_office_manual())
    docs = load_corpus(tmp_path / "manual.pdf").documents
    assert [d.title for d in docs] == ["Getting Started", "Tools"]
    first, second = docs
    # the sentence a page turn broke reads whole: no caption, header or page number inside it
    assert "By default, the editor is configured to save every minute." in first.text
    assert "Figure 1.2" not in first.text
    (anchor,) = first.images
    assert anchor.image.caption == "Figure 1.2: The save options, set by the editor for each file."
    assert first.text[: anchor.offset].endswith("Open the options to save.")
    # the chapter's title atop its pages is furniture: once, as the heading, in each section
    assert first.text.count("Getting Started") == 1 and second.text.count("Tools") == 1
    assert "Editor Manual" not in first.text + second.text
    assert not re.search(r"(?m)^\d+$|\b[1-6]\s*$", first.text + second.text)
    # a sentence set under a figure that names it stays in the text
    assert "Figure 5 below shows them." in second.text
    assert [a.image.caption for a in second.images] == ["Figure 5 below shows them."]
    chunks = chunk_corpus(docs)
    sections = {source.section for d in docs for source, *_ in chunk_sources(d, chunks, tmp_path)}
    assert sections == {"Getting Started", "Tools"}


def test_an_image_file_left_by_an_older_reading_is_not_taken_for_another(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "manual.pdf").write_bytes(_manual(True))
    (anchor,) = load_corpus(tmp_path / "manual.pdf").documents[1].images
    path = Path(anchor.image.path or "")
    # a reading that numbered the page's images otherwise (an icon it kept) left another image
    Image.new("RGB", (48, 48)).save(path)
    (again,) = load_corpus(tmp_path / "manual.pdf").documents[1].images
    with Image.open(again.image.path or "") as image:
        assert image.size == (120, 80)
