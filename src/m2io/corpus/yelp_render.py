"""DocBook and Mallard elements as the text a reader of the rendered help reads.

:func:`render` walks a parsed page (an lxml element) and writes what :func:`~m2io.corpus.parsed.
finish` takes: plain text with an image placeholder where each figure stands, and the images.
Titles of the page and of its sections (``section``, ``sect1``-``sect5``, ``refsect*``,
``chapter``…) are one-line paragraphs, the shape the section finder reads as headings
(:mod:`m2io.index.sections`); a section with nothing of its own under its title is left out.
Paragraphs are paragraphs; a list is one line per item, numbered for ``steps``,
``orderedlist`` and ``procedure``; code (``screen``, ``programlisting``, a block ``code``) keeps
its lines; table rows are written as :mod:`~m2io.corpus.shapes` writes them
(``Header: cell; Header: cell``); a note joins its label (``Tip: …``); GUI sequences read
``File ▸ Save As…`` and key combinations ``Ctrl+S``. A figure's image is placed where the figure
stands, its caption (figure title, ``desc``, media caption) given to the image, not the text.

Left out: metadata (``info``, ``*info``, credits, licence, revisions), ``links`` navigation,
``comment``, ``remark``, ``indexterm``, footnotes, and video or audio media. Mallard
conditionals are resolved before the walk (:func:`m2io.corpus.yelp_xml.resolve_conditionals`).

Recursion is bounded: below :data:`MAX_DEPTH` nested elements a subtree is read as plain text.
"""

from __future__ import annotations

import re
import textwrap

from lxml import etree

from m2io.corpus.parsed import RawImage, combine_captions, fenced, placeholder, strip_figure_number
from m2io.corpus.yelp_xml import local

MAX_DEPTH = 120
"""Nested elements walked as structure; anything deeper is read as its plain text."""

MENU_SEP = " ▸ "

SECTIONS = frozenset(
    "book part chapter appendix preface article section sect1 sect2 sect3 sect4 sect5 "
    "simplesect refentry refsection refsect1 refsect2 refsect3 refsynopsisdiv glossary "
    "bibliography partintro reference colophon dedication acknowledgements page topic set "
    "glossdiv bibliodiv sidebar".split()
)
_SKIP = frozenset(
    "info bookinfo articleinfo chapterinfo appendixinfo prefaceinfo partinfo sectioninfo "
    "sect1info sect2info sect3info sect4info sect5info refsect1info refsect2info refsect3info "
    "refentryinfo refsectioninfo setinfo refmeta comment remark indexterm links revhistory "
    "legalnotice titleabbrev toc lot index setindex footnote annotation screeninfo tt rules "
    "credit license include fallback keywordset subjectset thumb alt".split()
)
_ADMONITIONS = frozenset("note tip warning caution important danger".split())
_NUMBERED = frozenset("orderedlist procedure steps substeps stepalternatives".split())
_LISTS = _NUMBERED | frozenset("itemizedlist list simplelist tree".split())
_ITEMS = frozenset("listitem item step member".split())
_VERBATIM = frozenset("screen programlisting literallayout synopsis address".split())
_TERMS = frozenset("variablelist terms glosslist".split())
_TABLES = frozenset("table informaltable".split())
_FIGURES = frozenset("figure informalfigure".split())
_MEDIA = frozenset("mediaobject screenshot graphic media imageobject imagedata".split())
_INLINE_MEDIA = frozenset("inlinemediaobject inlinegraphic".split())
_PARAS = frozenset("p para simpara".split())
_BLOCKS = (
    SECTIONS
    | _ADMONITIONS
    | _LISTS
    | _VERBATIM
    | _TERMS
    | _TABLES
    | _FIGURES
    | _MEDIA
    | _PARAS
    | frozenset(
        "formalpara example informalexample blockquote bridgehead refnamediv cmdsynopsis "
        "funcsynopsis qandaset qandaentry question answer glossentry div listing caption "
        "epigraph msgset segmentedlist calloutlist".split()
    )
)
_HOLDS = _BLOCKS - _MEDIA
_MENUS = frozenset("guiseq menuchoice".split())
_KEYS = frozenset("keyseq keycombo".split())
_RASTER = re.compile(r"\.(?:png|jpe?g|gif|webp|bmp)$", re.I)
_NOTE_LABELS = {"tip", "warning", "important", "caution", "danger", "bug", "advanced"}
_SPACE = re.compile(r"\s+")


def _px(value: str | None) -> int | None:
    m = re.match(r"\s*(\d+)\s*(?:px)?\s*$", value or "")
    return int(m.group(1)) if m else None


