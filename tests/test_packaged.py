"""EPUB and DOCX (issue 20 item 6): chapters in spine order, images at their places, and the
hostile-input rules (no member leaves the extraction folder, sizes capped, broken files named)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from m2io.corpus import load_corpus
from m2io.testing.officemake import make_docx, make_epub


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (60, 40), "red").save(buf, "PNG")
    return buf.getvalue()


def test_an_epub_reads_chapter_by_chapter_with_images_in_place(tmp_path: Path) -> None:
    chapters = [
        (
            "ch1.xhtml",
            "<h1>Uno</h1><p>Primero abra la ventana.</p><img src='img/a.png' alt='La "
            "ventana'/><p>Luego.</p>",
        ),
        ("genindex.xhtml", "<h1>Index</h1><p>A, B, C</p>"),  # generated: left out
        (
            "ch2.xhtml",
            "<h1>Dos</h1><table><tr><th>Tecla</th><th>Acción</th></tr><tr><td>Ctrl+Z"
            "</td><td>Deshacer</td></tr></table>",
        ),
    ]
    (tmp_path / "book.epub").write_bytes(
        make_epub(chapters, images={"img/a.png": _png()}, lang="es")
    )
    corpus = load_corpus(tmp_path)
    ids = [d.doc_id for d in corpus.documents]
    assert ids == ["book.epub#OEBPS/ch1.xhtml", "book.epub#OEBPS/ch2.xhtml"]
    first, second = corpus.documents
    assert first.language == "es" and first.source == str(tmp_path / "book.epub")
    (anchor,) = first.images
    assert first.text[: anchor.offset].endswith("Primero abra la ventana.")
    assert anchor.image.caption == "La ventana" and Path(anchor.image.path or "").is_file()
    assert "Tecla: Ctrl+Z; Acción: Deshacer" in second.text


def test_a_docx_reads_with_headings_and_its_image(tmp_path: Path) -> None:
    pytest.importorskip("mammoth")
    paragraphs = [
        "Heading|Installing",
        "Run the setup program.",
        "IMAGE|The setup window",
        "Then restart.",
    ]
    (tmp_path / "guide.docx").write_bytes(make_docx(paragraphs, _png()))
    (doc,) = load_corpus(tmp_path).documents
    assert doc.title == "Installing"
    assert doc.text == "Installing\n\nRun the setup program.\n\nThen restart."
    (anchor,) = doc.images
    assert doc.text[: anchor.offset].endswith("setup program.")
    assert anchor.image.caption == "The setup window"


def test_members_never_leave_the_extraction_folder_and_bad_files_are_named(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(make_epub([("c.xhtml", "<p>Text here.</p>")]))) as src,
        zipfile.ZipFile(buf, "w") as out,
    ):
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("../../escape.png", _png())
        out.writestr("/abs.png", _png())
    (tmp_path / "evil.epub").write_bytes(buf.getvalue())
    (tmp_path / "broken.epub").write_bytes(b"PK\x03\x04 not a zip")
    (tmp_path / "broken.docx").write_bytes(b"nothing")
    corpus = load_corpus(tmp_path)
    assert [d.doc_id for d in corpus.documents] == ["evil.epub#OEBPS/c.xhtml"]
    assert not (tmp_path.parent / "escape.png").exists() and not Path("/abs.png").exists()
    assert any(w.startswith("broken.epub: not a readable zip") for w in corpus.warnings)
    assert any(w.startswith("broken.docx: not a readable zip") for w in corpus.warnings)
