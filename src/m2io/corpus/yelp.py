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

**Hostile input** (docs/design.md, "Hostile input"). The parser loads no DTD, resolves no
entity and touches no network: the DOCTYPE is read by a linear scan here for its internal
entity declarations and then removed, and each ``&name;`` reference is replaced before parsing
by the declared value's text (markup taken out, references inside it not expanded again, so no
"billion laughs"), an HTML character name (``&mdash;``), or else the name itself, reported once
per file. Expansion is capped at :data:`MAX_EXPANSION` characters a file. lxml parses in
recover mode, so a malformed file keeps what can be read; a file it cannot read at all is
reported and skipped. Image paths are resolved by the folder loader, confined to the corpus
root like any other reference.
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lxml import etree

from m2io.corpus.parsed import Parsed, finish, scrub
from m2io.corpus.report import decode
from m2io.corpus.yelp_render import (
    SECTIONS,
    Renderer,
    join_paragraphs,
    local,
    resolve_conditionals,
)
from m2io.language import normalize

SUFFIXES = (".page", ".xml", ".docbook")
"""File suffixes this reader looks at (lower case)."""

NOT_HELP = "XML that is neither DocBook nor Mallard"
ONLY_INCLUDES = "DocBook masters that only include other files (each read on its own)"
FRAGMENT = "help fragments included for metadata (licence, legal notice)"
SAME_FILE = "second names of a help file already read (symlinks)"
NAV_ONLY = "Mallard guide pages with no text of their own (navigation)"

INCLUDE_MARK = "m2io-include"
"""The element an external entity reference becomes in its master (it writes nothing)."""
MAX_EXPANSION = 1_000_000
"""Characters that entity references may add to one file; past it a reference reads as its name."""
MAX_ENTITY_VALUE = 2_000
"""Characters of one internal entity's value that are kept."""

MALLARD_NS = "http://projectmallard.org/1.0/"
DOCBOOK_NS = "http://docbook.org/ns/docbook"
XINCLUDE_NS = "http://www.w3.org/2001/XInclude"
_XML_NAMES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_DOCBOOK_ROOTS = SECTIONS - {"page"}
_REF = re.compile(r"&([A-Za-z_][\w.:-]{0,99});")
_DECL = re.compile(r"<\?xml\b[^>]{0,400}\?>")
_ENCODING = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_ENTITY = re.compile(
    r"""<!ENTITY\s+([A-Za-z_][\w.:-]*)\s+(?:"([^"]*)"|'([^']*)'|"""
    r"""(?:SYSTEM|PUBLIC\s+(?:"[^"]*"|'[^']*'))\s+(?:"([^"]*)"|'([^']*)'))""",
)
_INCLUDE = re.compile(r"""<[\w.-]*:?include\b[^<>]*?\bhref\s*=\s*["']([^"'<>]*)["']""")
_TAG = re.compile(r"<[^<>]*>")


@dataclass
class _Prolog:
    """What the scan of a file's prolog found."""

    body: str  # the text after the DOCTYPE (the XML declaration and DOCTYPE removed)
    entities: dict[str, str] = field(default_factory=dict)  # internal: name -> text
    system: dict[str, str] = field(default_factory=dict)  # external: name -> href


def _declaration_end(text: str, i: int) -> int:
    """Index just after the ``>`` that closes the declaration starting at ``i`` (quotes honoured)."""
    quote = ""
    n = len(text)
    while i < n:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == ">":
            return i + 1
        i += 1
    return n


def scan_prolog(text: str) -> _Prolog:
    """Read the DOCTYPE's internal entity declarations and cut the prolog off, in one pass."""
    m = _DECL.match(text.lstrip())
    i = len(text) - len(text.lstrip()) + (m.end() if m else 0)
    n = len(text)
    while i < n:  # comments and PIs before the root: kept as they are, the DOCTYPE read
        while i < n and text[i].isspace():
            i += 1
        if text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            i = n if end < 0 else end + 3
        elif text.startswith("<?", i):
            end = text.find("?>", i + 2)
            i = n if end < 0 else end + 2
        elif text.startswith("<!DOCTYPE", i):
            return _doctype(text, i)
        else:
            break
    return _Prolog(text[i:])


