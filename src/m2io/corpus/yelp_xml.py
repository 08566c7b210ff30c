"""Hostile XML made safe to read: the prolog, entities and parser of the GNOME help reader.

:func:`scan_prolog` reads a file's DOCTYPE in one linear pass for its internal entity
declarations (``<!ENTITY app "Gnumeric">``) and external ones (``<!ENTITY ch SYSTEM
"ch.xml">``, which mark includes), and cuts the prolog off. :func:`substitute` replaces every
``&name;`` before parsing: by the declared value's text (markup taken out, references inside it
left as names, so nothing is expanded twice: no "billion laughs"), an HTML character name
(``&mdash;``), or the name itself; at most :data:`MAX_EXPANSION` characters are added to a
file. :func:`parse` runs lxml with no DTD, no entity resolution and no network, in recover mode.
:func:`resolve_conditionals` keeps the plain GNOME desktop's branch of Mallard conditionals.
See docs/design.md, "Hostile input", rule 10.
"""

from __future__ import annotations

import codecs
import html
import re
from dataclasses import dataclass, field

from lxml import etree

from m2io.corpus.parsed import scrub
from m2io.corpus.report import decode

INCLUDE_MARK = "m2io-include"
"""The element an external entity reference becomes in its master (it writes nothing)."""
MAX_EXPANSION = 1_000_000
"""Characters that entity references may add to one file; past it a reference reads as its name."""
MAX_ENTITY_VALUE = 2_000
"""Characters of one internal entity's value that are kept."""

_XML_NAMES = frozenset({"amp", "lt", "gt", "quot", "apos"})
IF_NS = "http://projectmallard.org/if/1.0/"
_REF = re.compile(r"&([A-Za-z_][\w.:-]{0,99});")
_DECL = re.compile(r"<\?xml\b[^>]{0,400}\?>")
_ENCODING = re.compile(r"""encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_ENTITY = re.compile(
    r"""<!ENTITY\s+([A-Za-z_][\w.:-]*)\s+(?:"([^"]*)"|'([^']*)'|"""
    r"""(?:SYSTEM|PUBLIC\s+(?:"[^"]*"|'[^']*'))\s+(?:"([^"]*)"|'([^']*)'))""",
)
_TAG = re.compile(r"<[^<>]*>")


@dataclass
class Prolog:
    """What the scan of a file's prolog found."""

    body: str  # the text after the DOCTYPE (the XML declaration and DOCTYPE removed)
    lines: int = 0  # line breaks cut off with the prolog: body line + lines = file line
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


def scan_prolog(text: str) -> Prolog:
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
            prolog = _doctype(text, i)
            prolog.lines = text.count("\n", 0, len(text) - len(prolog.body))
            return prolog
        else:
            break
    return Prolog(text[i:], lines=text.count("\n", 0, i))


def _doctype(text: str, i: int) -> Prolog:
    n = len(text)
    j = i + len("<!DOCTYPE")
    while j < n and text[j] not in "[>":
        if text[j] in "\"'":
            close = text.find(text[j], j + 1)
            j = n if close < 0 else close
        j += 1
    prolog = Prolog("")
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


def _declare(decl: str, prolog: Prolog) -> None:
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


def decode_xml(raw: bytes, doc_id: str, warnings: list[str]) -> str:
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


def parse(body: str) -> tuple[etree._Element | None, str]:
    """The parsed body under a wrapper element (a fragment may hold several roots), and the
    first error the parser recovered from (``"line N: message"``, lines of ``body``; ``""``
    when none). lxml's own limits hold (``huge_tree`` off: 256 levels, 10 MB a text node)."""
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
    root = etree.fromstring(wrapped, parser)
    errors = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
    first = f"line {errors[0].line}: {errors[0].message}" if errors else ""
    first = first.replace("and m2io-root", "and the end of the file")
    return root, first


def local(el: etree._Element) -> str:
    """The element's name without its namespace (``""`` for comments and PIs)."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _ns(el: etree._Element) -> str:
    tag = el.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _default_branch(test: str) -> bool:
    """Whether a Mallard ``test`` holds for the plain GNOME desktop (see the module docstring)."""
    for alternative in test.split(","):
        terms = alternative.split()
        if all(t.startswith("!") or not t.startswith(("platform:", "target:")) for t in terms):
            return True
    return False


def _unwrap(el: etree._Element) -> None:
    """Replace ``el`` by its text and children in its parent."""
    parent = el.getparent()
    if parent is None:
        return
    index = parent.index(el)
    _keep_text(el, el.text)
    for offset, child in enumerate(list(el)):
        parent.insert(index + offset, child)
    _remove(el)


def _keep_text(el: etree._Element, text: str | None) -> None:
    """Add ``text`` where ``el`` stands: to the previous sibling's tail or the parent's text."""
    if not text:
        return
    prev, parent = el.getprevious(), el.getparent()
    if prev is not None:
        prev.tail = (prev.tail or "") + text
    elif parent is not None:
        parent.text = (parent.text or "") + text


def _remove(el: etree._Element) -> None:
    """Remove ``el`` but keep its tail text."""
    _keep_text(el, el.tail)
    parent = el.getparent()
    if parent is not None:
        parent.remove(el)


def resolve_conditionals(root: etree._Element) -> None:
    """Keep only the default branch of each Mallard conditional, in place."""
    found = [e for e in root.iter() if _ns(e) == IF_NS and local(e) in ("choose", "if")]
    for el in found:
        if el.getparent() is None:  # inside a branch already dropped
            continue
        if local(el) == "if":
            (_unwrap if _default_branch(el.get("test", "")) else _remove)(el)
            continue
        branches = [b for b in el if _ns(b) == IF_NS and local(b) in ("when", "else")]
        chosen = next(
            (b for b in branches if local(b) == "when" and _default_branch(b.get("test", ""))), None
        )
        if chosen is None:
            chosen = next((b for b in branches if local(b) == "else"), None)
        for branch in branches:
            if branch is not chosen:
                _remove(branch)
        if chosen is not None:
            _unwrap(chosen)
        _unwrap(el)
