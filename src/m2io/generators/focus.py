"""The structure the extractive generator keeps: passages, procedural blocks, dangling openers.

The assembled context (the retrieved chunks) is cut into *passages*: the sentences of consecutive
chunks of one document, in document order, each sentence once (chunks overlap). A passage is then
grouped into *units*, what the generator picks whole: a sentence, or a procedural block that only
makes sense complete — a numbered or bulleted list (with the sentence that introduces it, "To crop
an image:"), a run of ``Name: value`` settings, a command or code line with its lead-in. A sentence
right before or after one of the retrieval's candidate images is marked (``Line.figure``): it is
the text the inserter anchors that figure to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from m2io.generators.entries import entry_end, form_name
from m2io.text import (
    BULLETS,
    FUNCTION_WORDS,
    introduced_command,
    is_code_block,
    is_list_item,
    quoted_sentences,
)
from m2io.types import Chunk, Retrieval, RetrievedChunk, Source

# A sentence that only makes sense after another: it opens with a reference or a connective.
_DANGLING = re.compile(
    r"(?:This|That|These|Those|It|Its|They|Their|Them|Such|He|She|However|Also|Then|But|And|Or|"
    r"So|Thus|Therefore|Hence|Otherwise|Instead|Moreover|Furthermore|Besides|Likewise|Similarly|"
    r"Alternatively|Again|Finally|Conversely|Nevertheless|Nonetheless|In addition|In this|In that|"
    r"For this|For that|As a result|As such|The latter|The former|The other)\b"
)
# A sentence that points at a figure ("The figure below shows …"): useful only beside it.
_POINTER = re.compile(
    r"(?:The|This|That)\s+(?:(?:next|following|previous)\s+)?"
    r"(?:figure|screenshot|picture|image|illustration|diagram|example)s?\s+"
    r"(?:below|above|here\b|shows|illustrates|displays)"
    r"|(?:The\s+)?(?:next|following|previous)\s+(?:figure|screenshot|picture|illustration)"
    r"|As\s+(?:shown|seen|illustrated)\s+(?:below|above|in\s+the\s+(?:figure|screenshot))",
    re.IGNORECASE,
)
_FORM_WORDS = 14
_KEYWORD = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_NUMBER = re.compile(r"\s*\(?(\d{1,3})[.)]\s")
_MARKER = re.compile(rf"\s*(?:\(?\d{{1,3}}[.)]|[{BULLETS}])\s+")
# "Name: value" (a setting, a field of a dialog): a short name, a colon, then the value.
_SETTING = re.compile(r"[A-Z][\w ./()&'+-]{0,40}:\s+\S")
# A command or code: a code span, a shell prompt, or a line that starts with a common command.
_CODE = re.compile(
    r"`[^`]+`|^\$\s|^(?:sudo|git|make|pip|python3?|apt(?:-get)?|cd|ls|cp|mv|mkdir|gimp|gnucash|"
    r"mogrify|convert|curl|wget|export|echo)\s+\S"
)

PROCEDURAL = re.compile(
    r"^\s*(?:how\b|in what way|what (?:are the )?steps|steps? to|walk me|show me how|guide|"
    r"(?:can|could) (?:i|you|we)\b|is (?:it|there a way) )|\bhow (?:do|can|should|would|to)\b|"
    r"\b(?:set ?up|configure|install|create|enter|record|import|export|reconcile|print|"
    r"back ?up|make|change|add|remove|delete)\b.*\?\s*$",
    re.IGNORECASE,
)
DEFINITION = re.compile(
    r"^\s*(?:what(?:'s| is| are| was| were)\b|what does \S+ mean|define\b|who (?:is|was|are)\b|"
    r"what do (?:you|we) mean)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Line:
    """One sentence of a passage, with where it came from."""

    text: str
    chunk_id: str
    rank: int
    source: Source | None
    weight: float = 1.0  # the chunk's retrieval score relative to the best chunk's (0..1)
    chunk_dense: float | None = None  # the chunk's cosine with the question, if retrieved so
    figure: bool = False  # an offered image sits right before or after it in the source


@dataclass(eq=False)
class Unit:
    """What the generator picks whole: sentences ``first..last`` of passage ``passage``."""

    passage: int
    first: int
    last: int
    kind: str  # "sentence", "heading", "list", "settings", "code", "entry"
    words: int
    score: float = 0.0
    lexical: float = 0.0

    @property
    def procedural(self) -> bool:
        return self.kind in ("list", "settings", "code")


def question_kind(question: str) -> str:
    """``"procedure"`` ("How do I …?"), ``"definition"`` ("What is …?") or ``"general"``."""
    if DEFINITION.search(question) and not re.search(r"\bsteps?\b|\bhow\b", question, re.I):
        return "definition"
    if PROCEDURAL.search(question):
        return "procedure"
    return "general"


def _chunk_number(chunk_id: str) -> int | None:
    tail = chunk_id.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() else None


def passages(retrieval: Retrieval) -> list[list[Line]]:
    """Sentences of the retrieved chunks; consecutive chunks of one document form one passage.

    The sentences that neighbouring chunks share (chunk overlap), and sentences already seen in
    an earlier passage (a page that repeats another), appear once. Passages are ordered by their
    best chunk's rank; sentences inside a passage keep document order.
    """
    ranked = list(enumerate(retrieval.chunks))
    offered = {(c.chunk_id, c.image_id) for c in retrieval.candidates}
    top = max((rc.score for rc in retrieval.chunks), default=0.0)
    ranked.sort(key=lambda rc: (rc[1].chunk.doc_id, rc[1].chunk.start, rc[0]))
    split = [(rank, rc, *_sentences(rc.chunk, offered)) for rank, rc in ranked]
    navigation = _navigation(split)
    out: list[list[Line]] = []
    prev_doc, prev_num = None, None
    for rank, rc, texts, figures in split:
        chunk = rc.chunk
        num = _chunk_number(chunk.chunk_id)
        weight = rc.score / top if top > 0 else 1.0
        sources = sentence_sources(chunk, texts)
        lines = [
            Line(t, chunk.chunk_id, rank, sources[i], weight, rc.dense_score, i in figures)
            for i, t in enumerate(texts)
            # "6.2. 6.2.1. 6.2.2." (a table of contents' numbers) says nothing
            if has_words(t)
            # a heading the page repeats stays only where it is a figure's anchor; a command
            # the sentence before introduces ("Build it:" then "make") stays however often the
            # page repeats it
            and (
                i in figures
                or (chunk.doc_id, _label_key(t)) not in navigation
                or (i > 0 and introduced_command(t, texts[i - 1]))
                or is_code_block(t)  # two examples that differ only in punctuation
            )
        ]
        joined = chunk.doc_id == prev_doc and num is not None and prev_num == num - 1
        if joined and out:
            seen = {ln.text for ln in out[-1][-6:]}
            out[-1].extend(ln for ln in lines if ln.text not in seen)
        else:
            out.append(lines)
        prev_doc, prev_num = chunk.doc_id, num
    out = [p for p in out if p]
    out.sort(key=lambda p: min(ln.rank for ln in p))
    seen_texts: set[str] = set()
    unique: list[list[Line]] = []
    for p in out:
        kept = [ln for ln in p if _key(ln.text) not in seen_texts]
        seen_texts.update(_key(ln.text) for ln in kept)
        if kept:
            unique.append(kept)
    return unique


def sentence_sources(chunk: Chunk, texts: list[str]) -> list[Source | None]:
    """Each of the chunk's sentences' source, naming the section the sentence sits in: a chunk
    that crosses a heading (:attr:`~m2io.types.Chunk.sections`) cites the sentences past it by
    that heading's section. A sentence is found by its first word after the sentence before
    (verbatim, or up to its last word); one not found keeps the section of the one before. A
    title whose own line reads here as a sentence (:func:`heading_like` says no: a list item
    "local-syslog - same as RFC 3164, but without the hostname field" the index took for a
    heading) names no section: its lines keep the section before it."""
    if not chunk.sections:
        return [chunk.source] * len(texts)
    text = chunk.text
    titles = {span.offset: span.title for span in chunk.sections}
    unread: set[str] = set()
    out: list[Source | None] = []
    pos = 0
    for t in texts:
        ws = t.split()
        at = text.find(ws[0], pos) if ws else -1
        src = chunk.source_at(at if at >= 0 else max(pos - 1, 0))
        if at in titles and titles[at].strip() == t.strip() and not heading_like(t):
            unread.add(titles[at])
        if src is not None and src.section in unread:
            src = out[-1] if out else chunk.source
        out.append(src)
        if at < 0:
            continue
        if text.startswith(t, at):
            pos = at + len(t)
        else:
            end = text.find(ws[-1], at + len(ws[0])) if len(ws) > 1 else -1
            pos = end + len(ws[-1]) if end >= 0 else at + len(ws[0])
    return out


def _label_key(text: str) -> str:
    """A short unpunctuated line's key without its numbering ("2.7. Sync" → "sync"); "" for
    other lines."""
    bare = _SECTION_NUMBER.sub("", text.strip())
    if words(bare) > 8 or bare.endswith((".", "!", "?", ":", ";", ",")):
        return ""
    return _key(bare)


def _navigation(
    split: list[tuple[int, RetrievedChunk, list[str], set[int]]],
) -> set[tuple[str, str]]:
    """``(doc_id, key)`` of the short unpunctuated lines a document repeats: a table of
    contents' entries and the headings they point at, "(back to top)" links. They name the
    page's parts and say nothing an answer needs (the sources name the section)."""
    # where in its document each one stands: neighbouring chunks overlap, and a line both hold
    # is one line, not a repeat
    at: dict[tuple[str, str], set[int]] = {}
    for _, rc, texts, _ in split:
        chunk = rc.chunk
        for t in texts:
            key = _label_key(t)
            if key:  # where it stands as a line of its own (not inside a longer sentence)
                found = at.setdefault((chunk.doc_id, key), set())
                line = re.compile(rf"^[ \t]*{re.escape(t.strip())}[ \t]*$", re.MULTILINE)
                found.update(chunk.start + m.start() for m in line.finditer(chunk.text))
    return {dk for dk, where in at.items() if len(where) >= 2}


