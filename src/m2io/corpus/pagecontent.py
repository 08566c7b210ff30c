"""A page's main content, as its reader sees it: the generator's furniture taken out of the tree.

Generators (Sphinx, MkDocs, DocBook XSL, Hugo/Jekyll themes, yelp) wrap a page's content in
navigation, headers, footers, search boxes and permalink anchors. Rather than one rule per
generator this module uses the markers most of them share:

- the main content is the first ``<main>``, ``role="main"`` or ``itemprop="articleBody"``
  element, else the page's only ``<article>``, else an element with id ``content`` or
  ``main-content``; without one the whole body is read;
- inside it, page furniture is removed with its text: ``<footer>``, ``role`` ``contentinfo``,
  ``banner``, ``search`` or ``complementary``, ``<address>``, ``<form>``, elements whose class
  names a footer, sidebar, table of contents, previous/next buttons, code line numbers or
  "[source]" links, and permalink anchors
  (``a.headerlink``, or a same-page link whose text is only a glyph such as ``¶``, ``#``,
  ``§`` or U+F0C1);
- footnote marks (:func:`drop_footnote_marks`): a same-page link whose whole text is a note's
  number or symbol ("[4]", "3", "(3)", "*"), marked as a note by its class (DocBook's
  ``a.footnote``, Sphinx's ``footnote-reference``, Markdown's ``footnote-ref``), its ARIA role
  (``doc-noteref``, ``doc-backlink``) or a ``<sup>`` around or inside it (Texinfo's
  ``<a href="#FOOT3"><sup>3</sup></a>``); the note's own text stays, at the page's end;
- a short block that starts with a copyright mark (``©``, ``Copyright 2008-2022 …``) is dropped,
  and so is a licence's grant (``Permission is granted to copy, distribute and/or modify this
  document …``, the paragraphs a Texinfo or DocBook manual's top page copies from its licence);
- a list with a furniture class whose items are mostly not links is content, not a table of
  contents (HomeBank heads its how-to pages with the procedure's steps as a ``ul.toc``);
- a same-page link to the top ("↑ Back to Top", ``href="#top"``) is navigation;
- on a page with no main element, a first or last table that holds two or more image links and
  under 200 characters of text is a navigation bar (latex2html, Hyperlatex, texi2html mark
  theirs with nothing else);
- an image that is the whole of a link to the manual's contents or home page (``index.html``,
  ``contents.html``, ``toc.html``, ``../``) and comes before the page's first heading is its
  title banner or logo (:func:`title_banners`): decorative, however large and whatever its alt
  text, while a figure many pages share stays content (:mod:`m2io.index.decorative`).

What this leaves out page by page, :mod:`m2io.corpus.boilerplate` completes across a corpus:
lines repeated on most pages of one doc tree are dropped there.

Every search here is one pass over the tree (``find_all``), so a page costs time linear in its
size (docs/design.md, "Hostile input").
"""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, NavigableString, Tag

_FURNITURE_ROLES = frozenset({"contentinfo", "banner", "search", "complementary"})
_FURNITURE_CLASSES = frozenset(
    {
        "footer",
        "sphinxsidebar",
        "toc",
        "toctree-wrapper",
        "section-toc",  # Texinfo's list of a node's subsections
        "contents",  # Texinfo's (and latex2html's) whole table of contents on the top page
        "rst-footer-buttons",
        "prev-next",
        "pager",
        "breadcrumb",
        "breadcrumbs",
        "headerlink",
        "copyright",
        "md-footer",
        "md-sidebar",
        "md-header",
        "edit-page",
        "last-updated",
        "linenos",  # line numbers beside code (Pygments), not the code's text
        "lineno",
        "viewcode-link",  # Sphinx's "[source]" and "[docs]" links
        "viewcode-back",
        "fn-bracket",  # the brackets around a Sphinx footnote's mark and number
        "backrefs",  # a Sphinx footnote's "(1, 2)" links back to its marks
    }
)
_FURNITURE_TAGS = frozenset({"footer", "address", "form"})
PERMALINK_GLYPHS = "\u00b6\uf0c1#\u00a7\U0001f517"
_COPYRIGHT = re.compile(r"^\s*(?:\u00a9|\(c\)\s*\d{4}|copyright\b)", re.I)
_COPYRIGHT_MAX_CHARS = 300
_LICENCE = re.compile(r"^\s*permission is granted to (?:copy|make|distribute|use)\b", re.I)
_LICENCE_MAX_CHARS = 1500
_TOP_TARGETS = frozenset({"#", "#top", "#page-top", "#__top", "#header", "#contents-top"})
_TO_TOP = re.compile(
    r"[\W_]*(?:(?:back|go|return|jump|scroll)\s+(?:up\s+)?to\s+)?(?:the\s+)?top"
    r"(?:\s+of\s+(?:the\s+)?page)?[\W_]*",
    re.I,
)
_LISTS = frozenset({"ul", "ol", "dl"})
_COPYRIGHT_CHECKS = 8
_BLOCKS = ("p", "div", "li", "small", "span", "td", "section")
_BAR_CHARS = 200
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BANNER_LINKS = 8
_NOTE_MARK = re.compile(r"[\[(]?\s*(?:\d{1,3}|[*\u2020\u2021\u00a7a-z])\s*[\])]?")
_NOTE_ROLES = frozenset({"doc-noteref", "doc-backlink"})
_NOTE_CLASS = re.compile(r"^(?:footnote|fn)", re.I)
_HOME_PAGE = re.compile(r"(?:index|contents?|toc|home|default|start|top)\.(?:x?html?|php)", re.I)


