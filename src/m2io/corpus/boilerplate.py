"""Lines repeated across most pages of one doc tree are furniture: drop them.

Whatever :mod:`m2io.corpus.pagecontent` cannot recognise in one page (a theme's header line,
"Previous topic", a project banner, a contact footer without markup) shows itself across the
corpus: the same line on most pages. A line (stripped, compared exactly) found on at least
``share`` of the HTML pages of a corpus of at least ``min_pages`` HTML pages is removed from
each of them; images keep their place (offsets are moved with the text). Markdown and text
documents are left alone: they carry no generator furniture.

Linear: one count per distinct line per page, one pass to rebuild each page.
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

from m2io.corpus.report import Corpus
from m2io.corpus.skips import FURNITURE
from m2io.text import FENCE
from m2io.types import Document, ImageAnchor

logger = logging.getLogger(__name__)

MIN_PAGES = 6
SHARE = 0.5
MAX_LINE_CHARS = 200
_EXTRA_BREAKS = re.compile(r"\n{3,}")


def _is_html(doc: Document) -> bool:
    return doc.doc_id.lower().endswith((".html", ".htm", ".xhtml"))


def repeated_lines(documents: list[Document], *, share: float = SHARE) -> set[str]:
    """Lines on at least ``share`` of the HTML pages (none below ``MIN_PAGES`` pages)."""
    pages = [d for d in documents if _is_html(d)]
    if len(pages) < MIN_PAGES:
        return set()
    counts: Counter[str] = Counter()
    for doc in pages:
        counts.update(
            {
                ln.strip()
                for ln in doc.text.split("\n")
                if 0 < len(ln.strip()) <= MAX_LINE_CHARS and ln.strip() != FENCE
            }
        )
    need = max(2, int(share * len(pages) + 0.999))
    return {line for line, n in counts.items() if n >= need}


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` without ``spans`` (sorted, disjoint)."""
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def _lines_at(spans: list[tuple[int, int]]) -> Callable[[str], list[tuple[int, int]]]:
    return lambda _text: spans


def _extra_breaks(text: str) -> list[tuple[int, int]]:
    return [(m.start() + 2, m.end()) for m in _EXTRA_BREAKS.finditer(text)]


def _ends(text: str) -> list[tuple[int, int]]:
    lead = len(text) - len(text.lstrip("\n"))
    trail = len(text) - len(text.rstrip("\n"))
    cuts = [(0, lead)] if lead else []
    if trail and trail < len(text):
        cuts.append((len(text) - trail, len(text)))
    return cuts


def _mover(spans: list[tuple[int, int]]) -> Callable[[int], int]:
    starts = [s for s, _ in spans]
    removed_before = [0]
    for s, e in spans:
        removed_before.append(removed_before[-1] + (e - s))

    def move(offset: int) -> int:
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0:
            return offset
        s, e = spans[i]
        return s - removed_before[i] if offset < e else offset - removed_before[i + 1]

    return move


def _without(doc: Document, lines: set[str]) -> Document:
    text = doc.text
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in text.split("\n"):
        end = pos + len(line)
        if line.strip() in lines:
            spans.append((pos, min(end + 1, len(text))))
        pos = end + 1
    if not spans:
        return doc
    moves = []
    for find in (_lines_at(spans), _extra_breaks, _ends):
        cuts = find(text)
        text = _cut(text, cuts)
        moves.append(_mover(cuts))

    def move(offset: int) -> int:
        for step in moves:
            offset = step(offset)
        return offset

    final = text
    anchors = tuple(ImageAnchor(a.image, min(move(a.offset), len(final))) for a in doc.images)
    return replace(doc, text=final, images=anchors)


def drop_repeated(
    documents: list[Document], *, share: float = SHARE
) -> tuple[list[Document], set[str]]:
    """The documents without the lines repeated on most HTML pages, and those lines."""
    lines = repeated_lines(documents, share=share)
    if not lines:
        return documents, lines
    return [_without(d, lines) if _is_html(d) else d for d in documents], lines


def drop_repeated_lines(corpus: Corpus) -> None:
    """:func:`drop_repeated` on a loaded corpus, in place; a page left empty is skipped as
    furniture (``Corpus.skipped``)."""
    documents, lines = drop_repeated(corpus.documents)
    if not lines:
        return
    logger.info("dropped %d lines repeated on most pages: %s", len(lines), sorted(lines)[:5])
    corpus.documents = [d for d in documents if d.text or d.images]
    empty = [d.doc_id for d in documents if not (d.text or d.images)]
    if empty:
        corpus.skipped.setdefault(FURNITURE, []).extend(empty)
