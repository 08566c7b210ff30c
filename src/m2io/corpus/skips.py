"""Which files of a doc tree are not pages a reader reads, and why: the folder loader's filter.

A generator writes more than its pages: Sphinx copies every source into ``_sources/`` (a second,
raw copy of the manual), theme files into ``_static/``, and builds ``genindex``, ``search``,
``py-modindex`` pages; most generators add a ``404`` page; DocBook writes index pages
(``ix01.html``). These are left out by name, not read. A ``.txt`` file is read when it is the
corpus, and left out when it is another copy of an HTML page of the same tree (``_sources/a.rst.txt``
beside ``a.html``, or ``a.txt`` beside ``a.html``).

``--include``/``--exclude`` globs (:func:`fnmatch.fnmatch` on the POSIX path relative to the
corpus folder; a pattern without ``/`` also matches a file name alone) choose among the rest.
Every file left out is counted under its reason, so the index report can say it in a few lines.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from fnmatch import fnmatch
from pathlib import PurePosixPath

FURNITURE_DIRS = frozenset({"_sources", "_static", "_modules", "_downloads", "_templates"})
"""Folders a generator fills with copies, theme files and highlighted source, not pages."""
_FURNITURE_PAGE = re.compile(
    r"^(?:genindex(?:-\w+)?|search|searchindex|py-modindex|modindex|404|ix\d*|sitemap)"
    r"(?:\.\w+)?\.x?html?$",
    re.I,
)
_SOURCE_SUFFIXES = (".rst", ".md", ".markdown", ".rest", ".adoc", ".asciidoc")

FURNITURE = "generator furniture (index, search, 404 pages, _static/, _modules/)"
SOURCE_COPY = "copies of HTML pages (_sources/, .txt beside .html)"
REDIRECT = "redirect pages (each forwards to a page read in its own right)"
FRAMESET = "frame sets (each frame's page is read in its own right)"
NO_TEXT = "pages with no text of their own (button bars, image maps)"
EXCLUDED = "--exclude"
NOT_INCLUDED = "not matched by --include"


def furniture_page(name: str) -> bool:
    """Whether a file name is a generator's index, search, 404 or sitemap page."""
    return _FURNITURE_PAGE.match(name) is not None


def matches(rel: str, patterns: Iterable[str]) -> bool:
    """Whether the relative POSIX path ``rel`` (or, for a pattern without ``/``, its file
    name) matches one of ``patterns``."""
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch(rel, p) or ("/" not in p and fnmatch(name, p)) for p in patterns)


def _page_key(rel: str) -> str:
    """``_sources/usage/a.rst.txt`` and ``usage/a.html`` -> ``usage/a``."""
    parts = [p for p in PurePosixPath(rel).parts if p != "_sources"]
    path = "/".join(parts)
    for suffix in (".txt", ".html", ".htm", ".xhtml"):
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)]
            break
    for suffix in _SOURCE_SUFFIXES:
        if path.lower().endswith(suffix):
            return path[: -len(suffix)]
    return path


def choose(
    rels: list[str], include: Iterable[str] = (), exclude: Iterable[str] = ()
) -> tuple[list[str], dict[str, list[str]]]:
    """The relative paths to read, in order, and those left out under their reason."""
    include, exclude = tuple(include), tuple(exclude)
    skipped: dict[str, list[str]] = {}
    pages = {_page_key(r) for r in rels if r.lower().endswith((".html", ".htm", ".xhtml"))}
    kept = []
    for rel in rels:
        parts = PurePosixPath(rel).parts
        lower = rel.lower()
        if include and not matches(rel, include):
            reason = NOT_INCLUDED
        elif exclude and matches(rel, exclude):
            reason = EXCLUDED
        elif lower.endswith(".txt") and ("_sources" in parts or _page_key(rel) in pages):
            reason = SOURCE_COPY
        elif FURNITURE_DIRS.intersection(parts[:-1]) or _FURNITURE_PAGE.match(parts[-1]):
            reason = FURNITURE
        else:
            kept.append(rel)
            continue
        skipped.setdefault(reason, []).append(rel)
    return kept, skipped


def possible_copies(doc_ids: list[str], min_pages: int = 5) -> list[str]:
    """Warnings for each PDF or EPUB read beside ``min_pages`` or more HTML pages of its own
    folder: most often the same manual in another format, indexed twice.

    Example:
        >>> possible_copies([f"p{i}.html" for i in range(5)] + ["m.pdf#page=1", "m.pdf#page=3"])
        ["m.pdf: read beside 5 HTML pages of its folder; if it is the same manual, leave one out (--exclude 'm.pdf')"]
    """
    pages: Counter[str] = Counter()
    packaged: dict[str, None] = {}
    for doc_id in doc_ids:
        base = doc_id.split("#", 1)[0]
        folder = base.rsplit("/", 1)[0] if "/" in base else ""
        if base.lower().endswith((".html", ".htm", ".xhtml")):
            pages[folder] += 1
        elif base.lower().endswith((".pdf", ".epub")):
            packaged[base] = None
    out = []
    for base in packaged:
        folder = base.rsplit("/", 1)[0] if "/" in base else ""
        if pages[folder] >= min_pages:
            out.append(
                f"{base}: read beside {pages[folder]} HTML pages of its folder; if it is the "
                f"same manual, leave one out (--exclude '{base}')"
            )
    return out


def skipped_lines(skipped: dict[str, list[str]], shown: int = 3) -> list[str]:
    """One line per reason: how many files, and the first few of them.

    Example:
        >>> skipped_lines({"--exclude": ["a.md", "b.md"]})
        ['2 files skipped: --exclude (a.md, b.md)']
    """
    lines = []
    for reason, files in skipped.items():
        names = ", ".join(files[:shown]) + (", …" if len(files) > shown else "")
        noun = "file" if len(files) == 1 else "files"
        lines.append(f"{len(files)} {noun} skipped: {reason} ({names})")
    return lines
