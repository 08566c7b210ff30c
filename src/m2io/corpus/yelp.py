"""GNOME help sources (``/usr/share/help/<lang>/<app>/``): Mallard pages and DocBook XML.

Every ``*.page`` file whose root is a Mallard ``<page>`` and every ``*.xml`` / ``*.docbook``
file whose root is a DocBook element (``book``, ``article``, ``chapter``, ``sect1``…,
``refentry``; DocBook 5's namespace or none) is one document, read by
:mod:`m2io.corpus.yelp_render` the way the rendered help reads. Any other XML (a config file,
a licence fragment) is left out and listed in ``Corpus.skipped`` under :data:`NOT_HELP`.

**One file, one document.** A DocBook master that pulls its chapters in (``xi:include``, or
external entities ``<!ENTITY ch SYSTEM "ch.xml">`` referenced as ``&ch;``) is read for its own
text only: the references write nothing, and each included file is read as its own document
(docs/design.md, "GNOME help sources", says why). The master's internal entities
(``<!ENTITY app "Gnumeric">``) are handed to the files it includes, so ``&app;`` in a chapter
reads "Gnumeric". A master that holds nothing but includes writes no document
(:data:`ONLY_INCLUDES`); an included file that is no section (a ``legalnotice``, a Mallard
page's licence) is metadata (:data:`FRAGMENT`). A second name of a file already read (the
``index.docbook -> gnumeric.xml`` symlink help folders ship) is left out (:data:`SAME_FILE`).

**Hostile input** (docs/design.md, "Hostile input", rule 10): :mod:`m2io.corpus.yelp_xml`
parses with no DTD, no entity resolution and no network; an undefined entity reads as its name
and is reported once per file; a file that cannot be read at all is reported and skipped, and
one file's failure never stops the others. Image paths are resolved by the folder loader,
confined to the corpus root like any other reference.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lxml import etree

from m2io.corpus.parsed import Parsed, finish
from m2io.corpus.yelp_render import SECTIONS, Renderer, join_paragraphs
from m2io.corpus.yelp_xml import (
    INCLUDE_MARK,
    Prolog,
    decode_xml,
    local,
    parse,
    resolve_conditionals,
    scan_prolog,
    substitute,
)
from m2io.language import from_path, normalize
from m2io.safety import clip

NOT_HELP = "XML that is neither DocBook nor Mallard"
ONLY_INCLUDES = "DocBook masters that only include other files (each read on its own)"
FRAGMENT = "help fragments included for metadata (licence, legal notice)"
SAME_FILE = "second names of a help file already read (symlinks)"
NAV_ONLY = "Mallard guide pages with no text of their own (navigation)"

logger = logging.getLogger(__name__)

MALLARD_NS = "http://projectmallard.org/1.0/"
DOCBOOK_NS = "http://docbook.org/ns/docbook"
_DOCBOOK_ROOTS = SECTIONS - {"page"}
_QUOTED = frozenset("figure informalfigure table example equation procedure".split())
_INCLUDE = re.compile(r"""<[\w.-]*:?include\b[^<>]*?\bhref\s*=\s*["']([^"'<>]*)["']""")


def kind(root: etree._Element, suffix: str, *, fragment: bool = False) -> str:
    """``"mallard"``, ``"docbook"``, or ``""`` (neither) for a parsed file's root element;
    with ``fragment``, any element of DocBook's namespace (or none) counts as DocBook."""
    name = local(root)
    ns = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if suffix == ".page":
        return "mallard" if name == "page" and ns in ("", MALLARD_NS) else ""
    if ns not in ("", DOCBOOK_NS):
        return ""
    return "docbook" if fragment or name in _DOCBOOK_ROOTS else ""


@dataclass
class HelpFile:
    """One help file to read: where it is, its id and its bytes."""

    path: Path
    doc_id: str
    raw: bytes
    real: str = ""


@dataclass
class HelpRead:
    """What :func:`read_help` gives: documents as parsed pages, problems, files left out."""

    parsed: list[tuple[HelpFile, Parsed]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)

    def skip(self, reason: str, doc_id: str) -> None:
        self.skipped.setdefault(reason, []).append(doc_id)


