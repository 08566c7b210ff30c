"""Navigation in an HTML page, removed with its text before the page is read: HTML5 ``<nav>``,
ARIA ``role="navigation"``, DocBook's ``div.navheader``/``div.navfooter``, gtk-doc's
``table.navigation``, Texinfo's ``div.nav-panel`` and node menus, and any short block holding a
``rel="next|prev|up"`` or ``accesskey`` step link; and where a refresh page sends its reader.
Used by :mod:`m2io.corpus.htmldoc`."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Tag

# Navigation blocks, removed with their text: HTML5, ARIA, DocBook, gtk-doc, Sphinx-like themes.
_NAV_CLASSES = frozenset(
    {"nav", "navheader", "navfooter", "navigation", "breadcrumbs", "related", "nav-panel"}
)
# links that step to a neighbouring page ("Next: …, Up: …" of Texinfo, rel="prev" of others)
_STEP_RELS = frozenset({"next", "prev", "previous", "up", "contents", "index", "start"})
_STEP_KEYS = frozenset({"n", "p", "u"})
_STEP_BAR_CHARS = 300
_STEP_BAR_DEPTH = 3
_REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\"\s]+)", re.I)


def has_class(tag: Tag, names: frozenset[str] | set[str]) -> bool:
    """Whether ``tag`` has one of the class names ``names``."""
    classes = tag.get("class") or []
    return bool(names.intersection(classes if isinstance(classes, list) else classes.split()))


def is_navigation(tag: Tag) -> bool:
    return (
        tag.name == "nav"
        or str(tag.get("role") or "").lower() == "navigation"
        or (tag.name in ("div", "table") and has_class(tag, _NAV_CLASSES))
        or (tag.name == "table" and "navigation" in str(tag.get("summary") or "").lower())
        or (tag.name == "table" and has_class(tag, frozenset({"menu"})))  # Texinfo's node menu
    )


def step_bars(soup: BeautifulSoup) -> list[Tag]:
    """Short blocks that hold a link to the next, previous or parent page (``rel`` or
    ``accesskey``): Texinfo's "Next: … Up: … [Contents][Index]" line and the like, marked by
    no class a reader of other generators would know. Each such link climbs at most a few
    levels to its block, so the search stays linear in the page."""
    bars: list[Tag] = []
    seen: set[int] = set()  # blocks looked at once, kept or not: linear however many links
    for link in soup.find_all("a", href=True):
        rels = link.get("rel") or []
        rels = rels if isinstance(rels, list) else str(rels).split()
        key = str(link.get("accesskey") or "").lower()
        if not (_STEP_RELS.intersection(r.lower() for r in rels) or key in _STEP_KEYS):
            continue
        block = link.parent
        for _ in range(_STEP_BAR_DEPTH):
            if not isinstance(block, Tag) or block.name in ("p", "div", "table", "body"):
                break
            block = block.parent
        if not isinstance(block, Tag) or block.name not in ("p", "div", "table"):
            continue
        if id(block) in seen:
            continue
        seen.add(id(block))
        if len(block.get_text()) <= _STEP_BAR_CHARS:
            bars.append(block)
    return bars


def refresh_target(soup: BeautifulSoup) -> str:
    """Where ``<meta http-equiv="refresh" content="0; url=…">`` sends the reader, or ""."""
    for meta in soup.find_all("meta", limit=64):
        if str(meta.get("http-equiv") or "").lower() == "refresh":
            m = _REFRESH_URL.search(str(meta.get("content") or ""))
            if m:
                return m.group(1)
    return ""
