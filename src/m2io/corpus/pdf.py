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
- running headers and footers are dropped: a line among the first or last two of a page whose
  text, digits aside, repeats on at least a quarter of the pages (at least 3), and bare page
  numbers; so are the pages of a table of contents or list of figures (dot leaders);
- headings come from the outline (bookmarks, three levels) matched to a line of their page, or
  else, with no outline, from lines set at least 1.2 times the body font size;
- each section becomes one :class:`~m2io.types.Document` whose ``doc_id`` is
  ``file.pdf#page=N`` (N: the page the section starts on, 1-based), so a source names the file,
  the section and the page, and its link opens at that page;
- each image object larger than 24 px is written as PNG under ``.m2io-images/`` in the corpus
  folder (hidden, so never read back as a document; reused when present) and anchored after the
  line above it; a line next to it starting "Figure 3.2" (or "Fig.", "Screenshot") is its
  caption. An image repeated on at least a quarter of the pages at the same place (a logo) is
  dropped;
- a PDF with no text layer (a scan) is reported by name and skipped: OCR it first (for example
  ``ocrmypdf``, which uses Debian's tesseract).

Hostile input: the file is opened only after the folder loader confined it to the corpus folder
as a regular file; every step is linear in the number of text segments and images (outline
entries are matched against at most ``_MAX_OUTLINE_PER_PAGE`` per page); PDFium errors become a
reported skip.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from pathlib import Path

from m2io.corpus.pdfpage import (
    REPEAT_SHARE,
    Figure,
    Line,
    Page,
    code_starts,
    drop_contents_pages,
    drop_running_lines,
    key,
    page_lines,
)
from m2io.corpus.pdftext import joined, mend_hyphens, take_footnotes
from m2io.language import detect, from_path
from m2io.text import FENCE, is_list_item
from m2io.types import Document, ImageAnchor, ImageRef

logger = logging.getLogger(__name__)

IMAGE_DIR = ".m2io-images"
"""Folder (inside the corpus folder) that extracted PDF images are written to."""
MIN_IMAGE_PX = 24
_HEADING_RATIO = 1.2
_MAX_OUTLINE_PER_PAGE = 50
_MIN_CHARS_PER_PAGE = 8
_CAPTION = re.compile(
    r"^(?:Figure|Fig\.|Screenshot|Illustration|Abbildung|Figura|Table|Tabelle|Tableau|Tabla)"
    r"\s*[\w.-]*\d",
    re.I,
)
_CAPTION_LINE = re.compile(_CAPTION.pattern + r"[\w.-]*\s*[:.–—](?:\s|$)", re.I)
"""A caption as captions are written: its number followed by ":" or "." ("Figure 6.1: …",
"Fig. 3. …"), not a sentence that opens on a figure's name ("Figure 2.8 below shows …")."""
_CAPTION_GAP = 2.5  # font sizes: a caption sits this close below (or above) its image


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


def _images(page: object, pdfium_c: object) -> list[tuple[tuple[float, ...], int, int, object]]:
    """The page's image objects above the icon size: bounds, pixel size, the object."""
    found = []
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):  # type: ignore[attr-defined]
        try:
            bounds = obj.get_bounds()
            width, height = obj.get_px_size()
        except Exception:  # noqa: BLE001 - an unreadable image object is skipped
            continue
        if width < MIN_IMAGE_PX and height < MIN_IMAGE_PX:
            continue
        found.append((bounds, width, height, obj))
    return found


def _save(obj: object, path: Path) -> bool:
    if path.is_file():
        return True
    try:
        bitmap = obj.get_bitmap(render=False)  # type: ignore[attr-defined]
        image = bitmap.to_pil()
        if image.mode not in ("RGB", "RGBA", "L"):
            image = image.convert("RGB")
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, "PNG")
        return True
    except Exception:  # noqa: BLE001 - reported by the caller as a skipped image
        logger.debug("could not extract image to %s", path, exc_info=True)
        return False


def _caption_near(lines: list[Line], bounds: tuple[float, ...]) -> Line | None:
    """The caption line of the image at ``bounds``: the nearest line starting "Figure 3.2"
    (or "Fig.", "Table", ...) set just below or above it, within _CAPTION_GAP font sizes, and
    overlapping it across. By position, not by PDFium's order: LibreOffice sets a caption in a
    frame that PDFium reads after the page's text (and its page number)."""
    left, bottom, right, top = bounds
    best, best_gap = None, 0.0
    for line in lines:
        if line.heading or not _CAPTION.match(line.text):
            continue
        if line.right and (line.right < left or line.left > right):
            continue
        gap = bottom - line.top if line.top <= bottom + 2 else line.bottom - top
        if -2 <= gap <= _CAPTION_GAP * max(line.size, 1) and (best is None or gap < best_gap):
            best, best_gap = line, gap
    return best