def _classes(tag: Tag) -> list[str]:
    value = tag.get("class") or []
    return value if isinstance(value, list) else str(value).split()


def main_content(soup: BeautifulSoup) -> Tag | None:
    """The element that holds the page's content, or None when the page marks none."""
    found = soup.find(
        lambda t: (
            t.name == "main"
            or str(t.get("role") or "").lower() == "main"
            or str(t.get("itemprop") or "") == "articleBody"
        )
    )
    if found is not None:
        return found
    articles = soup.find_all("article", limit=2)
    if len(articles) == 1:
        return articles[0]
    return soup.find(id=("content", "main-content"))


_LEAD_MAX_CHARS = 1000


def page_lead(soup: BeautifulSoup, main: Tag) -> Tag | None:
    """The block before ``main`` that holds the page's own title, when ``main`` has none.

    Some generators put a page's ``<h1>`` and its one-line summary in a header block outside
    the content element (AsciiDoc's manual pages: ``div#header`` holds "git-reset(1) Manual
    Page" and "NAME: git-reset - Reset current HEAD to the specified state", ``div#content``
    the rest). That block is the page's title and lead, not furniture: the block is returned
    when it is short (under 1,000 characters), comes before ``main``, and is neither
    navigation nor furniture (a site banner is ``role="banner"`` or a ``<header>`` with
    ``<nav>`` links, removed before this is asked)."""
    if main.find("h1") is not None:
        return None
    h1 = soup.find("h1")
    if h1 is None or h1.find_parent(lambda t: t is main) is not None:
        return None
    block = h1.parent
    if not isinstance(block, Tag) or block.name in ("body", "html", "[document]"):
        return None
    if main.find_parent(lambda t: t is block) is not None or block.find("nav") is not None:
        return None
    if _is_furniture(block) or block.find_parent(_is_furniture) is not None:
        return None
    if len(block.get_text()) > _LEAD_MAX_CHARS:
        return None
    # before main in the source (html.parser records where each tag starts)
    here = (block.sourceline, block.sourcepos)
    there = (main.sourceline, main.sourcepos)
    if None not in here and None not in there and here > there:
        return None
    return block


def _is_furniture(tag: Tag) -> bool:
    if tag.name in _FURNITURE_TAGS:
        return True
    if str(tag.get("role") or "").lower() in _FURNITURE_ROLES:
        return True
    if _FURNITURE_CLASSES.intersection(c.lower() for c in _classes(tag)):
        return tag.name not in _LISTS or _mostly_links(tag)
    if tag.name == "a" and str(tag.get("href") or "").startswith("#"):
        text = tag.get_text().strip()
        if str(tag["href"]).lower() in _TOP_TARGETS and _TO_TOP.fullmatch(text):
            return True  # "↑ Back to Top"
        return text != "" and all(ch in PERMALINK_GLYPHS for ch in text)
    return False


def _has_link(item: Tag) -> bool:
    """Whether a list item holds a link among its children or grandchildren (bounded: a page of
    nested lists is read once per level, not once per ancestor)."""
    for child in item.children:
        if not isinstance(child, Tag):
            continue
        if child.name == "a" and child.get("href"):
            return True
        if any(isinstance(g, Tag) and g.name == "a" and g.get("href") for g in child.children):
            return True
    return False


def _mostly_links(tag: Tag) -> bool:
    """Whether at least half the items of a list are links: a table of contents, not steps."""
    items = tag.find_all(("li", "dt", "dd"), recursive=False)
    if not items:
        return True
    return 2 * sum(_has_link(i) for i in items) >= len(items)