class Renderer:
    """One page's walk: ``paragraphs(root)`` gives its paragraphs, ``images`` its figures."""

    def __init__(self, mallard: bool, titles: dict[str, str] | None = None) -> None:
        self.mallard = mallard
        self.titles = titles or {}  # id -> title, for references written without text
        self.images: list[RawImage] = []
        self.captions: list[str] = []  # the captions of the figures open around the walk

    # -- inline ----------------------------------------------------------------------------
    def inline(self, el: etree._Element, depth: int = 0, images: bool = True) -> str:
        """The element's text as one line: inline markup read, images as placeholders."""
        name = local(el)
        if not name or name in _SKIP:
            return ""
        if depth > MAX_DEPTH:
            return " ".join("".join(el.itertext()).split())
        if name in _MENUS:
            parts = [self.inline(c, depth + 1, images) for c in el if local(c) != "shortcut"]
            return MENU_SEP.join(p for p in parts if p)
        if name in _KEYS:  # keys as elements, or as text (KDE's &Ctrl; entity read as "Ctrl")
            parts = (el.text or "").split()
            for child in el:
                parts.append(self.inline(child, depth + 1, images).strip())
                parts.extend((child.tail or "").split())
            return "+".join(p for p in parts if p)
        if name == "media" and _icon(el):  # a symbolic icon in a sentence reads as its words
            return " ".join(self._plain(el).split())
        if name in _INLINE_MEDIA or name in ("media", "mediaobject"):
            return self.image(el) if images else ""
        pieces = [el.text or ""]
        for child in el:
            pieces.append(self.inline(child, depth + 1, images))
            pieces.append(child.tail or "")
        text = _SPACE.sub(" ", "".join(pieces))
        if not text.strip() and name in ("ulink", "link", "xref"):
            target = el.get("linkend") or el.get("xref") or ""
            text = self.titles.get(target, "") or el.get("url") or el.get("href") or ""
        if name == "quote" and not self.mallard and text.strip():
            text = f"“{text.strip()}”"
        return text

    def line(self, el: etree._Element, depth: int = 0) -> str:
        return " ".join(self.inline(el, depth).split()).replace(" ()", "")

    # -- images ----------------------------------------------------------------------------
    def image(self, el: etree._Element) -> str:
        """A placeholder for the image ``el`` shows (``""`` for video, audio or no file)."""
        name = local(el)
        src, alt, caption, width, height = "", "", "", None, None
        if name == "media":
            if el.get("type", "image") != "image":
                return ""
            src, alt = el.get("src", ""), self._plain(el)
            width, height = _px(el.get("width")), _px(el.get("height"))
        elif name in ("graphic", "inlinegraphic", "imagedata"):
            src = el.get("fileref", "")
        else:  # mediaobject, inlinemediaobject, screenshot, imageobject
            data = self._imagedata(el)
            if data is None:
                return ""
            src = data.get("fileref", "")
            width, height = _px(data.get("width")), _px(data.get("depth"))
            alt = " ".join(self._plain(t) for t in el.iter() if local(t) in ("textobject", "alt"))
            caption = " ".join(self._plain(c) for c in el.iter() if local(c) == "caption")
        if not src.strip():
            return ""
        tiny = width is not None and height is not None and width < 24 and height < 24
        caption = combine_captions(*self.captions[-1:], caption)
        self.images.append(
            RawImage(src.strip(), " ".join(alt.split()), "", caption, tiny, width, height)
        )
        return placeholder(len(self.images) - 1)

    @staticmethod
    def _imagedata(el: etree._Element) -> etree._Element | None:
        """The ``imagedata`` a media object shows: the HTML one, else a raster, else the first."""
        found = [d for d in el.iter() if local(d) == "imagedata" and d.get("fileref")]
        for test in (
            lambda d: (d.getparent().get("role") or "") == "html",
            lambda d: bool(_RASTER.search(d.get("fileref", ""))),
        ):
            for data in found:
                if data.getparent() is not None and test(data):
                    return data
        return found[0] if found else None

    @staticmethod
    def _plain(el: etree._Element) -> str:
        return " ".join("".join(t for t in el.itertext() if isinstance(t, str)).split())

    # -- blocks ----------------------------------------------------------------------------
    def is_block(self, el: etree._Element) -> bool:
        name = local(el)
        if name == "quote":
            return self.mallard
        if name == "code":
            return self.mallard and local(el.getparent()) not in _PARAS | {"title", "td", "entry"}
        if name == "media" or name in _MENUS or name in _KEYS:
            return False
        # an element this reader does not know is a block when it holds blocks (an image in
        # a <gui> label does not make the label a block)
        return name in _BLOCKS or (
            name not in _SKIP and any(local(c) in _HOLDS for c in el if local(c) != "title")
        )

    def flow(self, el: etree._Element, depth: int, skip: frozenset[str] = frozenset()) -> list[str]:
        """The paragraphs of a container: runs of inline content, and its blocks in order."""
        out: list[str] = []
        buf = [el.text or ""]
        for child in el:
            name = local(child)
            if name and name not in skip and self.is_block(child):
                _flush(buf, out)
                out.extend(self.block(child, depth + 1))
                buf = [child.tail or ""]
            else:
                if name and name not in skip:
                    buf.append(self.inline(child, depth + 1))
                buf.append(child.tail or "")
        _flush(buf, out)
        return out

    def block(self, el: etree._Element, depth: int) -> list[str]:
        """The paragraphs one block element writes."""
        name = local(el)
        if not name or name in _SKIP:
            return []
        if depth > MAX_DEPTH:
            text = self._plain(el)
            return [text] if text else []
        if name in SECTIONS:
            return self.section(el, depth)
        if name in _VERBATIM or name == "code":
            return self.verbatim(el)
        if name in _LISTS:
            numbered = name in _NUMBERED or el.get("type") == "numbered"
            return self.titled(el, self.items(el, depth, numbered))
        if name in _TERMS:
            return self.titled(el, self.terms(el, depth))
        if name in _TABLES:
            return self.table(el, depth)
        if name in _FIGURES:
            return self.figure(el, depth)
        if name in _MEDIA:
            mark = self.image(el)
            return [mark] if mark else []
        if name in _ADMONITIONS:
            return self.admonition(el, depth)
        if name == "formalpara":
            title, body = self._title(el), self.flow(el, depth, skip=frozenset({"title"}))
            if title and body:
                body[0] = f"{title}{'' if title[-1] in '.:!?' else '.'} {body[0]}"
            return body or ([title] if title else [])
        if name in ("bridgehead",):
            text = self.line(el, depth)
            return [text] if text else []
        if name == "refnamediv":
            names = ", ".join(self.line(n) for n in el if local(n) == "refname")
            purpose = " ".join(self.line(p) for p in el if local(p) == "refpurpose")
            return [f"{names} — {purpose}" if purpose else names] if names else []
        if not any(self.is_block(c) for c in el):
            text = self.line(el, depth)
            return [text] if text else []
        return self.titled(el, self.flow(el, depth, skip=frozenset({"title"})))

    def _title(self, el: etree._Element) -> str:
        for child in el:
            if local(child) == "title":
                return " ".join(self.inline(child, images=False).split())
        return ""

    def titled(self, el: etree._Element, body: list[str]) -> list[str]:
        """``el``'s own title as a heading line above ``body``; nothing when ``body`` is empty."""
        title = self._title(el)
        return ([_Title(title)] if title else []) + body if body else []

    def section(self, el: etree._Element, depth: int) -> list[str]:
        """A section's title as a heading line, then its body; nothing when the body is empty."""
        title = self.title_of(el)
        body = self.flow(el, depth, skip=frozenset({"title", "subtitle"}))
        if not body:
            return []
        return ([_Title(title)] if title else []) + body

    def title_of(self, el: etree._Element) -> str:
        """A section's title: its ``title``, else one in its info block or ``refmeta``."""
        title = self._title(el)
        if title:
            return title
        for child in el:
            if local(child) in _SKIP and local(child) not in ("comment", "remark", "indexterm"):
                for sub in child.iter():
                    if local(sub) in ("title", "refentrytitle"):
                        return " ".join(self.inline(sub, images=False).split())
        return ""

    def verbatim(self, el: etree._Element) -> list[str]:
        text = "".join(t for t in _texts(el) if isinstance(t, str))
        text = textwrap.dedent(text.replace("\r\n", "\n").replace("\t", "    ")).strip("\n")
        lines = [ln.rstrip() for ln in text.split("\n")]
        code = fenced("\n".join(lines))  # between fence lines, one unit for the splitter
        return [_Code(code)] if code else []

    def items(self, el: etree._Element, depth: int, numbered: bool) -> list[str]:
        lines: list[str] = []
        number = 0
        for item in el:
            if local(item) not in _ITEMS and local(item) not in _LISTS:
                continue
            if local(item) in _LISTS:  # a list nested straight in a list (Mallard trees)
                lines.extend("  " + ln for ln in self.block(item, depth + 1))
                continue
            number += 1
            paras = self.flow(item, depth + 1)
            if not paras:
                continue
            marker = f"{number}. " if numbered else "• "
            lines.append(marker + _join_item(paras))
        return [_List("\n".join(lines))] if lines else []

    def terms(self, el: etree._Element, depth: int) -> list[str]:
        out = []
        for entry in el:
            kind = local(entry)
            if kind not in ("varlistentry", "item", "glossentry"):
                continue
            heads = [c for c in entry if local(c) in ("term", "title", "glossterm")]
            label = ", ".join(t for t in (self.line(h) for h in heads) if t)
            body_el = [c for c in entry if local(c) in ("listitem", "glossdef")]
            paras: list[str] = []
            if body_el:
                for b in body_el:
                    paras.extend(self.flow(b, depth + 1))
            else:
                paras = self.flow(entry, depth + 1, skip=frozenset({"title", "term"}))
            text = _join_item(paras)
            if label and text:
                out.append(f"{label.rstrip(':')}: {text}")
            elif label or text:
                out.append(label or text)
        return out

    def table(self, el: etree._Element, depth: int) -> list[str]:
        heads: list[str] = []
        rows: list[str] = []
        for row in el.iter():
            if local(row) not in ("row", "tr"):
                continue
            cells = [c for c in row if local(c) in ("entry", "td", "th", "entrytbl")]
            texts = [_join_item(self.flow(c, depth + 1)).replace("\n", " ") for c in cells]
            in_head = local(row.getparent()) == "thead" or (
                cells and all(local(c) == "th" for c in cells)
            )
            if in_head and not heads:
                heads = texts
                continue
            filled = [(k, t) for k, t in enumerate(texts) if t]
            if not filled:
                continue
            if heads and len(filled) > 1:
                rows.append(
                    "; ".join(
                        f"{heads[k]}: {t}" if k < len(heads) and heads[k] else t for k, t in filled
                    )
                )
            else:
                rows.append(" | ".join(t for _, t in filled))
        return self.titled(el, ["\n".join(rows)] if rows else [])

    def figure(self, el: etree._Element, depth: int) -> list[str]:
        title = strip_figure_number(self._title(el))
        desc = " ".join(self._plain(d) for d in el if local(d) in ("desc", "caption"))
        self.captions.append(combine_captions(title, desc))
        try:
            body = self.flow(el, depth, skip=frozenset({"title", "desc", "caption"}))
        finally:
            self.captions.pop()
        return body

    def admonition(self, el: etree._Element, depth: int) -> list[str]:
        title = self._title(el)
        body = self.flow(el, depth, skip=frozenset({"title"}))
        if not body:
            return [title] if title else []
        if title:
            return [title, *body]
        style = (el.get("style") or "").split()
        label = next((s for s in style if s in _NOTE_LABELS), "" if self.mallard else local(el))
        label = (label or "note").capitalize()
        return [f"{label}: {body[0]}", *body[1:]]

    def paragraphs(self, root: etree._Element) -> list[str]:
        return self.block(root, 0)


