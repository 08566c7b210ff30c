"""HTML to plain text with images at offsets, keeping figures' captions and leaving out navigation.

Block elements become blank lines (list items and table rows single line breaks), a ``<pre>``
block keeps its lines between two fence lines (:func:`~m2io.corpus.parsed.fenced`), and
script/style disappear. Navigation (``<nav>``, ``role="navigation"``, DocBook's
``div.navheader``/``div.navfooter``, gtk-doc's ``table.navigation``, Texinfo's ``div.nav-panel``
and node menus, and any short block holding a ``rel="next|prev|up"`` or ``accesskey`` step
link) is removed with its text; images in ``<header>``/``<footer>``,
``role="presentation"``, ``aria-hidden``, declared smaller than 24 px, or heading the page as a
link to its contents page (:func:`~m2io.corpus.pagecontent.title_banners`) are marked decorative.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag
from bs4.element import CData, ProcessingInstruction
from bs4.exceptions import ParserRejectedMarkup

from m2io.corpus.htmlnav import has_class, is_navigation, refresh_target, step_bars
from m2io.corpus.latex2html import drop_page_references, resolve_math
from m2io.corpus.pagecontent import (
    drop_footnote_marks,
    main_content,
    page_lead,
    remove_furniture,
    title_banners,
)
from m2io.corpus.parsed import (
    Parsed,
    RawImage,
    combine_captions,
    fenced,
    finish,
    placeholder,
    scrub,
)
from m2io.corpus.parsed import strip_figure_number as _strip_number
from m2io.corpus.report import CorpusError
from m2io.corpus.shapes import (
    CELL_ATTR,
    HEAD_ATTR,
    icon_word,
    join_admonitions,
    join_definitions,
    mark_tables,
)
from m2io.language import normalize

_SKIP = frozenset(
    "script style noscript template head title meta link iframe object embed svg canvas "
    "button select input textarea map area".split()
)
_PARA = frozenset(
    "p div section article main aside header footer h1 h2 h3 h4 h5 h6 pre blockquote figure "
    "figcaption table thead tbody tfoot caption ul ol dl hr address details summary fieldset "
    "form center body html".split()
)
_LINE = frozenset("li tr dt dd option".split())
_REDIRECT_MAX_CHARS = 300
_FIGURE_CLASSES = frozenset({"figure", "informalfigure"})
_LINE_MARK, _PARA_MARK, _PRE_SPACE, _PRE_TAB = "\x01", "\x02", "\x03", "\x04"
_HEADED_CELL, _PLAIN_CELL = "\x05", "\x06"  # after a table cell: "; " or " | " between cells
_NON_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction, CData)
_TINY = 24
_HEADINGS = ["h1", "h2", "h3", "h4", "h5", "h6"]
_GLYPH = "\uf0c1"  # an icon font's link glyph (Font Awesome), never text
# each run matched from its start only, without backtracking: linear however long the run
_CELL_SPACE = re.compile("(?<![ \x01\x02])[ \x01\x02]++([\x05\x06])")
_ROW_END = re.compile("(?<![ \x05\x06])[\x05\x06][ \x05\x06]*+([\x01\x02]|$)")
_DECLARATION = re.compile(r"<!(?!--)")
_SECTION_END = re.compile(r"\]\s*\]\s*>")
_END_BR = re.compile(r"</br\s*>", re.I)


def _text(tag: Tag | None) -> str:
    return " ".join(tag.get_text(" ").split()) if tag is not None else ""


def _px(value: object) -> int | None:
    m = re.match(r"\s*(\d+)\s*(?:px)?\s*$", str(value or ""))
    return int(m.group(1)) if m else None


class _Context:
    """The figure-like elements open around the walk's current node, and their captions.

    ``img.find_parent("figure")`` per image and ``figure.find("figcaption")`` per figure cost
    the depth and size of the tree each time, which a page of deeply nested figures makes
    quadratic. Instead the walk keeps the open elements on stacks and hands each caption element
    to the open elements still waiting for one (its first in document order, as ``find`` would);
    the captions are read once the walk is done.
    """

    def __init__(self) -> None:
        self.open: dict[str, list[Tag]] = {"figure": [], "docbook": [], "media": []}
        self.waiting: dict[str, list[Tag]] = {"figure": [], "docbook": [], "media": []}
        self.caption: dict[int, Tag] = {}
        self.header_footer = 0

    @staticmethod
    def kinds(tag: Tag) -> list[str]:
        found = []
        if tag.name == "figure":
            found.append("figure")
        if tag.name == "div" and has_class(tag, _FIGURE_CLASSES):
            found.append("docbook")
        if tag.name == "div" and has_class(tag, {"mediaobject"}):
            found.append("media")
        return found

    def enter(self, tag: Tag) -> None:
        for kind, test in (
            ("figure", tag.name == "figcaption"),
            (
                "docbook",
                has_class(tag, {"title", "figure-title"}),
            ),  # figure-title: XSL 1.79 XHTML5
            ("media", has_class(tag, {"caption"})),
        ):
            if test:
                for waiting in self.waiting[kind]:
                    self.caption[id(waiting)] = tag
                self.waiting[kind].clear()
        for kind in self.kinds(tag):
            self.open[kind].append(tag)
            self.waiting[kind].append(tag)
        self.header_footer += tag.name in ("header", "footer")

    def leave(self, tag: Tag) -> None:
        for kind in self.kinds(tag):
            self.open[kind].pop()
            if self.waiting[kind] and self.waiting[kind][-1] is tag:
                self.waiting[kind].pop()
        self.header_footer -= tag.name in ("header", "footer")

    def around(self) -> tuple[Tag | None, Tag | None, Tag | None]:
        """The innermost open figure, DocBook figure and media object."""
        return tuple(self.open[k][-1] if self.open[k] else None for k in self.open)  # type: ignore[return-value]

    def caption_of(self, figure: Tag | None, docbook: Tag | None, media: Tag | None) -> str:
        """Caption text from the figure around an image: figcaption, DocBook title, caption block."""
        pieces: list[str] = []
        if figure is not None:
            pieces.append(_text(self.caption.get(id(figure))))
        if docbook is not None:
            pieces.append(_strip_number(_text(self.caption.get(id(docbook)))))
        if media is not None:
            cap = self.caption.get(id(media))
            if cap is None:
                sib = media.find_next_sibling()
                cap = sib if sib is not None and has_class(sib, {"caption"}) else None
            pieces.append(_text(cap))
        return combine_captions(*pieces)


def _raw_image(img: Tag, decorative_place: bool) -> RawImage:
    src = str(img.get("src") or img.get("data-src") or "").strip()
    role = str(img.get("role") or "").lower()
    width, height = _px(img.get("width")), _px(img.get("height"))
    decorative = (
        role in ("presentation", "none")
        or str(img.get("aria-hidden") or "").lower() == "true"
        or decorative_place
        or (width is not None and height is not None and width < _TINY and height < _TINY)
    )
    return RawImage(
        src=src,
        alt=" ".join(str(img.get("alt") or "").split()),
        title=" ".join(str(img.get("title") or "").split()),
        decorative=decorative,
        width=width,
        height=height,
    )


_ROMAN = "i ii iii iv v vi vii viii ix x xi xii".split()


def _item_number(li: Tag, seen: dict[int, int]) -> str:
    """The number an ordered list shows before ``li`` ("3.", "iii."), or "" (an unordered
    list's item, letters, a number past xii.): a procedure's steps keep their numbers, so the
    how-to answer can find them (``m2io.generators.procedures``)."""
    ol = li.parent
    if not isinstance(ol, Tag) or ol.name != "ol" or li.find("li", recursive=False):
        return ""  # (items left unclosed nest in each other: no numbers for them)
    kind = str(ol.get("type") or "1")
    classes = " ".join(_classes_of(ol))
    if kind in ("a", "A") or "alpha" in classes:
        return ""
    try:
        start = int(str(ol.get("start") or "1"))
    except ValueError:
        start = 1
    k = start + seen.get(id(ol), 0)  # items of this list met before (linear: no sibling scan)
    seen[id(ol)] = seen.get(id(ol), 0) + 1
    if kind in ("i", "I") or "roman" in classes:
        return f"{_ROMAN[k - 1]}." if 1 <= k <= len(_ROMAN) else ""
    return f"{k}."


def _classes_of(tag: Tag) -> list[str]:
    value = tag.get("class") or []
    return [str(c).lower() for c in (value.split() if isinstance(value, str) else value)]


def _walk(root: Tag) -> tuple[str, list[RawImage]]:
    """Plain text of ``root`` with break marks and image placeholders, and its images."""
    banners = title_banners(root)
    out: list[str] = []
    images: list[RawImage] = []
    figures: list[tuple[Tag | None, Tag | None, Tag | None]] = []
    context = _Context()
    in_pre = in_cell = 0  # inside a marked table cell, breaks are spaces: a row is one line
    number = ""  # an ordered list item's number, written before its first text
    items: dict[int, int] = {}  # id(ol) -> its items met so far
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:  # explicit stack: deeply nested pages would overflow recursion
        node, closing = stack.pop()
        if closing and isinstance(node, Tag):
            in_pre -= node.name == "pre"
            context.leave(node)
            cell = node.get(CELL_ATTR)
            if cell:
                in_cell -= 1
                out.append(_HEADED_CELL if cell == "h" else _PLAIN_CELL)
            elif in_cell and not in_pre and (node.name in _PARA or node.name in _LINE):
                out.append(" ")
            elif node.name in _PARA or (node.name in _LINE and node.name != "tr"):
                out.append(_LINE_MARK if node.name in _LINE else _PARA_MARK)
            continue
        if isinstance(node, NavigableString):
            if isinstance(node, _NON_TEXT):
                continue
            s = str(node)
            if in_pre:
                s = s.replace("\r\n", "\n").replace(" ", _PRE_SPACE).replace("\t", _PRE_TAB)
                out.append(s.replace("\n", _LINE_MARK))
            else:
                if number and s.strip():  # an ordered list's item: its number before its text
                    out.append(number + " ")
                    number = ""
                out.append(re.sub(r"\s+", " ", s))
            continue
        if not isinstance(node, Tag) or node.name in _SKIP:
            continue
        if node.name == "br":
            out.append(" " if in_cell and not in_pre else _LINE_MARK)
            continue
        if node.name == "img":
            out.append(placeholder(len(images)))
            images.append(_raw_image(node, context.header_footer > 0 or id(node) in banners))
            word = "" if in_pre else icon_word(node)
            if word:  # the sentence names the icon: it reads "edit = this icon shows…"
                out.append(f" {word}")
            figures.append(context.around())
            continue
        if node.name == "li" and not in_cell and not in_pre:
            number = _item_number(node, items)
        if node.name == "pre" and not in_pre and not in_cell:
            number = ""  # an item that opens on code: no number to put before it
            # a preformatted block: its lines as written, between fence lines, one unit for
            # the splitter (m2io.text.FENCE); its markup is only highlighting
            code = fenced(node.get_text())
            if code:
                marks = code.replace(" ", _PRE_SPACE).replace("\t", _PRE_TAB)
                out.append(_PARA_MARK + marks.replace("\n", _LINE_MARK) + _PARA_MARK)
            continue
        context.enter(node)
        if node.name in ("td", "th"):
            head = node.get(HEAD_ATTR)
            out.append(f" {head}: " if head else " ")
            in_cell += bool(node.get(CELL_ATTR))
        elif in_cell and not in_pre and (node.name in _PARA or node.name in _LINE):
            out.append(" ")
            in_pre += node.name == "pre"
        elif node.name in _PARA or node.name in _LINE:
            out.append(_LINE_MARK if node.name in _LINE else _PARA_MARK)
            in_pre += node.name == "pre"
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.contents))
    for image, around in zip(images, figures, strict=True):
        image.caption = context.caption_of(*around)
    return "".join(out), images


def _cells(marked: str) -> str:
    """Cell marks as separators between a row's cells; none after its last cell."""
    marked = _CELL_SPACE.sub(lambda m: m.group(1), marked)
    marked = _ROW_END.sub(lambda m: m.group(1), marked)
    return marked.replace(_HEADED_CELL, "; ").replace(_PLAIN_CELL, " | ")


def _breaks(m: re.Match[str]) -> str:
    marks = m.group(0)
    return "\n\n" if _PARA_MARK in marks or marks.count(_LINE_MARK) > 1 else "\n"


def _defuse(html: str) -> str:
    """Escape the markup openers that no later text can close.

    Python's ``html.parser`` looks for the end of a tag (``>``), comment (``-->``) or marked
    section (``]]>``) from every opener, and on failure moves on one opener at a time, so a page
    of openers without a closer (``"<a " * 30000``, ``"<!--" * 30000``) costs quadratic time. An
    opener after the last closer of its kind can only ever be text, so it is written as text
    (``&lt;``) before parsing; the page reads the same, and parsing is linear again.
    """
    last_gt = html.rfind(">")
    head, tail = html[: last_gt + 1], html[last_gt + 1 :].replace("<", "&lt;")
    last_comment = head.rfind("-->")
    if "<!--" in head[last_comment + 1 :]:
        cut = last_comment + 3 if last_comment >= 0 else 0
        head = head[:cut] + head[cut:].replace("<!--", "&lt;!--")
    last_section = max((m.end() for m in _SECTION_END.finditer(head)), default=0)
    if "<![" in head[last_section:]:
        head = head[:last_section] + head[last_section:].replace("<![", "&lt;![")
    return head + tail


def html_to_text(html: str, *, macros: Mapping[str, str] | None = None) -> Parsed:
    """Parse an HTML page into title, plain text and images at offsets.

    ``macros``: latex2html's formula placeholders (``images.pl`` beside the page, read by
    :func:`~m2io.corpus.latex2html.read_images_pl`); without them a placeholder is dropped.

    The title is the first heading (``h1``-``h6``) outside navigation, else ``<title>``. The
    parser's marker code points in the input are replaced first (:func:`~.parsed.scrub`).

    A malformed declaration or marked section (``<![bogus[``), which makes Python's
    ``html.parser`` reject the whole page, is read as text instead.

    Raises:
        CorpusError: The HTML parser rejected the markup even so (bs4's
            ``ParserRejectedMarkup``); the folder loader reports the file and skips it.
    """
    page = _END_BR.sub("<br>", _defuse(scrub(html)))  # "</br>" breaks the line, as in browsers
    try:
        soup = BeautifulSoup(page, "html.parser")
    except (ParserRejectedMarkup, AssertionError):
        # html.parser rejects a whole page for one malformed declaration or marked section
        # ("<![bogus[", "<!DOCTYPE x ["): read those as the text they are, and try again
        try:
            soup = BeautifulSoup(_DECLARATION.sub("&lt;!", page), "html.parser")
        except (ParserRejectedMarkup, AssertionError, ValueError, RecursionError) as exc:
            why = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            raise CorpusError(f"HTML parser rejected the markup ({why})") from exc
    for nav in soup.find_all(is_navigation) + step_bars(soup):
        if not nav.decomposed:  # a nav inside a nav that is gone already
            nav.decompose()
    forwards_to = refresh_target(soup)
    frameset = soup.find(("frameset", "frame")) is not None
    main = main_content(soup)
    lead = page_lead(soup, main) if main is not None else None
    if lead is not None:  # the page's title and summary sit in a header block before main
        main.insert(0, lead.extract())
    root = main or soup.body or soup
    remove_furniture(root, whole_body=main is None)
    drop_page_references(root)
    drop_footnote_marks(root)
    resolve_math(root, macros)
    join_admonitions(root)
    join_definitions(root)
    mark_tables(root, len(page))
    heading = root.find(_HEADINGS) or soup.find(_HEADINGS)
    title = _text(heading) or _text(soup.find("title"))
    marked, images = _walk(root)
    marked = _cells(marked.replace(_GLYPH, ""))
    marked = re.sub(r" {2,}", " ", marked)
    marked = re.sub(f" *[{_LINE_MARK}{_PARA_MARK}][{_LINE_MARK}{_PARA_MARK} ]*", _breaks, marked)
    marked = marked.replace(_PRE_SPACE, " ").replace(_PRE_TAB, "\t")
    parsed = finish(title, marked, images)
    parsed.language = _declared_language(soup)
    parsed.frameset = frameset
    if forwards_to and not parsed.images and len(parsed.text) <= _REDIRECT_MAX_CHARS:
        parsed.redirect = forwards_to  # "The node you are looking for is at …": not a page
    return parsed


def _declared_language(soup: BeautifulSoup) -> str:
    """``<html lang>`` or ``xml:lang`` (on ``<html>`` or ``<body>``), normalised."""
    for tag in (soup.find("html"), soup.body):
        if isinstance(tag, Tag):
            for attr in ("lang", "xml:lang"):
                code = normalize(str(tag.get(attr) or ""))
                if code:
                    return code
    return ""