def _includes(prolog: Prolog) -> list[str]:
    """The hrefs a file includes: its external entities and its ``xi:include`` elements."""
    hrefs = list(prolog.system.values())
    hrefs.extend(m.group(1) for m in _INCLUDE.finditer(prolog.body))
    return hrefs


def _rel(doc_id: str, href: str) -> str:
    """An href of ``doc_id`` as a path relative to the corpus root (POSIX, normalised)."""
    parts: list[str] = []
    base = PurePosixPath(doc_id).parent / href.split("#", 1)[0]
    for part in base.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


_METADATA_ROOTS = frozenset(
    "legalnotice bookinfo articleinfo info copyright authorgroup revhistory abstract "
    "license credit".split()
)


@dataclass
class _Page:
    """A parsed help file, waiting to be rendered once every file's titles are known."""

    file: HelpFile
    wrapper: etree._Element
    roots: list[etree._Element]
    kind: str
    includes: bool


def read_help(files: list[HelpFile]) -> HelpRead:
    """Read Mallard and DocBook files; see the module docstring for which become documents.

    Two passes: every file is parsed first, so a reference to another file (a DocBook
    ``xref``, a Mallard ``link`` without text, a chapter's title in its master) reads as the
    title it points to; then each is rendered.
    """
    out = HelpRead()
    prologs: dict[str, Prolog] = {}
    included_by: dict[str, str] = {}
    for f in files:
        warnings: list[str] = []
        prologs[f.doc_id] = prolog = scan_prolog(decode_xml(f.raw, f.doc_id, warnings))
        out.warnings.extend(warnings)
        for href in _includes(prolog):
            included_by.setdefault(_rel(f.doc_id, href), f.doc_id)
    pages: list[_Page] = []
    seen: set[str] = set()
    for f in files:
        if f.real and f.real in seen:
            out.skip(SAME_FILE, f.doc_id)
            continue
        seen.add(f.real)
        try:
            page = _parse_one(f, prologs, included_by.get(f.doc_id), out)
        except Exception as exc:  # noqa: BLE001 - one hostile file never stops the others
            out.warnings.append(f"{f.doc_id}: could not be parsed ({type(exc).__name__}); skipped")
            continue
        if page is not None:
            pages.append(page)
    languages = sorted({from_path(p.file.doc_id) or "C" for p in pages})
    if len(languages) > 1:  # help/<lang>/<app>/: each copy keeps its language, none is mixed in
        logger.info(
            "GNOME help in %d languages (%s): each document keeps its language, and a question "
            "is answered from the copy in its own",
            len(languages),
            ", ".join(languages),
        )
    titles: dict[str, str] = {}  # element id / Mallard page id -> title
    include_titles: dict[str, str] = {}  # an included file -> the title of the section around it
    for page in pages:
        _index_titles(page, titles)
        _include_titles(page.wrapper, page.file.doc_id, include_titles)
    for page in pages:
        try:
            parsed = _render(page, titles, include_titles.get(page.file.doc_id, ""))
        except Exception as exc:  # noqa: BLE001 - reported with the file's path, as above
            why = f"{type(exc).__name__}"
            out.warnings.append(f"{page.file.doc_id}: could not be read ({why}); skipped")
            continue
        if parsed is not None:
            out.parsed.append((page.file, parsed))
        elif page.kind == "mallard":
            out.skip(NAV_ONLY, page.file.doc_id)
        elif page.includes:
            out.skip(ONLY_INCLUDES, page.file.doc_id)
        else:
            out.warnings.append(f"{page.file.doc_id}: no text or images; skipped")
    return out


