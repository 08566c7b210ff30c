"""PDF figures: each page's images, their captions found by position, icons and logos left out.

Part of :mod:`m2io.corpus.pdf`. An image object larger than MIN_IMAGE_PX is a figure unless it
is repeated at one place on a quarter of the pages (a logo) or drawn no larger than _ICON_PT
with no caption (a note's icon). Its caption is the line set just below or above it that starts
"Figure 3.2" (or "Fig.", "Table", "Screenshot", ...), by position, since LibreOffice writes a
caption frame after the page's text and its page number; one written as a caption ("Figure 3.2:
…") leaves the running text with the lines that continue it. Each figure is written as PNG under
``.m2io-images/`` in the corpus folder and anchored after the last line above it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from pathlib import Path

from m2io.corpus.pdfpage import REPEAT_SHARE, Figure, Line, Page
from m2io.safety import open_regular
from m2io.types import ImageRef

logger = logging.getLogger(__name__)

IMAGE_DIR = ".m2io-images"
"""Folder (inside the corpus folder) that extracted PDF images are written to."""
MIN_IMAGE_PX = 24
_CAPTION = re.compile(
    r"^(?:Figure|Fig\.|Screenshot|Illustration|Abbildung|Figura|Table|Tabelle|Tableau|Tabla)"
    r"\s*[\w.-]*\d",
    re.I,
)
_CAPTION_LINE = re.compile(_CAPTION.pattern + r"[\w.-]*\s*[:.–—](?:\s|$)", re.I)
"""A caption as captions are written: its number followed by ":" or "." ("Figure 6.1: …",
"Fig. 3. …"), not a sentence that opens on a figure's name ("Figure 2.8 below shows …")."""
_ICON_PT = 40.0  # points (14 mm): an uncaptioned image drawn no larger is an icon, no figure
_CAPTION_LINES = 8
_CAPTION_GAP = 2.5  # font sizes: a caption sits this close below (or above) its image


def images(page: object, pdfium_c: object) -> list[tuple[tuple[float, ...], int, int, object]]:
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


def _extracted(path: Path, size: tuple[int, int]) -> bool:
    """Whether ``path`` holds this image already: a file there with its pixel size. A file
    named for the image's place on its page may hold another image, extracted by a reader that
    left out other images of the page (or a PDF changed in place): it is written anew."""
    if not path.is_file():
        return False
    try:
        from PIL import Image

        with open_regular(str(path)) as f, Image.open(f) as image:
            return tuple(image.size) == size
    except Exception:  # noqa: BLE001 - an unreadable file is written anew
        return False


def _save(obj: object, path: Path, size: tuple[int, int]) -> bool:
    if _extracted(path, size):
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
    """The caption line and the lines that continue it (just below, same size), at most
    _CAPTION_LINES in all: a caption leaves the text whole, none of its lines left behind."""
    taken, previous = [first], first
    start = next(i for i, ln in enumerate(lines) if ln is first)
    for line in lines[start + 1 : start + _CAPTION_LINES]:
        gap = previous.bottom - line.top
        close = -0.5 * max(line.size, 1) < gap < 0.9 * max(line.size, 1)
        if line.heading or not close or abs(line.size - first.size) > 0.5:
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


def _icon(box: tuple) -> bool:
    """An image drawn at most _ICON_PT points on both sides with no caption: a sign set in the
    text (a note's or a warning's, 48 px drawn 1.3 cm wide), not a figure to show."""
    (left, bottom, right, top), *_, caption, _line = box
    return not caption and max(right - left, top - bottom) <= _ICON_PT


def _image_dir(root: Path, rel: str) -> Path:
    name = re.sub(r"[^\w.-]+", "_", rel)[-80:]
    digest = hashlib.sha1(rel.encode()).hexdigest()[:8]
    return root / IMAGE_DIR / f"{name}-{digest}"


def place_figures(
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
            bx
            for bx in boxes
            if placement[(tuple(round(v) for v in bx[0]), bx[1], bx[2])] < need and not _icon(bx)
        ]
        saved: list[ImageRef | None] = []
        for k, (_, width, height, obj, *_) in enumerate(kept, 1):
            target = out_dir / f"p{number + 1:04d}-{k}.png"
            if _save(obj, target, (width, height)):
                image_id = target.relative_to(root).as_posix()
                saved.append(ImageRef(image_id, str(target), None, ""))
            else:
                saved.append(None)
                warnings.append(
                    f"{rel}: image {k} on page {number + 1} could not be extracted; skipped"
                )
        _place_figures(page, kept, saved)
