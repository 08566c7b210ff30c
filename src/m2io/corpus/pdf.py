"""PDF manuals as documents: text in reading order, sections from the outline, figures in place.

Why pypdfium2: it wraps PDFium (the PDF engine of Chromium), ships as a wheel with no model or
system library to install, reads text with positions and font sizes, the outline (bookmarks) and
each image object's pixels, and is several times faster than pure-Python parsers (pdfplumber
sits on pdfminer.six), which matters on a 300-page manual. Imported late; install with
``pip install 'm2io[pdf]'``.

How a PDF is read (:func:`read_pdf`):

- each page's text segments (PDFium's text rectangles, in content order, which is reading order
  for the single- and two-column layouts manuals use) are joined into lines, lines into
  paragraphs where the gap between lines or the font size changes;
- the text reads as its reader sees it (:mod:`m2io.corpus.pdftext`): segments that touch are
  one word whatever their fonts ("‘cpu-*-linux-gnu’", "C++11"), a word PDFium marks as
  hyphenated at a line's end is joined ("distributions"; a compound keeps its hyphen),
  footnote marks leave their sentences and footnote bodies follow their mark's paragraph, or
  the list or code block that a paragraph ending in ":" introduces;
- running headers and footers are dropped: a line among the two highest or lowest of a page
  whose text, digits aside, repeats on at least a quarter of the pages (at least 3), or whose
  number follows the page's, or the highest (lowest) line where such lines mostly repeat (a
  chapter's title atop its pages), and bare page numbers; so are the pages of a table of
  contents or list of figures (dot leaders);
- glyphs PDFium's overlapping text rectangles would read twice ("OK K") are read once;
- headings come from the outline (bookmarks, three levels) matched to a line of their page, or
  else, with no outline, from lines set at least 1.2 times the body font size;
- each section becomes one :class:`~m2io.types.Document` whose ``doc_id`` is
  ``file.pdf#page=N`` (N: the page the section starts on, 1-based), so a source names the file,
  the section and the page, and its link opens at that page;
- each image object larger than 24 px is written as PNG under ``.m2io-images/`` in the corpus
  folder (hidden, so never read back as a document; reused when present) and anchored after the
  line above it; the line set just below or above it starting "Figure 3.2" (or "Fig.",
  "Table", "Screenshot") is its caption, found by position (LibreOffice's caption frames are
  read after the page's text), and leaves the running text when written as a caption
  ("Figure 3.2: …"). An image repeated on at least a quarter of the pages at the same place (a
  logo) is dropped, and so is one drawn no larger than 40 points with no caption (a note's
  icon);
- a PDF with no text layer (a scan) is reported by name and skipped: OCR it first (for example
  ``ocrmypdf``, which uses Debian's tesseract).

Hostile input: the file is opened only after the folder loader confined it to the corpus folder
as a regular file; every step is linear in the number of text segments and images (outline
entries are matched against at most ``_MAX_OUTLINE_PER_PAGE`` per page); PDFium errors become a
reported skip.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from m2io.corpus.pdffig import images, place_figures, take_captions
from m2io.corpus.pdffurniture import drop_contents_pages, drop_running_lines
from m2io.corpus.pdfpage import (
    Figure,
    Line,
    Page,
    code_starts,
    key,
    page_lines,
)
from m2io.corpus.pdftext import joined, mend_hyphens, take_footnotes
from m2io.language import detect, from_path
from m2io.text import FENCE, is_list_item
from m2io.types import Document, ImageAnchor

logger = logging.getLogger(__name__)

_HEADING_RATIO = 1.2
_MAX_OUTLINE_PER_PAGE = 50
_MIN_CHARS_PER_PAGE = 8


_MONO_SHARE = 0.75
"""Above this share of fixed-pitch lines a PDF is set in a typewriter face: its lines are prose."""
_CHAR_WIDTH = 0.6  # a fixed-pitch character's width, in units of its font size
_MAX_INDENT = 40


class PdfError(ValueError):
    """A PDF that cannot be read as documents (unreadable, or no text layer)."""


def _outline(pdf: object) -> dict[int, list[str]]:
    """Outline titles (three levels) by 0-based page index, in outline order."""
    by_page: dict[int, list[str]] = {}
    quiet = logging.getLogger("pypdfium2")  # it warns of every subtree past max_depth
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        for mark in pdf.get_toc(max_depth=3):  # type: ignore[attr-defined]
            dest = mark.get_dest()
            index = dest.get_index() if dest is not None else None
            title = " ".join((mark.get_title() or "").split())
            if index is None or not title:
                continue
            titles = by_page.setdefault(index, [])
            if len(titles) < _MAX_OUTLINE_PER_PAGE:
                titles.append(title)
    except Exception:  # noqa: BLE001 - a broken outline: fall back to font sizes
        logger.debug("outline unreadable", exc_info=True)
        return {}
    finally:
        quiet.setLevel(level)
    return by_page


def _mark_headings(pages: list[Page], outline: dict[int, list[str]]) -> None:
    if outline:
        for number, titles in outline.items():
            if not 0 <= number < len(pages):
                continue
            lines = pages[number].lines
            start = 0
            for title in titles:
                want = key(title)
                for j in range(start, len(lines)):
                    got = key(lines[j].text)
                    if want and (got == want or (got.endswith(want) and len(got) - len(want) < 8)):
                        lines[j].heading = title
                        start = j + 1
                        break
                else:  # not found on its page: the section starts at the page's top
                    if lines and not lines[0].heading:
                        lines.insert(
                            0, Line(number, lines[0].top + 1, lines[0].top, 0, title, 0, title)
                        )
                        start = 1
        return
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            sizes[round(line.size, 1)] += len(line.text)
    if not sizes:
        return
    body = sizes.most_common(1)[0][0]
    for page in pages:
        for line in page.lines:
            words = line.text.split()
            if (
                line.size >= _HEADING_RATIO * body
                and len(words) <= 12
                and any(c.isalpha() for c in line.text)
            ):
                line.heading = line.text


def read_pdf(path: Path, rel: str, root: Path) -> tuple[list[Document], list[str]]:
    """The PDF at ``path`` (``rel`` relative to the corpus folder ``root``) as one document per
    section, and warnings (skipped images).

    Raises:
        PdfError: The file cannot be read as a PDF, or it has no text layer.
    """
    try:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise PdfError("reading PDF needs pypdfium2: pip install 'm2io[pdf]'") from exc
    try:
        pdf = pdfium.PdfDocument(str(path))
    except Exception as exc:  # noqa: BLE001 - PdfiumError, password, not a PDF
        raise PdfError(f"not readable as a PDF ({type(exc).__name__}: {exc})") from exc
    warnings: list[str] = []
    try:
        n_pages = len(pdf)
        pages: list[Page] = []
        raw_images: list[list] = []
        for number in range(n_pages):
            try:
                page = pdf[number]
                lines, boxes = page_lines(page, number, pdfium_c), images(page, pdfium_c)
            except Exception as exc:  # noqa: BLE001 - PdfiumError on a broken page: skip it
                warnings.append(f"{rel}: page {number + 1} unreadable ({exc}); skipped")
                lines, boxes = [], []
            pages.append(Page(lines))
            raw_images.append(boxes)
        chars = sum(len(ln.text) for p in pages for ln in p.lines)
        if chars < _MIN_CHARS_PER_PAGE * max(n_pages, 1):
            raise PdfError(
                f"no text layer ({n_pages} pages, {chars} characters of text): a scanned PDF? "
                "OCR it first, e.g. with ocrmypdf (Debian's tesseract)"
            )
        drop_running_lines(pages)
        drop_contents_pages(pages)
        raw_images = [take_captions(p, b) for p, b in zip(pages, raw_images, strict=True)]
        take_footnotes(pages)
        mend_hyphens(pages)
        _mark_headings(pages, _outline(pdf))
        place_figures(raw_images, pages, rel, root, warnings)
    finally:
        pdf.close()
    return _documents(pages, path, rel), warnings


def _documents(pages: list[Page], path: Path, rel: str) -> list[Document]:
    """Sections as documents: ``rel#page=N``, titled by their heading. Runs of lines set in a
    fixed-pitch font are code blocks between fence lines (``m2io.text.FENCE``), a line each,
    indented as printed (unless most of the PDF is set that way: then it is the body font)."""
    docs: list[Document] = []
    parts: list[str] = []
    anchors: list[ImageAnchor] = []
    title, start_page = "", 1
    length = 0
    seen: Counter[str] = Counter()
    all_lines = [ln for p in pages for ln in p.lines if not ln.heading]
    code = sum(ln.mono for ln in all_lines) < _MONO_SHARE * max(len(all_lines), 1)
    run: list[Line] = []  # the code block being written (its first line sets the margin)
    notes: list[str] = []  # footnotes waiting for the end of their mark's paragraph

    def flush() -> None:
        nonlocal parts, anchors, length
        text = "".join(parts).rstrip()
        if text or anchors:
            doc_id = f"{rel}#page={start_page}"
            seen[doc_id] += 1
            if seen[doc_id] > 1:
                doc_id += f"&part={seen[doc_id]}"
            fixed = tuple(ImageAnchor(a.image, min(a.offset, len(text))) for a in anchors)
            language = from_path(rel) or detect(text)
            docs.append(Document(doc_id, text, fixed, title or Path(rel).stem, str(path), language))
        parts, anchors, length = [], [], 0

    def add(piece: str) -> None:
        nonlocal length
        parts.append(piece)
        length += len(piece)

    def close_code() -> None:
        if run:
            add(f"{FENCE}\n\n")
            run.clear()

    def lead_in() -> bool:  # the text so far ends on a lead-in ("as follows:", "Run:")
        return bool(parts) and parts[-1].rstrip().endswith(":")

    def put_notes() -> None:
        for note in notes:
            add(("\n\n" if length and not parts[-1].endswith("\n\n") else "") + note)
        notes.clear()

    previous: Line | None = None
    for number, page in enumerate(pages):
        by_line: dict[int, list[Figure]] = {}
        for fig in page.figures:
            by_line.setdefault(fig.page, []).append(fig)  # fig.page: index of the line above
        for fig in by_line.get(-1, []):
            anchors.append(ImageAnchor(fig.image, length))
        blocks = code_starts(page.lines, previous) if code else set()
        for i, line in enumerate(page.lines):
            if line.heading:
                close_code()
                put_notes()
                flush()
                title, start_page = line.heading, number + 1
                add(line.heading + "\n\n")
                previous = None
            elif code and line.mono and (run or i in blocks):
                # a line of code: a line of its own, indented as printed
                if not run:
                    if not lead_in():  # a note waits for the block its lead-in introduces
                        put_notes()
                    add(f"\n\n{FENCE}\n" if length else f"{FENCE}\n")
                run.append(line)
                width = _CHAR_WIDTH * max(line.size, 1.0)
                indent = max(0, round((line.left - run[0].left) / width))
                add(" " * min(indent, _MAX_INDENT) + line.text + "\n")
                previous = None
            else:
                close_code()
                if previous is not None:
                    gap = previous.bottom - line.top
                    new_para = not previous.glue and (
                        (
                            previous.page != line.page
                            and previous.text.endswith((".", ":", "!", "?"))
                        )
                        or gap > 0.9 * max(line.size, 1)
                        or abs(previous.size - line.size) > 0.5
                    )
                    # a list item starts a line of its own ("● Economy …", "2. Click …")
                    list_item = is_list_item(line.text)
                    if new_para and not (list_item or lead_in()):
                        put_notes()  # notes wait for the list or block a lead-in introduces
                    add("\n\n" if new_para else "" if previous.glue else "\n" if list_item else " ")
                elif length and not parts[-1].endswith("\n\n"):
                    put_notes()
                    add("\n\n")
                add(line.text)
                previous = line
            notes.extend(joined(page.notes.pop(m)) for m in line.marks if m in page.notes)
            for fig in by_line.get(i, []):
                anchors.append(ImageAnchor(fig.image, length))
        notes.extend(joined(note) for note in page.notes.values())
    close_code()
    put_notes()
    flush()
    return docs