def _link_bars(root: Tag) -> list[Tag]:
    """The first and last tables of ``root`` when they hold two or more image links (icons) and
    little text: the navigation bars of generators that mark them with nothing else
    (latex2html, Hyperlatex, texi2html)."""
    tables = root.find_all("table")
    bars: list[Tag] = []
    for tag in tables[:1] + tables[-1:]:
        if any(tag is b for b in bars) or len(tag.get_text()) > _BAR_CHARS:
            continue
        icons = [a for a in tag.find_all("a", href=True, limit=20) if a.find("img") is not None]
        if len(icons) >= 2:
            bars.append(tag)
    return bars


def remove_furniture(root: Tag, *, whole_body: bool = False) -> None:
    """Take generator furniture (see the module docstring) out of ``root``, in place;
    ``whole_body``: ``root`` is the page's body (no main element), so link bars at its start
    and end are navigation too."""
    if whole_body:
        for bar in _link_bars(root):
            bar.decompose()
    for tag in root.find_all(_is_furniture):
        if not tag.decomposed:
            tag.decompose()
    _drop_notices(root, _COPYRIGHT, _COPYRIGHT_MAX_CHARS)
    _drop_notices(root, _LICENCE, _LICENCE_MAX_CHARS, whole=True)


def _drop_notices(
    root: Tag, opening: re.Pattern[str], max_chars: int, *, whole: bool = False
) -> None:
    """Drop the blocks (at most ``max_chars`` long) holding a string that starts with
    ``opening``; ``whole``: only when the block's own text starts with it."""
    checks = 0
    for string in root.find_all(string=opening):
        if checks >= _COPYRIGHT_CHECKS:  # bounded: a page of "©" strings stays linear
            break
        checks += 1
        # a string inside a block this loop already dropped is gone with it (no parent left)
        block = getattr(string, "parent", None) if isinstance(string, NavigableString) else None
        while block is not None and block.name not in _BLOCKS and block is not root:
            block = block.parent
        if block is None or block is root or block.decomposed:
            continue
        text = block.get_text()
        if len(text) <= max_chars and (not whole or opening.match(text)):
            block.decompose()


def _footnote_mark(tag: Tag) -> bool:
    if tag.name != "a" or not str(tag.get("href") or "").startswith("#"):
        return False
    if _NOTE_MARK.fullmatch(tag.get_text().strip()) is None:
        return False
    if str(tag.get("role") or "").lower() in _NOTE_ROLES:
        return True
    if any(_NOTE_CLASS.match(c) for c in _classes(tag)):
        return True
    parent = tag.parent
    return tag.find("sup") is not None or (isinstance(parent, Tag) and parent.name == "sup")


def drop_footnote_marks(root: Tag) -> int:
    """Remove the footnote marks of ``root`` (see the module docstring) with their text, in
    place; how many. A reader of the plain text would see "switches[4]." or "inefficient3 way",
    and an answer's own source marks are numbers in brackets too."""
    marks = root.find_all(_footnote_mark)
    for mark in marks:
        before, after = mark.previous_sibling, mark.next_sibling
        if (
            isinstance(before, NavigableString)
            and isinstance(after, NavigableString)
            and str(after)[:1] in ".,;:)"
            and str(before)[-1:].isspace()
        ):
            before.replace_with(str(before).rstrip())  # "docs [1]." reads "docs."
        mark.decompose()  # a mark holds no other link: none of the list is inside another
    return len(marks)


def _home_link(href: str) -> bool:
    """Whether ``href`` goes to a contents or home page (``contents.html``, ``../index.html``,
    ``./``), not to a section of the page itself (``#top``)."""
    path = href.split("#", 1)[0].split("?", 1)[0].strip()
    if not path:
        return False
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name in ("", ".", "..") or _HOME_PAGE.fullmatch(name) is not None


def title_banners(root: Tag) -> set[int]:
    """``id()`` of the images that head ``root`` as the whole of a link to the contents or home
    page: before its first heading, inside an ``<a>`` (at most two levels up) that holds no
    text. One pass that stops at the first heading; the text of at most eight links is read."""
    found: set[int] = set()
    textless: dict[int, bool] = {}
    for node in root.descendants:
        if not isinstance(node, Tag):
            continue
        if node.name in _HEADINGS:
            break
        if node.name != "img":
            continue
        link = node.parent
        if isinstance(link, Tag) and link.name != "a":
            link = link.parent
        if (
            not isinstance(link, Tag)
            or link.name != "a"
            or not _home_link(str(link.get("href") or ""))
        ):
            continue
        if id(link) not in textless:
            if len(textless) >= _BANNER_LINKS:  # bounded: a page of nested links stays linear
                break
            textless[id(link)] = not link.get_text().strip()
        if textless[id(link)]:
            found.add(id(node))
    return found