def _caption(lines: list[Line], first: Line) -> list[Line]:
    """The caption line and the lines that continue it (just below, same size), 300 chars."""
    taken, previous = [first], first
    start = next(i for i, ln in enumerate(lines) if ln is first)
    for line in lines[start + 1 : start + 4]:
        gap = previous.bottom - line.top
        close = -0.5 * max(line.size, 1) < gap < 0.9 * max(line.size, 1)
        long = sum(len(ln.text) + 1 for ln in taken) > 300
        if line.heading or not close or abs(line.size - first.size) > 0.5 or long:
            break
        taken.append(line)
        previous = line
    return taken


def take_captions(page: Page, boxes: list) -> list:
    """Each image box with its caption and caption line added: ``(bounds, width, height, obj,
    caption, line)``.

    A "Figure 6.1: …" line set beside an image (:func:`_caption_near`) is its caption; one
    written as a caption (its number followed by ":" or ".", :data:`_CAPTION_LINE`) also
    leaves the page's lines, with the lines that continue it, so a sentence a page turn broke
    reads whole ("Gpredict is" / "Figure 6.1: Configuration options …" / "configured to
    download"). Run before footnotes are taken: a caption PDFium reads last, set smaller than
    the body, would pass for a footnote's last line.
    """
    out = []
    gone: set[int] = set()  # two images of one figure share its caption
    for bounds, width, height, obj in boxes:
        line = _caption_near(page.lines, bounds)
        taken = _caption(page.lines, line) if line is not None else []
        out.append((bounds, width, height, obj, " ".join(ln.text for ln in taken), line))
        if line is not None and _CAPTION_LINE.match(line.text):
            gone.update(id(ln) for ln in taken)
    page.lines = [ln for ln in page.lines if id(ln) not in gone]
    return out


def _place_figures(page: Page, boxes: list, saved: list[ImageRef | None]) -> None:
    """Anchor each figure after the last line above it, with the caption found for it."""
    for (bounds, _, _, _, caption, line), image in zip(boxes, saved, strict=True):
        if image is None:
            continue
        top = bounds[3]
        after_index = -1
        for i, ln in enumerate(page.lines):  # in reading order; stop at the first one below
            if ln.top <= top - 1:
                break
            after_index = i
        image = ImageRef(image.image_id, image.path, None, caption)
        page.figures.append(Figure(after_index, top, image, line))


def _image_dir(root: Path, rel: str) -> Path:
    name = re.sub(r"[^\w.-]+", "_", rel)[-80:]
    digest = hashlib.sha1(rel.encode()).hexdigest()[:8]
    return root / IMAGE_DIR / f"{name}-{digest}"


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
                lines, boxes = page_lines(page, number, pdfium_c), _images(page, pdfium_c)
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
        _figures(raw_images, pages, rel, root, warnings)
    finally:
        pdf.close()
    return _documents(pages, path, rel), warnings


def _figures(
    raw_images: list[list], pages: list[Page], rel: str, root: Path, warnings: list[str]
) -> None:
    """Extract the images that are not repeated logos and place them on their pages."""
    placement: Counter[tuple] = Counter()
    for boxes in raw_images:
        placement.update({(tuple(round(v) for v in b), w, h) for b, w, h, *_ in boxes})
    need = max(3, int(REPEAT_SHARE * len(pages) + 0.999))
    out_dir = _image_dir(root, rel)
    if any(raw_images):
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only corpus folder: text only, said once
            warnings.append(f"{rel}: images not extracted ({out_dir} not writable: {exc})")
            raw_images = [[] for _ in raw_images]
    for number, (page, boxes) in enumerate(zip(pages, raw_images, strict=True)):
        kept = [
            bx for bx in boxes if placement[(tuple(round(v) for v in bx[0]), bx[1], bx[2])] < need
        ]
        saved: list[ImageRef | None] = []
        for k, (_, _, _, obj, *_) in enumerate(kept, 1):
            target = out_dir / f"p{number + 1:04d}-{k}.png"
            if _save(obj, target):
                image_id = target.relative_to(root).as_posix()
                saved.append(ImageRef(image_id, str(target), None, ""))
            else:
                saved.append(None)
                warnings.append(
                    f"{rel}: image {k} on page {number + 1} could not be extracted; skipped"
                )
        _place_figures(page, kept, saved)


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
