"""Shapes that plain text must keep: table rows with their headers, admonitions with their label.

A table row read as plain text runs its cells together ("Time Reverse and speed up…"), so before
the page is walked each data cell of a table with header cells is marked with its column's header
and the walker writes the row as one line, ``Header1: cell; Header2: cell``: a row can then be
retrieved, quoted and cited alone. A table without headers writes its cells as ``a | b``. The
header row itself is left out once every data row carries it.

An admonition (``div.note``, ``div.warning``, Sphinx/MkDocs ``admonition``, DocBook's tables
under ``div.note``) becomes ``Note: text``: its label joins its first paragraph instead of
standing alone, where it would read as a heading.

An icon its sentence names ("<img> = this icon shows …", "click the <img> button") is written
as a word of that sentence (:func:`icon_word`): its alt text, or its file name made words.

Both passes read each element a bounded number of times: header and cell texts are read within
a budget proportional to the page, and an admonition's label is looked for at most three levels
down, so a hostile page of nested tables or notes stays linear (docs/design.md).
"""

from __future__ import annotations

import re

from bs4 import NavigableString, Tag

from m2io.corpus.parsed import looks_like_file_name, names_its_file

HEAD_ATTR = "data-m2io-head"
"""Attribute the walker reads on a data cell: its column's header text."""
CELL_ATTR = "data-m2io-cell"
"""Attribute on a cell that has text, in a row of two or more such cells: ``"h"`` (headed) or
``"p"`` (plain); the walker writes a separator after it."""

ADMONITIONS = frozenset(
    "note warning tip caution important danger attention hint error admonition seealso".split()
)
_TITLE_CLASSES = frozenset({"admonition-title", "title"})
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6 th".split())
# text around an inline icon that makes the icon a word of its sentence: "<img> = modified",
# "<img>: cleared", "click the <img> button"
_ICON_AFTER = re.compile(r"^\s*(?:[=:\u2013\u2014\u2192]|-\s)")
_ICON_BEFORE = re.compile(r"\b(?:the|a|an|click|press|icon|button)\s*$", re.I)


def _rows(table: Tag) -> list[Tag]:
    rows = table.find_all("tr", recursive=False)
    for part in table.find_all(("thead", "tbody", "tfoot"), recursive=False):
        rows.extend(part.find_all("tr", recursive=False))
    return rows


def _cells(row: Tag) -> list[Tag]:
    return row.find_all(("td", "th"), recursive=False)


class _Budget:
    def __init__(self, chars: int) -> None:
        self.left = chars

    def text(self, tag: Tag) -> str | None:
        """The tag's text, or None once the budget is spent."""
        if self.left <= 0:
            return None
        text = " ".join(tag.get_text(" ").split())
        self.left -= len(text) + 1
        return text


def mark_tables(root: Tag, page_chars: int) -> None:
    """Mark the cells of every table under ``root`` for the walker (see the module docstring)."""
    budget = _Budget(2 * page_chars + 10_000)
    for table in root.find_all("table"):
        rows = _rows(table)
        if not rows:
            continue
        head_row = None
        for row in rows:
            cells = _cells(row)
            if cells and all(c.name == "th" for c in cells):
                head_row = row
                break
            if row.parent is not None and row.parent.name != "thead":
                break
        heads: list[str] = []
        if head_row is not None:
            for cell in _cells(head_row):
                text = budget.text(cell)
                if text is None:
                    return
                span = _span(cell)
                heads.extend([text] + [""] * (span - 1))
        body = [r for r in rows if r is not head_row]
        for row in body:
            texts = []
            for cell in _cells(row):
                text = budget.text(cell)
                if text is None:
                    return
                texts.append((cell, text))
            filled = [(c, t) for c, t in texts if t or c.find("img") is not None]
            column = 0
            for cell, _ in texts:
                head = heads[column] if column < len(heads) else ""
                column += _span(cell)
                if head and any(cell is c for c, _ in filled):
                    cell[HEAD_ATTR] = head
            if len(filled) > 1 or (heads and filled):
                for cell, _ in filled:
                    cell[CELL_ATTR] = "h" if cell.get(HEAD_ATTR) else "p"
        if head_row is not None and body and heads:
            head_row.decompose()


def _span(cell: Tag) -> int:
    try:
        return max(1, min(int(str(cell.get("colspan") or 1)), 100))
    except ValueError:
        return 1


def _title_of(box: Tag) -> Tag | None:
    """The admonition's label element, looked for at most three levels down."""
    level = [box]
    for _ in range(3):
        nxt: list[Tag] = []
        for parent in level:
            for child in parent.children:
                if not isinstance(child, Tag):
                    continue
                classes = child.get("class") or []
                if child.name in _HEADINGS or _TITLE_CLASSES.intersection(classes):
                    return child
                if child.name in ("table", "tbody", "tr", "td", "div", "thead"):
                    nxt.append(child)
        level = nxt
    return None


