"""One PDF page as lines in reading order.

Part of :mod:`m2io.corpus.pdf`: PDFium's text segments joined into lines (with their font size;
no space between segments that no real gap parts, whatever their fonts; a glyph at the edge of
two overlapping segments read once; footnote marks, raised above the baseline before them,
taken out of their sentences) and which lines open a code block. The page furniture goes in
:mod:`m2io.corpus.pdffurniture`. Every step is linear in the number of segments.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass, field

from m2io.types import ImageRef

REPEAT_SHARE = 0.25
"""A line (or an image at one place) on this share of the pages, at least 3, is furniture."""


@dataclass
class Line:
    page: int
    top: float
    bottom: float
    left: float
    text: str
    size: float
    heading: str = ""  # set when an outline entry or the font size makes it a heading
    mono: bool = False  # every segment set in a fixed-pitch font: a line of code
    right: float = 0.0  # where its last segment ends
    widest: int = 0  # characters of its longest segment, whose font size is the line's
    spaced: bool = True  # PDFium put a space after its last segment (a real gap follows)
    marks: tuple[str, ...] = ()  # footnote marks taken out of it ("1" of "allowed¹")
    glue: bool = False  # joins the next line without a space (a word hyphenated at its end)


@dataclass
class Figure:
    page: int
    top: float
    image: ImageRef
    caption_line: Line | None = None


@dataclass
class Page:
    lines: list[Line] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: dict[str, list[Line]] = field(default_factory=dict)  # footnote bodies by number


def key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _font_size(pdfium_c: object, textpage: object, index: int | None) -> float:
    if index is None or index < 0:
        return 0.0
    return float(pdfium_c.FPDFText_GetFontSize(textpage.raw, index))  # type: ignore[attr-defined]


_FIXED_PITCH = 1  # bit 1 of a PDF font descriptor's flags
_FONT_NAME_BYTES = 128
_MONO_NAME = re.compile(
    r"courier|mono|consol|menlo|monaco|typewriter|inconsolata|^cmtt|^lmtt|code(?:pro)?\b|fixed",
    re.I,
)
_MATH_NAME = re.compile(r"^(?:cmmi|cmsy|cmex|msam|msbm|lmmath|stixmath)|math|^symbol", re.I)
_TOUCH = 0.45  # in font sizes: glyphs closer than this touch (when a character is not found)
_MAX_BETWEEN = 8  # characters PDFium may set between two neighbouring segments (spaces, a break)
_ADVANCE_GAP = 0.15  # in font sizes: advances farther apart than this leave a space (TeX's >= 0.22)
_SLIVER = 0.1  # points: a text box stops this short of a neighbour that overlaps it
_TWICE = 2  # at most this many characters at a text box's edge are found read twice
_CLOSING = ".,;:!?)]’”'\""
_MARK = re.compile(r"^\d{1,2}$")
_MARK_SIZE = 0.85  # a footnote mark is set smaller than this share of its line's size
_MARK_RISE = 0.15  # and raised by more than this share of it


def _font(pdfium_c: object, textpage: object, index: int | None) -> tuple[bool, bool]:
    """Whether the character at ``index`` is set in a fixed-pitch (monospace) font, and
    whether in a maths font."""
    if index is None or index < 0:
        return False, False
    flags = ctypes.c_int(0)
    name = ctypes.create_string_buffer(_FONT_NAME_BYTES)
    pdfium_c.FPDFText_GetFontInfo(  # type: ignore[attr-defined]
        textpage.raw, index, name, _FONT_NAME_BYTES, ctypes.byref(flags)
    )
    base = name.value.decode("latin-1").rsplit("+", 1)[-1]
    # a font with no descriptor (the standard Courier) says it only by its name
    fixed = bool(flags.value & _FIXED_PITCH) or _MONO_NAME.search(base) is not None
    return fixed, _MATH_NAME.search(base) is not None


def page_lines(page: object, number: int, pdfium_c: object) -> list[Line]:
    """The page's text segments joined into lines, in content order; a line whose segments
    are all set in a fixed-pitch font is marked ``mono`` (code, a command, program output)."""
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    lines: list[Line] = []
    after_mark = False  # the last segment was a footnote mark: a space follows unless punctuation
    # the last segment's right, bottom, top, font size and baseline
    previous: tuple[float, float, float, float, float | None] = (0.0, 0.0, 0.0, 0.0, None)
    try:
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
        for i, (left, bottom, right, top) in enumerate(rects):
            raw = _rect_text(textpage, rects, i)
            text = " ".join(raw.split())
            if not text:
                continue
            last = lines[-1] if lines else None
            height = max(top - bottom, 1.0)
            index = textpage.get_index((left + right) / 2, (top + bottom) / 2, height, height)
            # a quote mark or dash set in the body font inside a command still leaves it code
            fixed, maths = _font(pdfium_c, textpage, index)
            mono = fixed or not any(ch.isalnum() for ch in text)
            middle = (top + bottom) / 2
            same_line = (
                abs(last.bottom - bottom) < 0.5 * height
                or last.bottom <= middle <= last.top  # a glyph set a little higher ("-" in "ls -l")
                # a small glyph set low, right after the last ("work" then ","; "ESS" then ", ")
                or (left >= last.right - 1 and bottom < last.top and top > last.bottom)
                if last is not None
                else False
            )
            if last is not None and same_line and left >= last.left:
                size = _font_size(pdfium_c, textpage, index)
                base = _baseline(pdfium_c, textpage, index)
                if _is_mark(text, size, bottom, last) and _above(base, previous[4]):
                    # a footnote mark ("allowed¹ (and"), set above the baseline of the glyph
                    # before it (a subscript after a raised numerator is none): out of the
                    # sentence
                    last.marks += (text,)
                    last.right, after_mark = right, True
                    continue
                # segments not parted by a real gap are one word whatever their fonts:
                # "ls -li", "‘cpu-*-’", "NAs", "CPUs" (small caps), "C++11"
                apart = _apart(pdfium_c, textpage, previous[:3], (left, bottom, top), last.size)
                if apart is None:  # by their glyphs and PDFium's spaces at the segments' ends
                    apart = (
                        last.spaced
                        or raw[:1].isspace()
                        or not last.right
                        or left - last.right >= _TOUCH * last.size
                    )
                # a capital after a letter or digit starts a word of its own even where the
                # author left no space before a change of font ("open*EM Induction*"), and so
                # does maths after a word or a comma ("area,*µ*"), a superscript ("90°") and
                # a footnote's text after its smaller number ("13" then "http://…")
                word = last.text[-1].isalpha() or last.text[-1] in ",;:"
                small_caps = last.text[-1].isupper() and size < previous[3] - 0.5  # "P" "HYSICS"
                own = (
                    (last.text[-1].isalnum() and text[0].isupper() and not small_caps)
                    or (maths and word)
                    or _raised(size, bottom, last)
                    or (last.text.isdigit() and abs(size - last.size) > 0.5)
                )
                touching = text[0] in _CLOSING if after_mark else not (apart or own)
                last.text += ("" if touching else " ") + text
                after_mark = False
                last.top = max(last.top, top)
                last.mono = last.mono and mono
                last.right, last.spaced = right, raw[-1:].isspace()
                previous = (right, bottom, top, size, base)
                if len(text) > last.widest:  # the line's size is its longest segment's
                    last.size = size or last.size
                    last.widest = len(text)
                continue
            size = _font_size(pdfium_c, textpage, index) or height
            after_mark = False
            previous = (right, bottom, top, size, _baseline(pdfium_c, textpage, index))
            lines.append(
                Line(
                    number,
                    top,
                    bottom,
                    left,
                    text,
                    size,
                    mono=mono,
                    right=right,
                    widest=len(text),
                    spaced=raw[-1:].isspace(),
                )
            )
    finally:
        textpage.close()
    return lines


def _same_row(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Two rectangles (left, bottom, right, top) side by side on one line: b starts inside or
    right after a, and their heights overlap by half the lower one's."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return a[0] < b[0] and overlap > 0.5 * min(a[3] - a[1], b[3] - b[1])


def _rect_text(textpage: object, rects: list[tuple[float, ...]], i: int) -> str:
    """Rectangle ``i``'s text, each glyph read once. PDFium's text rectangles of one line may
    overlap by a sliver (a kerned glyph's box, a space's), and its bounded text takes every
    character whose box touches the rectangle, so the glyph at the edge was read twice: "click
    OK K to", "called sample, e, which", "The A Azimuth", "LA LAT ATE TEX EX". Where a
    neighbour on the line overlaps it, the text is read again from a box that stops _SLIVER
    points short of the neighbour, and that reading is kept when all it leaves out is one or
    two characters the neighbour's own text has at that edge (the same glyph, read twice; the
    neighbour may hold a glyph of its own other neighbour as well, as in the TeX logo's raised
    letters), so a table cell whose text runs over the next one keeps all of it."""
    bounded = textpage.get_text_bounded  # type: ignore[attr-defined]
    left, bottom, right, top = rects[i]
    raw = bounded(left, bottom, right, top)
    if i and _same_row(rects[i - 1], rects[i]) and rects[i - 1][2] > left:
        cut = rects[i - 1][2] + _SLIVER
        if cut < right:
            trimmed = bounded(cut, bottom, right, top)
            gone = raw.lstrip()[: len(raw.lstrip()) - len(trimmed.lstrip())].strip()
            before = bounded(*rects[i - 1]).rstrip()
            if 0 < len(gone) <= _TWICE and gone in before[-2 * _TWICE :] and raw.endswith(trimmed):
                raw, left = trimmed, cut
    if i + 1 < len(rects) and _same_row(rects[i], rects[i + 1]) and rects[i + 1][0] < right:
        cut = rects[i + 1][0] - _SLIVER
        if cut > left:
            trimmed = bounded(left, bottom, cut, top)
            gone = raw.rstrip()[len(trimmed.rstrip()) :].strip()
            after = bounded(*rects[i + 1]).lstrip()
            if 0 < len(gone) <= _TWICE and gone in after[: 2 * _TWICE] and raw.startswith(trimmed):
                raw = trimmed
    return raw


def _loose_box(pdfium_c: object, textpage: object, index: int) -> tuple[float, float]:
    """The left and right of a character's advance (its origin and the next one's)."""
    box = pdfium_c.FS_RECTF()  # type: ignore[attr-defined]
    loose = pdfium_c.FPDFText_GetLooseCharBox  # type: ignore[attr-defined]
    loose(textpage.raw, index, ctypes.byref(box))  # type: ignore[attr-defined]
    return box.left, box.right


def _apart(
    pdfium_c: object,
    textpage: object,
    previous: tuple[float, float, float],
    box: tuple[float, float, float],
    size: float,
) -> bool | None:
    """Whether a real gap parts two segments of a line (each given by its right or left edge,
    bottom and top): a space character between them in PDFium's text (its own or the PDF's,
    the no-break space of "Section 9.4"), else a gap between the two characters' advances
    over _ADVANCE_GAP font sizes. Advances, not glyph boxes: a quote's or a full stop's glyph
    sits inside its advance, so two segments that touch ("‘" and "." of "‘.’") leave a gap
    between their glyphs as wide as some spaces. None when PDFium does not find the two
    characters as neighbours in its text (at most _MAX_BETWEEN apart, so the page is read
    once, not once per segment)."""
    find = textpage.get_index  # type: ignore[attr-defined]
    right, bottom, top = previous
    last = find(right - 0.2, (bottom + top) / 2, 0.5, (top - bottom) / 2 + 0.5)
    left, bottom, top = box
    first = find(left + 0.2, (bottom + top) / 2, 0.5, (top - bottom) / 2 + 0.5)
    if last is None or first is None or last < 0 or not last < first <= last + _MAX_BETWEEN:
        return None  # not neighbours in PDFium's text: no reading of the page's text between
    between = textpage.get_text_range(last, first - last + 1)  # type: ignore[attr-defined]
    if any(ch.isspace() for ch in between):
        return True
    gap = _loose_box(pdfium_c, textpage, first)[0] - _loose_box(pdfium_c, textpage, last)[1]
    return gap > _ADVANCE_GAP * size


def _baseline(pdfium_c: object, textpage: object, index: int | None) -> float | None:
    """The baseline (origin's height) of the character at ``index``; None when not found."""
    if index is None or index < 0:
        return None
    x, y = ctypes.c_double(0.0), ctypes.c_double(0.0)
    get = pdfium_c.FPDFText_GetCharOrigin  # type: ignore[attr-defined]
    return y.value if get(textpage.raw, index, ctypes.byref(x), ctypes.byref(y)) else None


def _above(base: float | None, before: float | None) -> bool:
    """Set higher than the segment before it, by baselines (not glyph boxes: a quote's box sits
    as high as a raised digit's); true where either is unknown."""
    return base is None or before is None or base > before


def _raised(size: float, bottom: float, last: Line) -> bool:
    """Set smaller and higher than the line it follows: a superscript."""
    return 0 < size < _MARK_SIZE * last.size and bottom > last.bottom + _MARK_RISE * last.size


def _is_mark(text: str, size: float, bottom: float, last: Line) -> bool:
    """A footnote mark: a raised number after a word or a closing quote (not after a digit:
    "2" and "31" of a power stay)."""
    return (
        _MARK.match(text) is not None
        and _raised(size, bottom, last)
        and not last.text[-1:].isdigit()
    )


def code_starts(lines: list[Line], before: Line | None) -> set[int]:
    """Indices of the lines that open a code block: a fixed-pitch line with a letter or digit
    that starts a run of two or more fixed-pitch lines, or that stands apart (after a heading,
    a sentence ending in ':' or a paragraph's gap). A lone fixed-pitch line inside a paragraph
    is inline code the line wrap left on a line of its own ("installed in" /
    "/usr/lib/cups/filter."), and stays in its sentence."""
    starts: set[int] = set()
    for i, line in enumerate(lines):
        if not line.mono or not any(ch.isalnum() for ch in line.text):
            continue
        prev = lines[i - 1] if i else before
        if prev is not None and prev.mono and not prev.heading:
            continue  # inside a run that started earlier
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        apart = (
            prev is None
            or bool(prev.heading)
            or prev.text.rstrip().endswith(":")
            or prev.bottom - line.top > 0.9 * max(line.size, 1)
        )
        if (nxt is not None and nxt.mono and not nxt.heading) or apart:
            starts.add(i)
    return starts
