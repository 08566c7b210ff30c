"""Two-part how-to questions and examples, for :mod:`m2io.generators.howto_path`.

A question in two parts ("read an image file and display it") gets, for the part whose action
the opening section (:func:`m2io.generators.sections.lead_section`) does not say, the best unit
of the section that says it (:func:`other_part`); an answer with no code gets the example of a
section it quotes (:func:`example_for`).
"""

from __future__ import annotations

import re

from m2io.generators.focus import Line, Unit
from m2io.generators.sections import (
    _HOWTO,
    _VAGUE,
    JOIN_MATCH,
    Section,
    _fold,
    _idf,
    keys,
    match,
    sections,
)
from m2io.text import content_terms, is_code_block

# "How do I read an image file and display it?": the parts a how-to question joins with "and"
_PARTS = re.compile(r"\s*,?\s+and\s+(?:then\s+)?", re.IGNORECASE)


def question_parts(question: str) -> list[tuple[set[str], str]]:
    """The terms of each part of a how-to question whose parts are joined by "and" ("read an
    image file" / "display it"), each with its action (its first term: "read", "display");
    one part (or none) for other questions."""
    body = _HOWTO.sub("", question, count=1).rstrip(" ?")
    out = []
    for p in _PARTS.split(body):
        ordered = [_fold(t) for t in content_terms(p) if t not in _VAGUE]
        if ordered:
            out.append((set(ordered), ordered[0]))
    return out


def _said(s: Section, ps: list[list[Line]]) -> set[str]:
    """The terms of ``s``'s title and first two units."""
    lead = {
        t for u in s.body[:2] for ln in ps[u.passage][u.first : u.last + 1] for t in keys(ln.text)
    }
    return keys(s.title) | lead


def other_part(
    question: str, lead: Section, all_units: list[Unit], ps: list[list[Line]]
) -> Unit | None:
    """For a two-part how-to question, the unit that answers the part ``lead`` does not say
    (its title and first sentences say under ``JOIN_MATCH`` of that part's terms): the best
    unit of the other sections that say it (``JOIN_MATCH`` at least), a reference entry or a
    procedure before a sentence; None when every part is covered."""
    parts = question_parts(question)
    if len(parts) < 2:
        return None
    idf = _idf(keys(question), ps)
    secs = [
        s
        for s in sections(all_units, ps)
        if s.passage != lead.passage or s.units[0].first != lead.units[0].first
    ]
    context = {t for p in ps for ln in p for t in keys(ln.text)}
    for terms, action in parts:
        part = terms & context  # words the context never says ("again later") match nothing
        if not part or (action in _said(lead, ps) and match(part, lead, ps, idf) >= JOIN_MATCH):
            continue  # the lead says this part's action and most of its terms
        fits = [s for s in secs if match(part, s, ps, idf) >= JOIN_MATCH]
        if fits:
            # the unit that says how: a reference entry, a procedure, before a sentence
            return max(
                (u for s in fits for u in s.body),
                key=lambda u: (u.kind == "entry" or u.procedural, u.score, -u.first),
            )
    return None


def example_for(chosen: list[Unit], all_units: list[Unit], ps: list[list[Line]]) -> Unit | None:
    """For a how-to answer that holds no code, the code example (a code block, with the line
    that introduces it) of a section the answer quotes: one right after a quoted sentence
    first, else the most relevant; None if none.
    A reference entry's reader wants its description and its example."""
    if any(u.kind == "code" for u in chosen):
        return None
    quoted = {id(u) for u in chosen}
    examples = [
        u
        for s in sections(all_units, ps)
        if any(id(u) in quoted for u in s.units)
        for u in s.units
        if u.kind == "code"
        and any(is_code_block(ln.text) for ln in ps[u.passage][u.first : u.last + 1])
    ]
    ends = {(u.passage, u.last) for u in chosen}

    def follows(u: Unit) -> bool:  # right after a quoted sentence: it goes on from the answer
        return (u.passage, u.first - 1) in ends

    return max(examples, key=lambda u: (follows(u), u.score, -u.first)) if examples else None