def _doctype(text: str, i: int) -> _Prolog:
    n = len(text)
    j = i + len("<!DOCTYPE")
    while j < n and text[j] not in "[>":
        if text[j] in "\"'":
            close = text.find(text[j], j + 1)
            j = n if close < 0 else close
        j += 1
    prolog = _Prolog("")
    if j < n and text[j] == "[":
        j += 1
        while j < n and text[j] != "]":
            if text.startswith("<!--", j):
                end = text.find("-->", j + 4)
                j = n if end < 0 else end + 3
            elif text[j] == "<":
                end = _declaration_end(text, j)
                _declare(text[j:end], prolog)
                j = end
            else:
                j += 1
        j = text.find(">", j)
        j = n if j < 0 else j
    prolog.body = text[j + 1 :]
    return prolog


def _declare(decl: str, prolog: _Prolog) -> None:
    m = _ENTITY.match(decl)
    if not m:
        return
    name = m.group(1)
    if m.group(4) is not None or m.group(5) is not None:
        prolog.system.setdefault(name, m.group(4) if m.group(4) is not None else m.group(5))
    else:
        value = m.group(2) if m.group(2) is not None else m.group(3)
        prolog.entities.setdefault(name, value[:MAX_ENTITY_VALUE])


def _value_text(value: str) -> str:
    """An internal entity's value as text: markup out, character references read, other
    references left as their names (never expanded again)."""
    text = _TAG.sub("", value)
    text = _REF.sub(lambda m: m.group(1) if m.group(1) not in _XML_NAMES else m.group(0), text)
    return " ".join(html.unescape(text).split())


def substitute(
    body: str, entities: dict[str, str], system: dict[str, str]
) -> tuple[str, list[str]]:
    """``body`` with every entity reference replaced (see the module docstring), and the names
    that were declared nowhere."""
    external = system
    undefined: dict[str, None] = {}
    texts: dict[str, str] = {}
    budget = [MAX_EXPANSION]

    def replace(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in _XML_NAMES:
            return m.group(0)
        if name in external:
            return f'<{INCLUDE_MARK} href="{html.escape(external[name])}"/>'
        if name in entities:
            if name not in texts:
                texts[name] = html.escape(_value_text(entities[name]), quote=False)
            text = texts[name]
        elif f"{name};" in html.entities.html5:
            text = html.escape(html.entities.html5[f"{name};"], quote=False)
        else:
            undefined[name] = None
            text = name
        if len(text) > budget[0]:
            return name
        budget[0] -= len(text)
        return text

    return _REF.sub(replace, body), list(undefined)


def _decode(raw: bytes, doc_id: str, warnings: list[str]) -> str:
    """Bytes as text: a BOM, else the XML declaration's encoding, else UTF-8."""
    head = raw[:200].decode("ascii", "replace")
    m = _ENCODING.search(head) if head.lstrip().startswith("<?xml") else None
    if m and not raw.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        name = m.group(1).lower()
        if name not in ("utf-8", "utf8"):
            try:
                if getattr(codecs.lookup(name), "_is_text_encoding", True):
                    return raw.decode(name, "replace")
            except LookupError:
                warnings.append(f"{doc_id}: unknown encoding {name!r}; read as UTF-8")
    return decode(raw, doc_id, warnings)


def _parse(body: str) -> etree._Element | None:
    parser = etree.XMLParser(
        recover=True,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    wrapped = f"<m2io-root>{scrub(body)}</m2io-root>".encode("utf-8", "replace")
    return etree.fromstring(wrapped, parser)


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


def _includes(prolog: _Prolog) -> list[str]:
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
    prologs: dict[str, _Prolog] = {}
    included_by: dict[str, str] = {}
    for f in files:
        warnings: list[str] = []
        prologs[f.doc_id] = prolog = scan_prolog(_decode(f.raw, f.doc_id, warnings))
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
    f: HelpFile, prologs: dict[str, _Prolog], master: str | None, out: HelpRead
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
        wrapper = _parse(body)
    except (etree.XMLSyntaxError, ValueError) as exc:
        out.warnings.append(f"{f.doc_id}: not readable XML ({exc}); skipped")
        return None
    roots = [] if wrapper is None else [e for e in wrapper if local(e)]
    if not roots:
        out.warnings.append(f"{f.doc_id}: not readable XML (no element); skipped")
        return None
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