def _icon(media: etree._Element) -> bool:
    """An SVG image in running text: a GUI icon (``view-more-symbolic.svg``), not a figure."""
    return (media.get("src") or "").lower().endswith(".svg") or "image/svg" in (
        media.get("mime") or ""
    )


def _texts(el: etree._Element):
    """The text of ``el`` in order, leaving out skipped elements (their tails kept)."""
    yield el.text or ""
    for child in el:
        if local(child) and local(child) not in _SKIP:
            yield from _texts(child)
        yield child.tail or ""


def _flush(buf: list[str], out: list[str]) -> None:
    text = " ".join("".join(buf).split()).replace(" ()", "")  # "()" held an icon without words
    if text:
        out.append(text)
    buf.clear()


def _join_item(paras: list[str]) -> str:
    """An item's paragraphs: prose runs on one line, code and nested lists on their own."""
    out: list[str] = []
    for para in paras:
        if out and isinstance(para, _List):  # a nested list: indented under its item
            out.append("\n".join(f"   {line}" for line in para.split("\n")))
            continue
        prose = not _is_code(para) and not isinstance(out[-1] if out else "", _List)
        if out and "\n" not in para and "\n" not in out[-1] and prose:
            glue = " " if out[-1][-1] in ".!?:;,)\u201d\"'" else ": "  # a lead-in: "New users: …"
            out[-1] = f"{out[-1]}{glue}{para}"
        else:
            out.append(para)
    return "\n".join(out)


def join_paragraphs(paragraphs: list[str]) -> str:
    """Paragraphs with blank lines between them; code goes on the line after the text that
    introduces it (not after a title or other code), so a one-line command is never read as
    a heading and stays with its introduction."""
    out = ""
    for k, para in enumerate(paragraphs):
        if k:
            prev = paragraphs[k - 1]
            joined = _is_code(para) and not isinstance(prev, (_Code, _Title))
            out += "\n" if joined else "\n\n"
        out += para
    return out


class _List(str):
    """A list's lines: indented when nested in an item, never run into its prose."""


class _Title(str):
    """A section's or a block's title: a heading line that code is never run into."""


class _Code(str):
    """A verbatim paragraph: kept on its own lines, never run into the prose of an item."""


def _is_code(text: str) -> bool:
    return isinstance(text, _Code)
