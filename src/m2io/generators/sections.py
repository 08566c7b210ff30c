"""How-to answers: the section that answers first, its procedure whole (issue 21, item 2).

On manuals nobody tuned on, the retriever's best chunk is often a narrative neighbour of the
section that answers (a howto's story before the FAQ entry that says what to do), and a
procedure loses its commands when the budget runs out on the narrative before them. For a
how-to question ("How do I …?", "How to …", "Show me how …"), the extractive generator therefore

1. cuts each passage into *sections*: a heading starts one, so does a sentence whose source
   names another section (a chunk that runs on past a heading names, for each sentence, the
   section it sits in: :func:`m2io.generators.focus.sentence_sources`), and a definition-list
   entry written as one line ("Keep changes in working
   tree while discarding some previous commits: Suppose …", "How do I ignore changes to a
   tracked file?: Git doesn't …");
2. opens on the section whose title and first sentences say the question's action and object
   (IDF-weighted share of the question's terms: in the title, or failing that in its first two
   sentences), with the sentences' own relevance as a smaller part, the retriever's choice
   kept unless another section matches clearly better;
3. keeps that section's procedure whole and in order before its narrative, up to a cap past
   the budget, so a budget that runs short cuts the story around the steps, never the steps,
   and a procedure longer than the cap says where it goes on
   (:mod:`m2io.generators.procedures`).

Other sections and pages join only with the budget that is left, and an answer built on a
procedure takes them only from sections whose own title or first sentences say the question's
terms (``JOIN_MATCH``; see :mod:`m2io.generators.extractive`). On a reference page every
entry (a function's forms and description, :mod:`m2io.generators.entries`; a term's text; what
follows "See also:") is a section of its own, and another entry joins only at ``JOIN_MATCH`` or
when its name is a question word. A question in two parts ("read an image file and display
it") gets, for the part whose action the opening section does not say, the best unit of the
section that says it (:func:`m2io.generators.parts.other_part`); an answer with no code gets the
example of a section it quotes (:func:`m2io.generators.parts.example_for`). On a page of command
lines, the first command whose keywords say the question's terms and no other word opens the
answer (:func:`defining_command`: "ip prefix-list NAME (permit|deny) PREFIX", not "show ip
prefix-list"); a short opening section goes on in the subsections its question names
(:func:`_with_named_subsections`). Questions of other kinds (the dev sets' "What does the manual
say about …?") are not touched.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from m2io.generators.entries import entry_term, form_name
from m2io.generators.focus import Line, Unit, command_form, dangling, keywords, literal_words
from m2io.text import FUNCTION_WORDS, command_shaped, content_terms
from m2io.types import Continuation

_HOWTO = re.compile(
    r"^\s*(?:how\s+(?:do|can|could|should|would|does|did|to|may|might|must)\b"
    r"|is\s+(?:it\s+possible|there\s+a\s+way)\s+to\b|(?:can|could)\s+(?:i|you|we|one)\b"
    r"|(?:please\s+)?(?:show|tell|explain|describe)(?:\s+(?:me|us))?\s+how\b"
    r"|what\s+(?:are\s+the\s+)?steps\b)",
    re.IGNORECASE,
)
# A definition-list entry written on one line by the loaders: a short term, ": ", its text (a
# term in lower case is a command's or an option's name: "add: Add a remote named …").
_TERM = re.compile(r"([A-Z][^:]{2,90}?|[a-z<-][^:]{0,40}?)\??:\s+\S")
# Terms that only label a remark: they do not start a section of their own.
_REMARK = frozenset(
    [*"note tip info warning caution danger important example examples hint".split(), "see also"]
)
_TERM_WORDS = 14
# A verb that makes a term a clause ("The grid is a unit grid").
_CLAUSE = re.compile(
    r"\b(?:is|are|was|were|be|been|can|could|should|would|will|has|have|does)\b", re.I
)
_NAME_WORDS = 3
# A title has a word ("*.[oa]", a pattern a loader took for a heading, has none).
_TITLE_WORD = re.compile(r"[^\W\d_]{3}")

TITLE_WEIGHT = 1.0
LEAD_WEIGHT = 0.7
RELEVANCE_WEIGHT = 0.25
KEEP_MARGIN = 0.1  # the retriever's own section wins ties by this much
# a section of another page than the retriever's choice must match the question this much better
PAGE_MARGIN = 0.3
UNTITLED_WEIGHT = 0.5  # another section whose heading says none of the question's terms
JOIN_MATCH = 0.5  # another section joins a procedure's answer only when it says this much


def howto(question: str) -> bool:
    """Whether ``question`` asks how to do something ("How do I …?", "How to …", "Can I …?",
    "Show me how …"): the questions whose answer is a procedure."""
    return _HOWTO.search(question) is not None


def _titled(text: str) -> bool:
    """Whether ``text`` can title a section: it has a word, and is no command ("*.[oa]" or
    "$ git switch -c topic", lines a loader took for headings, are not)."""
    return (
        bool(_TITLE_WORD.search(text))
        and not text.lstrip().startswith("$")
        and not (command_shaped(text) and not text[:1].isupper())
    )


def term_of(text: str) -> str:
    """The term of a definition-list entry written on one line ("Reset a file: Suppose …" →
    "Reset a file"), or "" for other sentences (a remark's "Note:" included)."""
    m = _TERM.match(text)
    if m is None:
        return ""
    term = m.group(1).strip()
    after = text[m.end() - 1 :].split(maxsplit=1)
    if len(after) < 2:
        return ""  # "… use the URI: https://host:9090/": one value, no definition after it
    if after and after[0].lower() in FUNCTION_WORDS and after[0][:1].islower():
        return ""  # "… begins with epson: or canon: …": the colon is inside a sentence
    if not term[:1].isupper() and len(term.split()) > (1 if term[:1].isalpha() else _NAME_WORDS):
        return ""  # lower case: a command's or an option's name ("add", "-c <new-branch>")
    if len(term.split()) > _TERM_WORDS or ". " in term or term.lower() in _REMARK:
        return ""
    if dangling(term):
        return ""  # "Then find which commit to revert: …" goes on from the sentence before
    question = text[m.end(1) : m.end(1) + 1] == "?"  # a FAQ's "How do I …?: …"
    if not question and _CLAUSE.search(term):
        return ""  # "The grid is a unit grid: each …" is a sentence, not a term
    if term.count("(") != term.count(")") or term.count("[") != term.count("]"):
        return ""  # "Commit f86a374 (pack-bitmap.c: fix …)": a colon inside a parenthesis
    return term


@dataclass
class Section:
    """Units ``units`` of passage ``passage`` under one title, in document order."""

    passage: int
    title: str
    units: list[Unit] = field(default_factory=list)
    match: float = 0.0  # how well its title and first sentences say the question's terms
    others: dict[int, float] = field(default_factory=dict)  # the lead's: id(unit) -> its match
    entry: bool = False  # a reference entry (a function's forms and description, a term's text)
    entries: set[int] = field(default_factory=set)  # the lead's: id(unit) of other entries
    steps: set[int] = field(default_factory=set)  # the lead's: id(unit) of its procedure shown
    step: Unit | None = None  # the lead's: the command line that does what the question asks
    continued: Continuation | None = None  # the lead's: where its procedure goes on

    @property
    def body(self) -> list[Unit]:
        return [u for u in self.units if u.kind != "heading"]

    @property
    def procedure(self) -> list[Unit]:
        return [u for u in self.units if u.procedural]


def sections(all_units: list[Unit], ps: list[list[Line]]) -> list[Section]:
    """Every passage cut into sections: a heading, a sentence whose source names another
    section (past a heading its chunk crosses, or in the next chunk), or a one-line
    definition-list entry starts one (a title must have a word and be no command); a
    passage's first section is titled by its first sentence's section."""
    out: list[Section] = []
    prev_passage, prev_kind, prev_named, prev_line = -1, "", "", ""
    for u in all_units:
        line = ps[u.passage][u.first]
        named = line.source.section if line.source is not None else ""
        term = term_of(line.text) if u.kind == "sentence" else ""
        if u.kind == "entry":
            term = entry_term(ps[u.passage][u.last].text)
        elif u.kind == "sentence" and not term:
            term = entry_term(line.text, calls_only=True)  # "roots ( c ): Compute the roots …"
        after_see_also = u.passage == prev_passage and prev_line.lstrip().lower().startswith(
            "see also"
        )
        # a one-word term right after a command is the command's output ("Bisecting: 3537
        # revisions left to test after this …"), not an entry
        output = (
            prev_kind == "code"
            and u.passage == prev_passage
            and len(term.split()) < 3
            and u.kind != "entry"
        )
        if u.passage != prev_passage or not out:
            title = line.text if u.kind == "heading" else named
            # a page part named by a function's form ("info = imfinfo (url)") is its entry
            entry = bool(form_name(title, calls_only=True)) or u.kind == "entry"
            out.append(Section(u.passage, title, entry=entry))
        elif u.kind == "heading" and _titled(line.text) and not dangling(line.text):
            # ("Finally, run" before "$ git bisect reset" is a command's lead-in, not a title)
            out.append(Section(u.passage, line.text))
        elif named != prev_named and _titled(named) and named != out[-1].title:
            out.append(Section(u.passage, named))  # a chunk of another section of the page
        elif term and not output:
            out.append(Section(u.passage, term, entry=True))
        elif after_see_also:
            # "See also: …" closes a reference entry: what follows is the next one's
            name = form_name(line.text)  # the next entry's, or the page's text going on
            out.append(Section(u.passage, name, entry=bool(name) or u.kind == "entry"))
        out[-1].units.append(u)
        prev_passage, prev_kind, prev_named = u.passage, u.kind, named
        prev_line = ps[u.passage][u.last].text
    return [s for s in out if s.body]


# Words of a how-to question that say nothing about its action or object ("make Git ignore some
# files"): left out of the match.
_VAGUE = frozenset("make some any want need way able also thing something please".split())


def keys(text: str) -> set[str]:
    """``text``'s content terms, folded a little further than :func:`content_terms` so that a
    title's "Ignoring files" meets a question's "ignore some files" (a final "e" dropped)."""
    return {_fold(t) for t in content_terms(text) if t not in _VAGUE}


def _fold(term: str) -> str:
    """ "rotation" and "rotate" → "rotat", "ignore" → "ignor", British "colour" → "color"
    (after :func:`content_terms`'s stemming, which took "-ing", "-ed", "-es", "-s")."""
    if term.endswith("ion") and len(term) >= 7:
        term = term[:-3]
    if term.endswith("our") and len(term) >= 6:
        term = term[:-2] + "r"  # "colour", "neighbour", "behaviour": a manual writes "-or"
    return term.rstrip("e") or term


def _share(q: set[str], words: set[str], idf: dict[str, float]) -> float:
    total = sum(idf.get(t, 1.0) for t in q) or 1.0
    return sum(idf.get(t, 1.0) for t in q & words) / total


def match(
    question_terms: set[str], s: Section, ps: list[list[Line]], idf: dict[str, float]
) -> float:
    """How well ``s``'s title and first two sentences say the question's terms (0..1): a term
    in the title counts fully, one only in the first sentences ``LEAD_WEIGHT``."""
    title = keys(s.title)
    lead = {
        t for u in s.body[:2] for ln in ps[u.passage][u.first : u.last + 1] for t in keys(ln.text)
    }
    in_title = _share(question_terms, title, idf)
    in_lead = _share(question_terms, lead - title, idf)
    return TITLE_WEIGHT * in_title + LEAD_WEIGHT * in_lead


def lead_section(
    question: str,
    all_units: list[Unit],
    ps: list[list[Line]],
    core: Unit,
) -> Section | None:
    """The section a how-to answer opens on: the best by title-and-lead match plus relevance,
    the one holding ``core`` (the retriever's choice) favoured by ``KEEP_MARGIN``, and a
    section of another page than ``core``'s held back by ``PAGE_MARGIN`` (on 70 questions
    with known answering pages the retriever's first page was right 52 times and answers
    opened on a right page 46 times without it, 50 with it: docs/RESULTS.md). Its
    ``others`` holds the match of every other unit's section."""
    q = keys(question)
    secs = sections(all_units, ps)
    idf = _idf(q, ps)
    if not q or not secs:
        return None
    top = max((u.score for u in all_units), default=0.0) or 1.0
    home = _page(ps, core.passage)

    def value(s: Section) -> float:
        rel = max(u.score for u in s.body) / top
        if any(u is core for u in s.units):
            return s.match + RELEVANCE_WEIGHT * rel + KEEP_MARGIN
        away = 0.0 if _page(ps, s.passage) == home else PAGE_MARGIN
        # another section takes the opening from the retriever's by its heading: first
        # sentences alone that repeat the question's words (a list line read as a heading,
        # "zh_TW Simplified Chinese", over Gutenprint's "Printer Installation") count less
        titled = s.entry or _share(q, keys(s.title), idf) > 0  # an entry's title is a form
        return s.match * (1.0 if titled else UNTITLED_WEIGHT) + RELEVANCE_WEIGHT * rel - away

    for s in secs:
        s.match = match(q, s, ps, idf)
    lead = max(secs, key=lambda s: (value(s), -s.passage, -s.units[0].first))
    step = defining_command(q, [u for u in all_units if u.passage == lead.passage], ps)
    if step is not None:
        # the section that defines the command the question names opens the answer, on it
        lead = next(s for s in secs if any(u is step for u in s.units))
        lead.step = step
    else:
        secs = _with_named_subsections(lead, secs, q, ps)
        secs = _with_announced_subsections(lead, secs, ps)
    lead.others = {id(u): _joins(s, q) for s in secs if s is not lead for u in s.units}
    lead.entries = {id(u) for s in secs if s is not lead and s.entry for u in s.units}
    return lead


SHORT_SECTION = 40  # words: a section this short says what a control does, not how


def _with_named_subsections(
    lead: Section, secs: list[Section], q: set[str], ps: list[list[Line]]
) -> list[Section]:
    """``secs`` with ``lead`` grown by the sections right after it whose titles say one of
    the question's terms, when ``lead`` is short (under ``SHORT_SECTION`` words): a control's
    one-line description ("(CIRCLE AND ELLIPSE) Create circles and ellipses.") goes on in the
    subsection that says how ("Circles": click the centre, then the radius). Entries of a
    definition list ("--create <branch>: …", "--force-create <branch>: …") are siblings, not
    subsections: neither grows nor is taken."""
    if lead.entry or sum(u.words for u in lead.body) >= SHORT_SECTION:
        return secs  # a definition list's entry is whole: the next one is its sibling
    at = secs.index(lead) + 1
    while (
        at < len(secs)
        and secs[at].passage == lead.passage
        and not secs[at].entry
        and keys(secs[at].title) & keys(lead.title) & q
    ):
        lead.units.extend(secs.pop(at).units)
    return secs


# a sentence that says the section's how-to follows ("All of the settings below use …")
_POINTS_ON = re.compile(
    r"\b(?:below|as follows|the following (?:ways|methods|options|steps))\b", re.I
)
_COMMANDS = ("code", "settings")


def _with_announced_subsections(
    lead: Section, secs: list[Section], ps: list[list[Line]]
) -> list[Section]:
    """``secs`` with ``lead`` grown by the sections right after it that hold a command, when
    ``lead`` holds none and says its how-to follows ("All of the settings below use a
    four-digit number …"): the per-system subsections ("Using openrefine.exe", "Using
    refine.bat") continue its procedure, whatever their titles say. It stops at the first
    section without a command or an entry (a definition list's next term is a sibling)."""
    if lead.entry or any(u.kind in _COMMANDS for u in lead.body):
        return secs
    said = (ln.text for u in lead.body for ln in ps[u.passage][u.first : u.last + 1])
    if not any(_POINTS_ON.search(text) for text in said):
        return secs
    at = secs.index(lead) + 1
    while (
        at < len(secs)
        and secs[at].passage == lead.passage
        and not secs[at].entry
        and any(u.kind in _COMMANDS for u in secs[at].body)
    ):
        lead.units.extend(secs.pop(at).units)
    return secs


def defining_command(
    question_terms: set[str], candidates: list[Unit], ps: list[list[Line]]
) -> Unit | None:
    """The reference line that defines the command a how-to question names: the first (in
    document order) of ``candidates`` that opens on a command form (:func:`command_form`)
    whose keywords say two of the question's terms at least and no other word of three
    letters or more ("ip prefix-list NAME (permit|deny) PREFIX …" for "block a prefix with a
    prefix list"; "show ip prefix-list …" says "show" and "ip prefix-list NAME description …"
    "description", which the question does not: a reference page defines a command before it
    describes, shows or clears what it made). None when no line does."""
    for u in candidates:
        if u.kind not in ("sentence", "entry"):
            continue
        form = command_form(ps[u.passage][u.first].text)
        if not literal_words(form):
            continue
        said = {t for t in keys(" ".join(keywords(form))) if len(t) > 2}
        if len(said & question_terms) >= 2 and said <= question_terms:
            return u
    return None


def _page(ps: list[list[Line]], passage: int) -> str:
    """The page passage ``passage`` comes from: its document (a PDF's pages are one)."""
    doc = ps[passage][0].chunk_id.rsplit("#", 1)[0] if ps[passage] else ""
    return doc.split("#page=", 1)[0]


def _idf(q: set[str], ps: list[list[Line]]) -> dict[str, float]:
    """IDF of the question's terms over the context's sentences."""
    line_keys = [keys(ln.text) for p in ps for ln in p]
    df: dict[str, int] = {}
    for ks in line_keys:
        for t in ks & q:
            df[t] = df.get(t, 0) + 1
    # a question word the context never says counts as much as the rarest one it does say
    return {t: math.log(1 + len(line_keys) / df.get(t, 1)) for t in q}


def _joins(s: Section, q: set[str]) -> float:
    """How much ``s`` says the question's terms, for joining another section's answer: its
    match, or ``JOIN_MATCH`` at least for a reference entry named by one of the question's
    words (the "roots" entry for "How do I find the roots of a polynomial?")."""
    if s.entry and form_name(s.title) and keys(s.title) & q:
        return max(s.match, JOIN_MATCH)
    return s.match
