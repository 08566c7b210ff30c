"""Sections of a document and where its text comes from, for citing and for section expansion.

A document's text carries no markup, so headings are recognised by shape: a paragraph (text
between blank lines, or at the very start) of one short line with a letter in it and no final
sentence punctuation. Markdown and HTML headings come out of the loaders that way; a corpus whose
text has no paragraphs (MRAMG documents, one section each) has no headings, and each document is
then one section titled by the document's title.

A chunk belongs to the section its start falls in; its :class:`~m2io.types.Source` names the
document, its location (relative to the corpus root, or an http(s) URL) and that section. The
sections whose headings lie further into the chunk are its ``sections``
(:func:`crossed_sections`), so a sentence past such a heading is cited by its own section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from m2io.index.paths import relative_path
from m2io.safety import remote_image_url
from m2io.text import BULLETS, CAPTION_NUMBER, FENCE, leads_into_code
from m2io.types import Chunk, Document, SectionSpan, Source

HEADING_MAX_WORDS = 12
HEADING_MAX_CHARS = 100
# a paragraph: text between blank lines (group 1 starts at its first character)
_BLOCK = re.compile(r"(?:^|\n[ \t]*\n)\s*?(\S.*?)(?=\n[ \t]*\n|\s*\Z)", re.S)
# (and their full-width forms, which end a Japanese or Chinese sentence: "次のようにします：")
_FINAL_PUNCT = tuple(".!?:;,。．！？：；，、")
_LEAD_IN_WORDS = 8  # a line this long beside a code block is the sentence that leads into it
# a one-line definition ("Ctrl-q: exit", "/: division", "Step 1: Get your statement")
_DEFINITION = re.compile(r"^[^:\s][^:\n]{0,39}: \S")
_CLAUSE_WORDS = 4  # a lower-case line this long after one goes on with its sentence ("subplot"
# after a code block is the next function's heading)


@dataclass(frozen=True)
class Section:
    """A run of a document's text from one heading to the next (``end`` exclusive)."""

    title: str
    start: int
    end: int


_BULLET = re.compile(rf"^[{BULLETS}+]\s")
_NUMBERED = re.compile(r"^\d+[.)]\s")
# a figure's or table's caption line ("Figure 4.1. The General section"), not a section's title
_CAPTION = re.compile(CAPTION_NUMBER + r"[.:]?\s")
# a table row as the HTML loader writes it: "Header: cell; Header: cell" or "cell | cell"
_TABLE_ROW = re.compile(r"\S: .*; \S.*: | \| ")
# a line that names where, not what: a URL, an e-mail address ("written by A. Author (a@b.org)")
_ADDRESS = re.compile(r"://|\bwww\.|[\w.+-]+@[\w-]+\.[\w.]+")
# a setting's value ("Default: 0", "Range: 1-65535"), a log line ("bgpd: sockopt_x: f(23): …")
# (two "x: " parts before any parenthesis: an API signature's "f(a: int, b: str)" is a heading)
_VALUE = re.compile(r"^[^:]{1,30}: [-+]?\d[\w.,/-]*$|^[^(:]*: [^(:]*: ")


def is_heading(line: str, *, numbered: bool = False) -> bool:
    """Whether a one-line paragraph reads as a heading: short, a letter in it, no final
    sentence punctuation, not wrapped in brackets (a navigation link such as "(back to top)"),
    not a bulleted item or a table row, and not a numbered one unless ``numbered`` (the caller saw no list
    around it: "2. Window layout" standing alone is a numbered heading)."""
    text = line.strip()
    if not text or len(text) > HEADING_MAX_CHARS or len(text.split()) > HEADING_MAX_WORDS:
        return False
    if text.endswith(_FINAL_PUNCT) or not any(ch.isalpha() for ch in text):
        return False
    if text[0] in "([" and text[-1] in ")]":
        return False
    if _BULLET.match(text) or _TABLE_ROW.search(text) or _CAPTION.match(text):
        return False
    if _ADDRESS.search(text) or _VALUE.search(text):
        return False
    return numbered or not _NUMBERED.match(text)


def _leads_to_code(line: str, blocks: list[re.Match[str]], k: int) -> bool:
    """Whether the one-line paragraph ``blocks[k]`` is a clause around a code block rather than
    a heading: in lower case between two blocks ("or"), right after a block in lower case and a
    clause long ("and when it is called with an argument it prints the following"), or beside
    one and as long as a sentence."""
    before = k > 0 and blocks[k - 1].group(1).rstrip().endswith(FENCE)
    after = k + 1 < len(blocks) and blocks[k + 1].group(1).lstrip().startswith(FENCE)
    text = line.strip()
    if before and after and text[:1].islower():
        return True  # "or" between two alternatives
    if after and leads_into_code(text):
        return True  # "The predefined axis types are", "Then execute the command" + code
    return (before and text[:1].islower() and len(text.split()) >= _CLAUSE_WORDS) or (
        (before or after) and len(text.split()) >= _LEAD_IN_WORDS
    )