def _sentences(chunk: Chunk, offered: set[tuple[str, str]]) -> tuple[list[str], set[int]]:
    """The chunk's sentences and the indices of those right before or after an offered image
    (:func:`m2io.text.quoted_sentences`)."""
    offsets = [a.offset for a in chunk.images if (chunk.chunk_id, a.image.image_id) in offered]
    return quoted_sentences(chunk.text, offsets)


def _key(text: str) -> str:
    return re.sub(r"\W+", " ", text.lower()).strip()


_WORD = re.compile(r"[^\W\d_]{2}")
_SECTION_NUMBER = re.compile(r"^(?:\d{1,3}\.)+\d{0,3}\s*")


def has_words(text: str) -> bool:
    """Whether ``text`` holds a word of two letters or more (not only numbers and marks)."""
    return _WORD.search(text) is not None


def words(text: str) -> int:
    """Words ``text`` costs of an answer's budget: a code block two a line (plus two), fewer
    than its tokens when its lines are long (a command's output, a listing), so a procedure
    with one long output block still fits its later steps."""
    n = len(text.split())
    if is_code_block(text):
        return min(n, 2 * text.count("\n") + 2)
    return n


# A control's or a mode's name in capitals, alone in parentheses: "(FILL COLOR)" labels the
# button whose description follows, as a heading does.
_LABEL_LINE = re.compile(r"\([A-Z][A-Z0-9&/' -]{1,48}\)")


