"""The how-to path of :class:`~m2io.generators.extractive.ExtractiveGenerator`: what a how-to
answer gets beyond its opening section (:mod:`m2io.generators.sections`).

After the units are chosen, the unit that answers the question's other part ("… read an image
file *and display it*?") and an example of the procedure join, room made by leaving out the
units chosen last; once the answer is ordered, reference leftovers and pointers to what is not
shown go, and a code line keeps the words that introduce it.
"""

from __future__ import annotations

from m2io.generators.focus import Line, Unit
from m2io.generators.openers import (
    code_has_its_words,
    no_pointers_to_missing,
    no_reference_leftovers,
)
from m2io.generators.parts import example_for, other_part
from m2io.generators.sections import Section


def with_other_parts(
    question: str,
    lead: Section,
    all_units: list[Unit],
    ps: list[list[Line]],
    chosen: list[Unit],
    budget: int,
) -> list[Unit]:
    """``chosen`` with the unit that answers the question's other part
    (:func:`m2io.generators.parts.other_part`), then an example of it
    (:func:`m2io.generators.parts.example_for`), room made by leaving out the units chosen
    last (never the core)."""
    chosen = _make_room(chosen, other_part(question, lead, all_units, ps), budget, lead.steps)
    return _make_room(chosen, example_for(chosen, all_units, ps), budget, lead.steps)


def tidy(
    chosen: list[Unit], all_units: list[Unit], ps: list[list[Line]], budget: int
) -> list[Unit]:
    """The ordered how-to answer without reference leftovers and pointers to what it does not
    show, its code lines with the words that introduce them (:mod:`m2io.generators.openers`)."""
    chosen = no_reference_leftovers(chosen, ps)
    chosen = no_pointers_to_missing(chosen, all_units, ps)
    return code_has_its_words(chosen, all_units, ps, budget)


def _make_room(
    chosen: list[Unit],
    extra: Unit | None,
    budget: int,
    steps: set[int] | frozenset[int] = frozenset(),
) -> list[Unit]:
    """``chosen`` with ``extra`` added (at most half the budget), room made by leaving out the
    units chosen last (never the first, nor a step of the procedure: ids ``steps``)."""
    if extra is None or extra in chosen or extra.words > budget // 2:
        return chosen
    keep = list(chosen)
    while len(keep) > 1 and sum(u.words for u in keep) + extra.words > budget:
        if id(keep[-1]) in steps:
            return chosen  # the procedure leaves no room: it stays whole
        keep.pop()
    if sum(u.words for u in keep) + extra.words > budget:
        return chosen
    return [*keep, extra]