def _parse_one(
    f: HelpFile, prologs: dict[str, Prolog], master: str | None, out: HelpRead
) -> _Page | None:
    """Parse one file and tell its kind; None (reported or listed) when it is no help page."""
    prolog = prologs[f.doc_id]
    entities = dict(prolog.entities)
    if master is not None and master != f.doc_id:
        for name, value in prologs[master].entities.items():
            entities.setdefault(name, value)
    body, undefined = substitute(prolog.body, entities, prolog.system)
    if undefined:
        names = ", ".join(f"&{n};" for n in undefined[:5]) + (", …" if len(undefined) > 5 else "")
        out.warnings.append(f"{f.doc_id}: undefined entities read as their names ({names})")
    try:
        wrapper, error = parse(body)
    except (etree.XMLSyntaxError, ValueError) as exc:
        out.warnings.append(f"{f.doc_id}: not readable XML ({clip(str(exc), 120)}); skipped")
        return None
    roots = [] if wrapper is None else [e for e in wrapper if local(e)]
    if not roots:
        out.warnings.append(f"{f.doc_id}: not readable XML (no element); skipped")
        return None
    if error:
        line, _, message = error.partition(": ")
        number = int(line.split()[1]) + prolog.lines
        out.warnings.append(
            f"{f.doc_id}: malformed XML at line {number} ({clip(message.strip(), 120)}); "
            "read what could be read"
        )
    what = kind(roots[0], f.path.suffix.lower())
    if not what and master is not None:
        # a fragment a DocBook master includes (a chapter's paragraphs) is DocBook too
        metadata = master.endswith(".page") or local(roots[0]) in _METADATA_ROOTS
        if metadata or not kind(roots[0], ".xml", fragment=True):
            out.skip(FRAGMENT, f.doc_id)
            return None
        what = "docbook"
    if not what:
        out.skip(NOT_HELP, f.doc_id)
        return None
    if what == "mallard":
        resolve_conditionals(wrapper)
    return _Page(f, wrapper, roots, what, bool(_includes(prolog)))


def _index_titles(page: _Page, titles: dict[str, str]) -> None:
    """Titles by id: DocBook ``id``/``xml:id`` of titled elements; Mallard ``page`` and
    ``page#section``."""
    renderer = Renderer(page.kind == "mallard")
    page_id = page.roots[0].get("id", "") if page.kind == "mallard" else ""
    for el in page.wrapper.iter():
        ident = el.get("id") or el.get("{http://www.w3.org/XML/1998/namespace}id")
        if not ident or not local(el):
            continue
        title = renderer.title_of(el)
        if not title:
            continue
        if page.kind == "mallard":
            key = page_id if el is page.roots[0] else f"{page_id}#{ident}"
            titles.setdefault(key, title)
        elif local(el) in _QUOTED:  # "shown in “The File Open dialog”", as DocBook writes it
            titles.setdefault(ident, f"\u201c{title.rstrip('.')}\u201d")
        else:
            titles.setdefault(ident, title)


def _include_titles(wrapper: etree._Element, doc_id: str, titles: dict[str, str]) -> None:
    """Record, for each file ``doc_id`` includes, the title of the section around the include."""
    for el in wrapper.iter():
        name = local(el)
        if name not in (INCLUDE_MARK, "include"):
            continue
        href = el.get("href") or ""
        for up in el.iterancestors():
            if local(up) in SECTIONS:
                title = Renderer(False).title_of(up)
                if title:
                    titles.setdefault(_rel(doc_id, href), title)
                    break


def _render(page: _Page, titles: dict[str, str], fallback_title: str) -> Parsed | None:
    """The page as text and images, or None when it has nothing below its title."""
    renderer = Renderer(page.kind == "mallard", titles)
    paragraphs: list[str] = []
    for root in page.roots:
        paragraphs.extend(renderer.paragraphs(root))
    if not paragraphs:
        return None
    first = page.roots[0]
    title = renderer.title_of(first) if local(first) in SECTIONS else ""
    if not title and fallback_title:
        title = fallback_title
        paragraphs.insert(0, title)
    parsed = finish(title, join_paragraphs(paragraphs), renderer.images)
    lang = first.get("{http://www.w3.org/XML/1998/namespace}lang") or first.get("lang")
    parsed.language = normalize(lang or "")
    return parsed