def heading_like(text: str) -> bool:
    """A short line with no final punctuation that is not a list item, setting or command, or
    a name in capitals alone in parentheses ("(FILL COLOR)")."""
    t = text.rstrip()
    if _LABEL_LINE.fullmatch(t.lstrip()) and len(t.split()) <= 6:
        return True
    return (
        len(t.split()) <= 8
        and not t.endswith((".", "!", "?", ":", ";", ",", ")"))
        and not is_list_item(t)
        and not _CODE.search(t)
    )


def is_setting(text: str) -> bool:
    head = text.split(":", 1)[0]
    return bool(_SETTING.match(text)) and len(head.split()) <= 5


def is_code(text: str) -> bool:
    return bool(_CODE.search(text))


def command_form(text: str) -> str:
    """The command a reference line defines, when it opens on one: the part before ": " (or
    the whole line before a final ":") when that reads as a command's form — lower case first,
    at most ``_FORM_WORDS`` tokens, no function word, no sentence inside ("ip prefix-list NAME
    (permit|deny) PREFIX: …" → "ip prefix-list NAME (permit|deny) PREFIX"); else ""."""
    t = text.strip()
    head, sep, _ = t.partition(": ")
    if not sep:
        if not t.endswith(":") or "\n" in t:
            return ""
        head = t[:-1]
    head = head.strip()
    tokens = head.split()
    if not tokens or not head[:1].islower() or len(tokens) > _FORM_WORDS or ". " in head:
        return ""
    if FUNCTION_WORDS.intersection(w.lower() for w in tokens):
        return ""
    return head


