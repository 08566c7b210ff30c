"""What kind of page a section is, read from its own headings and text.

**Changes.** A manual often carries its release notes ("6) Release Notes", "Changes from
Previous Versions", "What's new in 5.2") and its project's history ("History of Gutenprint")
beside the pages that show how. Such a page mentions the features a user asks about ("support
for colour laser printers is black and white only") yet says what changed, not how to do it.
:func:`change_kinds` marks a section 1 when one of its headings, or a numbered heading above it
("6.4) Printer-Specific Notes" sits under "6) Release Notes"), names a list of changes or,
numbered, carries a product version ("1.1.2) Gimp-Print 4.2"); otherwise a section scores half
the share of its page's sentences that date a change or state one ("Fixed …", "… has been
removed", "no longer", a year). A file's name decides nothing. :func:`asks_about_changes` says
whether a question is about versions itself ("after upgrading", "new in 5.2"), when such a page
may be just what is asked for.

**Introductions and the other way.** For a how-to question, a section headed as an
introduction ("1) Introduction", "What is Gutenprint?", "Preface"; :func:`intro_kinds`) says
what the program is, not how to use it, and a section whose heading names another way than the
program's interface ("Defining Macros in the Command Line", "… from a script";
:func:`variant_kinds`) answers a user who did not ask for that way
(:func:`asks_for_variant`) second. Measured and not kept: favouring sections whose sentences act
on the interface (press, click, a dialog's buttons) and demoting sections of code blocks
(docs/RESULTS.md).

Example:
    >>> kinds = change_kinds({"a": ["6) Release Notes"], "b": ["6.4) Printer Notes"],
    ...                       "c": ["4.2) GIMP"]}, {"a": [], "b": [], "c": []})
    >>> kinds["a"], kinds["b"], kinds["c"]
    (1.0, 1.0, 0.0)
    >>> asks_about_changes("What changed in version 5.2?"), asks_about_changes("How do I print?")
    (True, False)
    >>> variant_kinds({"x": ["10.2. Defining Macros in the Command Line"]})
    {'x': 1.0}
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence

# "6.4) Title", "10.2. Title", "Chapter 10. Title", "Appendix D. Title", "D.1. Title"
_NUMBERED = re.compile(
    r"^\s*(?:(?:chapter|part|appendix|section)\s+)?((?:[A-Z]|\d{1,3})(?:\.\d{1,3})*)"
    r"(?:[.)]\s*|\s+)(\S.*)$",
    re.IGNORECASE,
)
_CHANGE_TITLE = re.compile(
    r"^(?:release\s+notes?|(?:version|revision|release)\s+history|change\s?log"
    r"|(?:news|changes)(?:\s*$|\s+(?:to|in|for|from|between|since)\b)"  # not "News feeds"
    r"|what'?s\s+new|new\s+(?:features|in)\b|history(?:\s+of\b|$)"
    r"|(?:(?:overall|general|user[- ]visible|major|minor|notable|recent|incompatible)\s+)*"
    r"changes\s+(?:from|between|since|in)\b)(?!\w)",
    re.IGNORECASE,
)
# a product name followed by its version: "Gimp-Print 4.2", "Gutenprint 5.0", "GIMP 2.x"
_VERSIONED = re.compile(
    r"\b(?!(?:Chapter|Section|Figure|Table|Example|Appendix|Part|Page|Step|Illustration|"
    r"Listing|Note)\b)[A-Z][\w+-]*\s+\d+\.(?:\d+|x)\b(?![.\d-])"
)
_INTRO_TITLE = re.compile(
    r"^(?:introduction|preface|foreword|what\s+is\b|about\s+(?:this|the)\s+"
    r"(?:manual|guide|book|document))",
    re.IGNORECASE,
)
# a heading that names the other way of doing a task: "Defining Macros in the Command Line"
_VARIANT_TITLE = re.compile(
    r"\b(?:in|from|on|at|via|using|with|through)\s+(?:the\s+)?(?:command[- ]?line|terminal|"
    r"console|shell|api|scripts?)\b|\bprogrammatically\b",
    re.IGNORECASE,
)
_ASKS_VARIANT = re.compile(
    r"\b(?:command[- ]?line|terminal|console|shell|api|scripts?|scripting|programmatic\w*|"
    r"cli|perl|python)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19[89]\d|20[0-4]\d)\b")
_CHANGE = re.compile(
    r"^\W*(?:fixed|added|removed|changed|improved|deprecated|renamed|dropped)\b"
    r"|\b(?:no\s+longer|(?:has|have)\s+been\s+(?:added|removed|fixed|changed|deprecated|"
    r"improved|rewritten|replaced)|now\s+supports?)\b",
    re.IGNORECASE,
)
_ASKS_CHANGES = re.compile(
    r"\b(?:versions?|releases?|released|upgrad\w*|downgrad\w*|change\s?log|what'?s\s+new|"
    r"new\s+in|history|deprecated|no\s+longer|\d+\.\d+)\b",
    re.IGNORECASE,
)
_HOW_TO = re.compile(
    r"^\s*(?:how\s+(?:do|can|should|would|could)\s+(?:i|we|you|one)\b|how\s+to\b|"
    r"(?:what|where)\s+(?:do|can|should)\s+(?:i|we|you)\s+(?:click|press|select|choose|go)\b)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _number(heading: str) -> tuple[str, str] | None:
    """A numbered heading's number and title ("6.4", "Printer-Specific Notes"); None for an
    unnumbered one or one numbered deeper than four levels (a list line, not a heading)."""
    m = _NUMBERED.match(heading)
    if not m or m.group(1).count(".") > 3:
        return None
    return m.group(1).upper(), m.group(2).strip()


def _is_change_heading(heading: str) -> bool:
    """A heading that names a list of changes; a version ("Gimp-Print 4.2") counts only in a
    numbered heading, since an unnumbered one is as often a list line or a code line."""
    numbered = _number(heading)
    title = numbered[1] if numbered else heading.strip()
    return bool(_CHANGE_TITLE.match(title) or (numbered and _VERSIONED.search(title)))


def _sentences(text: str) -> list[str]:
    """The prose sentences of ``text``: fenced code blocks left out."""
    out: list[str] = []
    in_code = False
    for line in text.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if not in_code and line.strip():
            out += [s for s in _SENTENCE_END.split(line.strip()) if s]
    return out


def _body_share(texts: Iterable[str]) -> float:
    sentences = [s for t in texts for s in _sentences(t)]
    if not sentences:
        return 0.0
    return sum(1 for s in sentences if _YEAR.search(s) or _CHANGE.search(s)) / len(sentences)


class _ChangeKinds(dict):
    """Sections' change kinds: the sections marked by their headings from the start, the others
    read from their page's text when first asked for (one page's share serves all its
    sections), so the first question reads the pages it ranks, not the whole corpus."""

    def __init__(self, marked: dict, page_texts: Mapping[Hashable, Sequence[str]]) -> None:
        super().__init__(marked)
        self._texts = page_texts
        self._shares: dict[int, float] = {}

    def __missing__(self, unit: Hashable) -> float:
        texts = self._texts[unit]
        key = id(texts)
        if key not in self._shares:
            self._shares[key] = round(0.5 * _body_share(texts), 3)
        self[unit] = self._shares[key]
        return self[unit]

    def get(self, unit: Hashable, default: float | None = None) -> float | None:  # type: ignore[override]
        try:
            return self[unit]
        except KeyError:
            return default


def change_kinds(
    headings: Mapping[Hashable, Sequence[str]], page_texts: Mapping[Hashable, Sequence[str]]
) -> dict[Hashable, float]:
    """How much each section is a list of changes (0 to 1; see the module docstring).

    ``headings`` maps a section to its headings (chunk titles, section heading); ``page_texts``
    maps the same section to the texts of its page's chunks (the same list for the sections of
    one page), read only for a section its headings do not mark, when it is first looked up."""
    titles: dict[str, set[str]] = {}  # a heading number -> the titles numbered so
    for heads in headings.values():
        for head in heads:
            numbered = _number(head)
            if numbered and len(numbered[1].split()) <= 12:
                titles.setdefault(numbered[0], set()).add(head)
    # a number two headings share ("1.1) What is …?", "1.1) History of …") counts for both
    changes = {number for number, ts in titles.items() if any(map(_is_change_heading, ts))}
    marked: dict[Hashable, float] = {}
    for unit, heads in headings.items():
        for head in heads:
            numbered = _number(head)
            if _is_change_heading(head) or (
                numbered
                and any(
                    ".".join(numbered[0].split(".")[:n]) in changes
                    for n in range(1, numbered[0].count(".") + 1)
                )
            ):
                marked[unit] = 1.0
                break
    return _ChangeKinds(marked, page_texts)


def intro_kinds(headings: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, float]:
    """1 for a section whose own heading introduces the product or the manual
    ("1) Introduction", "What is Gutenprint?", "Preface"), else 0."""
    out: dict[Hashable, float] = {}
    for unit, heads in headings.items():
        titles = [(_number(h) or ("", h.strip()))[1] for h in heads]
        out[unit] = 1.0 if any(_INTRO_TITLE.match(t) for t in titles) else 0.0
    return out


def variant_kinds(headings: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, float]:
    """1 for a section whose own heading names another way than the program's interface
    ("Defining Macros in the Command Line", "… from a script"), else 0."""
    return {
        unit: 1.0 if any(_VARIANT_TITLE.search(h) for h in heads) else 0.0
        for unit, heads in headings.items()
    }


def asks_for_variant(question: str) -> bool:
    """Whether ``question`` names the command line, a script or an API itself."""
    return bool(_ASKS_VARIANT.search(question))


def asks_about_changes(question: str) -> bool:
    """Whether ``question`` asks about versions or changes (upgrading, a release, a version)."""
    return bool(_ASKS_CHANGES.search(question))


def is_how_to(question: str) -> bool:
    """Whether ``question`` asks how to do something ("How do I …", "How to …")."""
    return bool(_HOW_TO.search(question))