def _inside(tag: Tag, box: Tag, steps: int = 12) -> bool:
    """Whether ``box`` is among the first ``steps`` ancestors of ``tag`` (bounded walk)."""
    parent = tag.parent
    for _ in range(steps):
        if parent is None:
            return False
        if parent is box:
            return True
        parent = parent.parent
    return False


def join_admonitions(root: Tag) -> None:
    """Write each admonition's label in front of its first paragraph (``Note: …``)."""
    boxes = root.find_all(
        lambda t: t.name in ("div", "aside") and ADMONITIONS.intersection(t.get("class") or [])
    )
    for box in boxes:
        if box.decomposed:
            continue
        title = _title_of(box)
        if title is None:
            continue
        label = " ".join(title.get_text(" ").split()).rstrip(":")
        if not label or len(label) > 40:
            continue
        para = title.find_next("p")
        if para is not None and _inside(para, box):
            title.decompose()
            para.insert(0, NavigableString(f"{label}: "))
        else:
            title.clear()
            title.append(NavigableString(f"{label}:"))


def _nested_definition(term: Tag) -> Tag | None:
    """The ``<dd>`` among ``term``'s own children, before any other term or list."""
    for child in term.children:
        if isinstance(child, Tag) and child.name == "dd":
            return child
        if isinstance(child, Tag) and child.name in ("dt", "dl"):
            return None
    return None


_BLOCKS = frozenset("p div dl ul ol table pre blockquote h1 h2 h3 h4 h5 h6".split())


def _one_line(body: Tag) -> bool:
    """Whether a nested ``<dd>`` holds only a line of text before the next term: no paragraph,
    list or table (a definition of several paragraphs is a section, its term the heading)."""
    for child in body.children:
        if isinstance(child, Tag) and child.name in ("dt", "dd"):
            return True
        if isinstance(child, Tag) and child.name in _BLOCKS:
            return False
    return True


def _join_nested(term: Tag, body: Tag) -> None:
    """``Label: definition`` for a term whose one-line definition ``body`` is its own child,
    written as one line of the list (not a paragraph of its own, which would read as a heading
    and cut the list into sections); the label's images (a bullet) stay where they were."""
    if not _one_line(body):
        return
    before = []
    for child in term.children:
        if child is body:
            break
        before.append(child)
    words = " ".join(c.get_text(" ") if isinstance(c, Tag) else str(c) for c in before)
    label = " ".join(words.split()).rstrip(":")
    if not label or len(label) > 80:
        return
    for child in before:
        if not (isinstance(child, Tag) and child.name == "img"):
            child.extract()
    body.insert(0, NavigableString(f"{label}: "))
    body.unwrap()  # the entry is the term's one line: "Width: …", a line of the list's paragraph


def join_definitions(root: Tag) -> None:
    """Write each definition-list term in front of its definition (``Term: definition``), so a
    glossary entry reads as one sentence instead of a bare term glued to the definition of the
    next. A term longer than a heading (80 characters), or one without a ``<dd>`` after it, is
    left as it is. Hand-written pages leave ``<dt>`` unclosed (``<dt>Width<dd>The width…``),
    which ``html.parser`` reads as the ``<dd>`` inside the term: there the term's text before
    its ``<dd>`` is the label, when the definition is one line (a term over paragraphs of its
    own stays their heading)."""
    for term in root.find_all("dt"):
        if term.decomposed:
            continue
        nested = _nested_definition(term)
        if nested is not None:
            _join_nested(term, nested)
            continue
        label = " ".join(term.get_text(" ").split()).rstrip(":")
        if label.startswith(":"):  # Texinfo's empty category: ": disp (x)" is "disp (x)"
            first = term.find(string=lambda x: x.strip() != "")
            if first is not None and first.strip().startswith(":"):
                first.replace_with(NavigableString(first.lstrip().lstrip(":").lstrip()))
            label = label.lstrip(":").strip()
        body = term.find_next_sibling(("dd", "dt"))
        if not label or len(label) > 80 or body is None or body.name != "dd":
            continue
        para = body.find("p")  # each <dd> is searched once: linear in the page
        target = para if para is not None and _inside(para, body, steps=3) else body
        target.insert(0, NavigableString(f"{label}: "))
        term.decompose()


def icon_word(img: Tag) -> str:
    """What an inline icon says when its sentence names it (``<img src="hb-ope-edit.png"> =
    this icon shows…``, ``click the <img> button``): its alt text, else its file name made
    words ("hb ope edit"); "" for an image its text does not lean on."""
    after, before = img.next_sibling, img.previous_sibling
    leans = (isinstance(after, NavigableString) and _ICON_AFTER.match(str(after)[:64])) or (
        isinstance(before, NavigableString) and _ICON_BEFORE.search(str(before)[-64:])
    )
    if not leans:
        return ""
    src = str(img.get("src") or "")
    alt = " ".join(str(img.get("alt") or "").split())
    if alt and not names_its_file(alt, src) and not looks_like_file_name(alt):
        return alt
    stem = src.split("?")[0].split("#")[0].rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return " ".join(w for w in re.split(r"[^A-Za-z]+", stem) if w)