def literal_words(form: str) -> list[str]:
    """A command form's leading keywords, up to its first argument ("ip prefix-list NAME
    (permit|deny)" → ["ip", "prefix-list"]): the words a user types as they are."""
    out = []
    for token in form.split():
        if not _KEYWORD.fullmatch(token):
            break
        out.append(token)
    return out


def keywords(form: str) -> list[str]:
    """Every keyword of a command form, its arguments and options left out ("ip prefix-list
    NAME description DESC [json]" → ["ip", "prefix-list", "description"])."""
    return [token for token in form.split() if _KEYWORD.fullmatch(token)]


def introduces_form(text: str, nxt: str) -> bool:
    """Whether ``text`` is a command form alone before a colon ("cmd NAME (a|b) ARG:") whose
    description is the next line's, a form of the same command ("cmd NAME seq N (a|b) ARG: You
    can create … using above commands."): the two are one reference entry."""
    if not text.rstrip().endswith(":") or ": " in text.strip():
        return False
    form, following = command_form(text), command_form(nxt)
    if not form or not following or ": " not in nxt:
        return False
    ours = literal_words(form)
    return bool(ours) and literal_words(following)[: len(ours)] == ours


def dangling(text: str) -> bool:
    """Whether ``text`` only makes sense after another sentence ("This…", "However,…"), or is
    a list item that continues a list ("4. …" without steps 1-3)."""
    number = _NUMBER.match(text)
    if number is not None and int(number.group(1)) > 1:
        return True
    return bool(_DANGLING.match(_MARKER.sub("", text, count=1) if is_list_item(text) else text))


def points_at_figure(text: str) -> bool:
    """Whether ``text`` opens by pointing at a figure ("The figure below shows …", "As shown
    above, …"): on its own, away from the figure and the passage around it, it says nothing."""
    return _POINTER.match(text.lstrip()) is not None


def units(passage: list[Line], index: int = 0) -> list[Unit]:
    """Group a passage's sentences into units: lists, settings runs and commands stay whole,
    each with the sentence that introduces it (one ending in ':')."""
    out: list[Unit] = []
    texts = [ln.text for ln in passage]
    i = 0
    while i < len(texts):
        t = texts[i]
        j, kind = i, "sentence"
        end = entry_end(texts, i)
        if end > i:
            # a reference entry: its forms and description line, one unit (counted as shown:
            # the description line; the forms the question selects are few)
            out.append(Unit(index, i, end, "entry", words(texts[end])))
            i = end + 1
            continue
        if is_list_item(t):
            kind = "list"
            while j + 1 < len(texts) and is_list_item(texts[j + 1]):
                j += 1
        elif is_setting(t) and i + 1 < len(texts) and is_setting(texts[i + 1]):
            kind = "settings"
            while j + 1 < len(texts) and is_setting(texts[j + 1]):
                j += 1
        elif is_code_block(t):
            kind = "code"  # a code block, with the clause it leads into ("… creates a figure")
            # (not the next entry's signature line: "lasterr = lasterror ()")
            nxt = texts[j + 1] if j + 1 < len(texts) else ""
            if nxt[:1].islower() and not form_name(nxt, calls_only=True):
                j += 1
        elif is_code(t) or (i > 0 and introduced_command(t, texts[i - 1])):
            kind = "code"  # with the commands of its block ("./configure", "make", ...)
            while j + 1 < len(texts) and introduced_command(texts[j + 1], texts[j]):
                j += 1
        elif heading_like(t):
            kind = "heading"
        elif i + 1 < len(texts) and introduces_form(t, texts[i + 1]):
            j = i + 1  # "cmd NAME (permit|deny) PREFIX:" then "cmd NAME seq N …: You can …"
        lead = (
            kind in ("list", "settings", "code")
            and out
            and out[-1].kind in ("sentence", "heading")
            and out[-1].last == i - 1
            and (
                texts[i - 1].rstrip().endswith(":")
                # "For example," then the code it introduces
                or (is_code_block(t) and texts[i - 1].rstrip().endswith(","))
            )
        )
        if lead:
            prev = out.pop()
            i = prev.first
        out.append(Unit(index, i, j, kind, sum(words(x) for x in texts[i : j + 1])))
        i = j + 1
    return out
