"""Page furniture out of a PDF's pages: running headers and footers, page numbers, contents pages.

Part of :mod:`m2io.corpus.pdf`, run on the pages' lines (:mod:`m2io.corpus.pdfpage`) before
anything reads them as text. A line at a page's edge (among the two highest or lowest, by
position) goes when it repeats, digits aside, on a quarter of the pages; when its number
follows the page's (a header that changes with each chapter, ``56 Chapter 3. Electronics``);
when it is the highest (lowest) line of its page where such lines mostly repeat (a chapter's
title atop its pages, with no number); or when it is a bare page number. The pages of a table
of contents or a list of figures (dot leaders) are emptied. Every step is linear in the number
of lines.
"""

from __future__ import annotations

import re
from collections import Counter

from m2io.corpus.pdfpage import REPEAT_SHARE, Line, Page

_EDGE_LINES = 2
_FOLIO = re.compile(r"^(?:(\d{1,4})\s+\S.{0,120}|\S.{0,120}\s(\d{1,4}))$")
_LEADER = re.compile(r"(?:\.\s?){5,}\s*\d*\s*$")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?(?:\d+|[ivxlcdm]+)(?:\s*(?:/|of)\s*\d+)?$", re.I)


def _folio(text: str) -> list[int]:
    """The numbers a line starts or ends with (``98 Chapter 9. Coding`` -> ``[98]``)."""
    m = _FOLIO.match(text)
    return [int(n) for n in m.groups() if n] if m else []


def _edges(lines: list[Line]) -> list[Line]:
    """The _EDGE_LINES lines set highest and lowest on a page, by position: a caption or a
    frame PDFium reads after the page number ("15" then "Figure 2.7: …") leaves it at the edge."""
    ranked = sorted(lines, key=lambda ln: -ln.top)
    return ranked[:_EDGE_LINES] + ranked[-_EDGE_LINES:]


def _band(line: Line, top: bool) -> tuple[bool, int, int]:
    return top, round(line.top), round(line.size)


def _header_bands(pages: list[Page], need: int) -> set[tuple[bool, int, int]]:
    """Where a page's highest (or lowest) line sits, at one place and size on ``need`` pages,
    when most lines there repeat (digits aside) on another page: a running header or footer
    that changes with each chapter (its title on the pages of the chapter) and names no page."""
    lines: dict[tuple[bool, int, int], list[str]] = {}
    for page in pages:
        if page.lines:
            first = max(page.lines, key=lambda ln: ln.top)
            last = min(page.lines, key=lambda ln: ln.top)
            for line, top in ((first, True), (last, False)):
                lines.setdefault(_band(line, top), []).append(re.sub(r"\d+", "#", line.text))
    bands = set()
    for band, texts in lines.items():
        counts = Counter(texts)
        repeated = sum(n for n in counts.values() if n >= 2)
        if len(texts) >= need and repeated > len(texts) / 2:
            bands.add(band)
    return bands


def drop_running_lines(pages: list[Page]) -> int:
    """Drop running headers, footers and page numbers; how many lines went.

    Besides lines repeated (digits aside) on a quarter of the pages, a header that changes with
    each chapter (``56 Chapter 3. Electronics``, ``3.4. Clipping 43``) is found by its page
    number: the printed number minus the page's index is the same on most pages; and one with
    no number (the chapter's title alone at the top of its pages) by its place: the highest
    line of a page, at the height and size where, on a quarter of the pages, such a line repeats
    on some other page (:func:`_header_bands`). Edge lines are the highest and lowest by
    position, not by PDFium's order.
    """
    counts: Counter[str] = Counter()
    offsets: Counter[int] = Counter()
    for number, page in enumerate(pages):
        edges = _edges(page.lines)
        counts.update({re.sub(r"\d+", "#", ln.text) for ln in edges})
        offsets.update({k - number for ln in edges for k in _folio(ln.text)})
    need = max(3, int(REPEAT_SHARE * len(pages) + 0.999))
    folio = {off for off, n in offsets.items() if n >= need}
    bands = _header_bands(pages, need)
    dropped = 0
    for page in pages:
        n = len(page.lines)
        kept = []
        number = page.lines[0].page if page.lines else 0
        marks = {m for line in page.lines for m in line.marks}
        edges = {id(ln) for ln in _edges(page.lines)}
        ends = (
            {
                id(max(page.lines, key=lambda ln: ln.top)): True,
                id(min(page.lines, key=lambda ln: ln.top)): False,
            }
            if page.lines
            else {}
        )
        for i, line in enumerate(page.lines):
            # a footnote's number on a line of its own, its text below, is no page number
            edge = id(line) in edges and not (line.text in marks and i < n - 1)
            running = (
                counts[re.sub(r"\d+", "#", line.text)] >= need
                or any(k - number in folio for k in _folio(line.text))
                or (id(line) in ends and _band(line, ends[id(line)]) in bands)
            )
            if edge and (running or _PAGE_NUMBER.match(line.text)):
                dropped += 1
                continue
            kept.append(line)
        page.lines = kept
    return dropped


def drop_contents_pages(pages: list[Page]) -> None:
    """Empty the pages of a table of contents or a list of figures: a third or more of their
    lines (at least 3) end in a dot leader (``2.5.5 The package state . . . . 61``)."""
    for page in pages:
        leaders = sum(1 for line in page.lines if _LEADER.search(line.text[-200:]))
        if leaders >= max(3, len(page.lines) / 3):
            page.lines = []