def _in_definitions(blocks: list[re.Match[str]], k: int) -> bool:
    """Whether the one-line paragraph ``blocks[k]`` is an entry of a list of one-line
    definitions: "Label: text" shaped as a heading, beside another such entry when its text
    is in lower case ("Ctrl-q: exit" after "q: exit"), or in a run of three ("Step 1: Get your
    statement"). An option's name before its one-line default and a long description
    ("Option: Aptitude::Auto-Upgrade", "Default: false", "Description: … .") stays a heading."""

    def entry(j: int) -> bool:
        if not 0 <= j < len(blocks):
            return False
        text = blocks[j].group(1).strip()
        return "\n" not in text and _DEFINITION.match(text) is not None and is_heading(text)

    if not entry(k):
        return False
    text = blocks[k].group(1).strip()
    rest = text.split(": ", 1)[1]
    if rest[:1].islower() and (entry(k - 1) or entry(k + 1)):
        return True
    return any(entry(a) and entry(b) for a, b in ((k - 2, k - 1), (k - 1, k + 1), (k + 1, k + 2)))


def sections(doc: Document) -> list[Section]:
    """The document's sections in order, covering its whole text.

    The part before the first heading (if any text) is a section titled by the document title.
    """
    heads: list[tuple[int, str]] = []
    blocks = list(_BLOCK.finditer(doc.text))
    for k, m in enumerate(blocks):
        if "\n" in m.group(1).strip():
            continue  # only a one-line paragraph can be a heading
        # a numbered line is a list item when the paragraph before or after it is numbered too
        near = [b.group(1).lstrip() for b in (*blocks[max(k - 1, 0) : k], *blocks[k + 1 : k + 2])]
        alone = not any(_NUMBERED.match(b) for b in near)
        if _leads_to_code(m.group(1), blocks, k) or _in_definitions(blocks, k):
            continue
        if is_heading(m.group(1), numbered=alone):
            heads.append((m.start(1), m.group(1).strip()))
    out: list[Section] = []
    first = heads[0][0] if heads else len(doc.text)
    if first > 0 and doc.text[:first].strip() or not heads:
        out.append(Section(doc.title, 0, first))
    for k, (start, title) in enumerate(heads):
        end = heads[k + 1][0] if k + 1 < len(heads) else len(doc.text)
        out.append(Section(title, start, end))
    return out


def body_start(doc: Document, sec: Section) -> int:
    """Where ``sec``'s text starts in ``doc``: after its heading line, when it opens with one."""
    head = doc.text[sec.start : sec.end].split("\n", 1)[0]
    if head.strip() and head.strip() == sec.title.strip():
        return sec.start + len(head)
    return sec.start


def section_at(secs: list[Section], offset: int) -> Section:
    """The section holding character ``offset`` (the last one starting at or before it)."""
    found = secs[0]
    for sec in secs:
        if sec.start <= offset:
            found = sec
        else:
            break
    return found


def chunk_section(secs: list[Section], chunk: Chunk) -> Section:
    """The section a chunk belongs to: the one holding its first word after any heading line.

    A chunk that starts on a heading belongs to that heading's section; one that starts inside a
    section (an overlap sentence of the previous chunk, say) belongs to the section it starts in.
    """
    lead = len(chunk.text) - len(chunk.text.lstrip())
    return section_at(secs, chunk.start + lead)


def crossed_sections(secs: list[Section], chunk: Chunk) -> tuple[SectionSpan, ...]:
    """The sections that begin inside ``chunk`` after the one it belongs to
    (:func:`chunk_section`): their heading's offset in the chunk text and their title, in
    order (:attr:`~m2io.types.Chunk.sections`)."""
    lead = chunk.start + len(chunk.text) - len(chunk.text.lstrip())
    end = chunk.start + len(chunk.text.rstrip())
    return tuple(
        SectionSpan(sec.start - chunk.start, sec.title)
        for sec in secs
        if lead < sec.start < end and sec.title.strip()
    )


def location(doc: Document, root: Path | None) -> str:
    """Where a document came from, for a link: an http(s) URL as given, a local file relative to
    the corpus root (POSIX; "" if outside it or no root is known), else ""."""
    src = doc.source.strip()
    if not src:
        return ""
    url = remote_image_url(src)
    if url is not None:
        return url
    if root is None or "://" in src:
        return ""
    rel = relative_path(src, root)
    if rel is None:
        return ""
    return rel


_PDF_PAGE = re.compile(r"\.pdf#page=(\d+)", re.I)
_LINE_OF_FILE = re.compile(r"^(?P<file>.+\.jsonl?):(?P<line>\d+)$")


def chunk_sources(
    doc: Document, chunks: list[Chunk], root: Path | None
) -> list[tuple[Source, Section, tuple[SectionSpan, ...]]]:
    """The :class:`Source` and :class:`Section` of each of the document's chunks, and the
    sections that begin further into it (:func:`crossed_sections`).

    A document that is one line of a JSONL file (MRAMG: ``doc_gimp.jsonl:12``) links to the
    file, with the line as its anchor (``L12``), so the link opens a file that exists; a PDF
    section (``manual.pdf#page=12``) links to the PDF with ``page=12`` as its anchor.
    """
    secs = sections(doc)
    where = location(doc, root)
    anchor = ""
    m = _LINE_OF_FILE.match(where)
    if m:
        where, anchor = m.group("file"), f"L{m.group('line')}"
    page = _PDF_PAGE.search(doc.doc_id)
    if page and not anchor:  # a PDF section (m2io.corpus.pdf): the link opens at its page
        anchor = f"page={page.group(1)}"
    out = []
    for chunk in chunks:
        sec = chunk_section(secs, chunk)
        source = Source(doc.doc_id, doc.title, where, sec.title, anchor, doc.language)
        out.append((source, sec, crossed_sections(secs, chunk)))
    return out
