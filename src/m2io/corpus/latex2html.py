"""What latex2html leaves in its pages that a reader should not see, put right in the tree.

- **Cross-reference icons.** latex2html writes ``\\ref``-style references as "canvas
  (p.&nbsp;<a href="node33.html"><img alt="[*]" src="crossref.png"></a>)": the icon is dropped
  as decoration, which left "canvas (p. )". A link that holds only an image, between "(p." and
  ")", goes with its parentheses: the name before it is the reference.
- **Unconverted math.** Inline math it could not render stays as a placeholder
  ``<span class="MATH">4#4</span>``, ``N#N`` being the key of the formula in the ``images.pl``
  file it writes beside the pages (``$key = q/<;MSF=1.6;AAT/; $cached_env_img{$key} =
  q|4#4|;``). With that file the placeholder becomes the formula's TeX source, a few symbols
  (``<``, ``backslash``, ``infty``) as the character they name (:func:`read_images_pl`);
  without it the placeholder is dropped. Only a ``MATH`` span whose whole text is ``N#N`` is
  touched, and, on a page of a latex2html folder, a text node that is only ``N#N`` (a table or
  display it failed to render as an image: ``11#11`` where a table of functions stood).

Each pass is one ``find_all`` over the tree: linear in the page (docs/design.md, "Hostile
input").
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from bs4 import NavigableString, Tag

IMAGES_PL = "images.pl"
"""The file latex2html writes beside its pages, mapping each formula to its placeholder."""
MAX_IMAGES_PL = 4 * 1024 * 1024
"""A larger ``images.pl`` is not read (its placeholders are dropped instead)."""

_PAGE_OPEN = re.compile(r"\s*\(\s*pp?\.[\s\xa0]*$")
_PAGE_CLOSE = re.compile(r"^[\s\xa0]*\)")
_PLACEHOLDER = re.compile(r"\s*(\d{1,6})#\1\s*")
_BARE = re.compile(r"^\s*(\d{1,6})#\1\s*$")
_ENTRY = re.compile(
    r"\$key\s*=\s*q/([^/\n]{1,500});MSF=[^/\n]*/;\s*\n"
    r"\s*\$cached_env_img\{\$key\}\s*=\s*q\|(\d{1,6})#\2\|;"
)
_SYMBOLS = {
    "backslash": "\\",
    "infty": "\u221e",
    "in": "\u2208",
    "mid": "|",
    "vert": "|",
    "lt": "<",
    "gt": ">",
    "le": "\u2264",
    "leq": "\u2264",
    "ge": "\u2265",
    "geq": "\u2265",
    "ne": "\u2260",
    "neq": "\u2260",
    "pm": "\u00b1",
    "times": "\u00d7",
    "cdot": "\u00b7",
    "ldots": "\u2026",
    "dots": "\u2026",
    "sim": "~",
    "langle": "<",
    "rangle": ">",
}


def read_images_pl(text: str) -> dict[str, str]:
    """``{"4": "<", "2": "\\\\", "17": "Q(a,x)=frac{1}{Gamma(x)}…"}`` from an ``images.pl``.

    Example:
        >>> read_images_pl("$key = q/<;MSF=1.6;AAT/;\\n$cached_env_img{$key} = q|4#4|; \\n")
        {'4': '<'}
    """
    found: dict[str, str] = {}
    for m in _ENTRY.finditer(text):
        source = m.group(1).strip()
        found[m.group(2)] = _SYMBOLS.get(source, source.replace("slash", "/"))
    return found


def _only_an_icon(link: Tag) -> bool:
    """Whether ``link`` holds an image and no text, among its first few children (a nest of
    links thousands deep is not walked once per link)."""
    children = link.contents[:4]
    if len(link.contents) > 4 or any(
        isinstance(c, NavigableString) and c.strip() for c in children
    ):
        return False
    return any(isinstance(c, Tag) and c.name == "img" for c in children)


def drop_page_references(root: Tag) -> int:
    """Remove each "(p. <icon link>)" left by a cross-reference; how many were removed."""
    removed = 0
    # no ``link.decomposed`` test: bs4 answers it by searching the link's subtree, and a link
    # removed here holds only images, never another link of the list
    for link in root.find_all("a"):
        before, after = link.previous_sibling, link.next_sibling
        if not isinstance(before, NavigableString) or not isinstance(after, NavigableString):
            continue
        opening, closing = _PAGE_OPEN.search(str(before)[-40:]), _PAGE_CLOSE.match(str(after))
        if opening is None or closing is None or not _only_an_icon(link):
            continue
        opening = _PAGE_OPEN.search(str(before))
        if opening is None:
            continue
        before.replace_with(str(before)[: opening.start()])
        after.replace_with(str(after)[closing.end() :])
        link.decompose()
        removed += 1
    return removed


def resolve_math(root: Tag, macros: Mapping[str, str] | None) -> int:
    """Each ``<span class="MATH">N#N</span>`` as the formula ``macros`` gives for ``N``, or
    nothing; how many were replaced."""
    replaced = 0
    for span in root.find_all("span", class_=re.compile(r"^math$", re.I)):
        if len(span.contents) != 1 or not isinstance(span.contents[0], NavigableString):
            continue  # only a span of one string: nested spans are not read once per span
        m = _PLACEHOLDER.fullmatch(str(span.contents[0]))
        if m is None:
            continue
        span.replace_with(NavigableString((macros or {}).get(m.group(1), "")))
        replaced += 1
    if macros:
        for string in root.find_all(string=_BARE):
            m = _BARE.match(string)
            if m is not None and isinstance(string.parent, Tag) and string.parent.name != "pre":
                string.replace_with(NavigableString(macros.get(m.group(1), "")))
                replaced += 1
    return replaced
