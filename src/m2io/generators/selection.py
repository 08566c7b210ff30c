"""Choosing the answer's units for :class:`~m2io.generators.extractive.ExtractiveGenerator`.

The answer's core is the best unit of the retriever's best passage (or of a how-to question's
opening section); other units join greedily, MMR-style (relevance, a bonus for continuing a
chosen passage, minus the overlap with what is chosen) within the word budget, and the rest of
the budget continues the best passage in the author's order.
"""

from __future__ import annotations

import math

from m2io.generators.focus import Line, Unit, dangling, points_at_figure, words
from m2io.generators.procedures import whole_procedure
from m2io.generators.scoring import terms
from m2io.generators.sections import JOIN_MATCH, Section


class SelectionMixin:
    """Unit selection, for :class:`~m2io.generators.extractive.ExtractiveGenerator` (which holds
    the options read here)."""

    drop_headings: bool
    lead_passage: bool
    min_relative_score: float
    other_passage_score: float
    max_sentences: int
    diversity: float
    adjacency: float
    fill: bool
    lead_first: bool

    def _pickable(self, all_units: list[Unit]) -> list[Unit]:
        pickable = [u for u in all_units if u.kind != "heading" or not self.drop_headings]
        return pickable or all_units

    def _core(self, all_units: list[Unit]) -> Unit:
        """The answer's best unit: the best of the retriever's top passage when it answers at
        all (its best unit reaches min_relative_score of the best one), else the best."""
        pickable = self._pickable(all_units)
        best = max(pickable, key=lambda u: (u.score, -u.passage, -u.first))
        if self.lead_passage:
            # the retriever's best section (passage 0) holds the answer's core: it ranked the
            # whole passage with more evidence (dense, lexical, figure captions) than one sentence
            lead = [u for u in pickable if u.passage == 0]
            if lead:
                core = max(lead, key=lambda u: (u.score, -u.first))
                if core.score >= self.min_relative_score * best.score:
                    best = core
        return best

    def _select(
        self,
        all_units: list[Unit],
        ps: list[list[Line]],
        budget: int,
        notes: list[str],
        lead: Section | None = None,
        goes_on: frozenset[str] = frozenset(),
    ) -> list[Unit]:
        """Greedy MMR-like choice of units within ``budget`` words (best unit first).

        With ``lead`` (a how-to question's opening section, :mod:`m2io.generators.sections`),
        the answer's core comes from that section: its procedure whole when it has one
        (:mod:`m2io.generators.procedures`; ``lead.continued`` then says where one the answer
        cannot hold goes on, ``goes_on`` naming the chunks whose section runs on past the
        context), else its best unit; other sections join with the budget left."""
        pickable = self._pickable(all_units)
        if lead is not None:
            # another reference entry joins only when it is itself about the question's terms
            pickable = [
                u
                for u in pickable
                if id(u) not in lead.entries or lead.others.get(id(u), 0.0) >= JOIN_MATCH
            ]
        best = self._core(all_units)
        steps: list[Unit] = []
        if lead is not None:
            if lead.procedure:
                steps = whole_procedure(lead, ps, all_units, budget, self.max_sentences, goes_on)
            elif lead.step is not None:
                best = lead.step  # the command that does what the question asks
            else:
                best = max(lead.body, key=lambda u: (u.score, -u.first))
        if steps:
            # the most relevant of them is the answer's core (the floors for other sections)
            best = max(steps, key=lambda u: (u.score, -u.first))
            steps.remove(best)
            steps.insert(0, best)
        elif best.words > budget and best.kind == "list":
            at = all_units.index(best)
            best = all_units[at] = _cut_list(best, ps, budget, notes)
            pickable = [
                best if (u.passage, u.first) == (best.passage, best.first) else u for u in pickable
            ]
        chosen = steps or [best]
        term_sets = {id(u): _unit_terms(u, ps) for u in all_units}
        floor = self.min_relative_score * best.score
        lex_floor = self.min_relative_score * best.lexical

        def shown(u: Unit) -> bool:
            return not (self.drop_headings and u.kind == "heading") or u is best

        def used() -> tuple[int, int]:
            kept = [u for u in chosen if shown(u)]
            return sum(u.words for u in kept), sum(u.last - u.first + 1 for u in kept)

        def greedy(pool: list[Unit]) -> None:
            words, n_sent = used()
            while True:
                pick, pick_value = None, -math.inf
                for u in pool:
                    if u in chosen or words + u.words > budget:
                        continue
                    if n_sent + u.last - u.first + 1 > self.max_sentences:
                        continue
                    adj = any(_adjacent(u, c) for c in chosen)
                    if not adj and (u.score < floor or u.lexical < lex_floor):
                        continue
                    if (
                        u.passage != best.passage
                        and u.score < self.other_passage_score * best.score
                    ):
                        continue  # another page (or part of it) must nearly match the best passage
                    if not adj and points_at_figure(ps[u.passage][u.first].text):
                        continue  # "The figure below shows …" away from its passage points nowhere
                    if adj and u.score < 0.5 * floor:
                        continue
                    red = max(_jaccard(term_sets[id(u)], term_sets[id(c)]) for c in chosen)
                    if red > 0.8:
                        continue
                    value = u.score + (self.adjacency if adj else 0.0) - self.diversity * red
                    if value > pick_value:
                        pick, pick_value = u, value
                if pick is None:
                    break
                chosen.append(pick)
                words += pick.words
                n_sent += pick.last - pick.first + 1

        if steps and lead is not None:
            # the section's procedure is in: other sections only get what budget is left
            # (as another page must: nearly as relevant as the best, no fragment, and from a
            # section whose title and first sentences say the question's terms)
            floor_other = self.other_passage_score * best.score
            greedy(
                [
                    u
                    for u in pickable
                    if u not in lead.units
                    and u.score >= floor_other
                    and lead.others.get(id(u), 0.0) >= JOIN_MATCH
                    and not _fragment(ps[u.passage][u.first].text, ps[u.passage][u.last].text)
                ]
            )
            return chosen
        if lead is not None and lead.step is not None:
            # an answer built on the command the question names: other sections join only
            # when their own title or first sentences say the question's terms (as for a
            # procedure), not the commands that show, clear or debug what it made
            pickable = [
                u for u in pickable if u in lead.units or lead.others.get(id(u), 0.0) >= JOIN_MATCH
            ]
        if self.lead_first:
            # the best passage first, continued in the author's order; other passages only get
            # what budget is left
            greedy([u for u in pickable if u.passage == best.passage])
            if self.fill:
                words, n_sent = used()
                within = lead.units if lead is not None else None
                self._fill(chosen, all_units, ps, best, budget - words, n_sent, within)
            greedy([u for u in pickable if u.passage != best.passage])
            return chosen
        greedy(pickable)
        if self.fill:
            words, n_sent = used()
            self._fill(chosen, all_units, ps, best, budget - words, n_sent)
        return chosen

    def _fill(
        self,
        chosen: list[Unit],
        all_units: list[Unit],
        ps: list[list[Line]],
        best: Unit,
        room: int,
        n_sent: int,
        within: list[Unit] | None = None,
    ) -> None:
        """Continue the best passage around the best unit, favouring the text that follows,
        inside the best unit's section when the chunks' sources name it, or inside ``within``
        (headings on the way are passed over: they are not shown)."""
        section = _section(best, ps)
        row = [
            u
            for u in all_units
            if u.passage == best.passage and (not section or _section(u, ps) in ("", section))
        ]
        if within is not None:
            row = [u for u in row if u in within] or [best]
        lo = hi = next(i for i, u in enumerate(row) if u.first == best.first)
        while hi + 1 < len(row) and row[hi + 1] in chosen:
            hi += 1
        while lo > 0 and row[lo - 1] in chosen:
            lo -= 1
        while room > 0:
            options = []
            if hi + 1 < len(row):
                options.append((row[hi + 1].score + 0.05, hi + 1))
            if lo - 1 >= 0:
                options.append((row[lo - 1].score, lo - 1))
            options = [(s, i) for s, i in options if row[i] not in chosen]
            if not options:
                break
            _, i = max(options)
            u = row[i]
            shown = not (self.drop_headings and u.kind == "heading")
            if shown and (u.words > room or n_sent + u.last - u.first + 1 > self.max_sentences):
                break
            chosen.append(u)
            if shown:
                room -= u.words
                n_sent += u.last - u.first + 1
            lo, hi = min(lo, i), max(hi, i)


def _cut_list(unit: Unit, ps: list[list[Line]], budget: int, notes: list[str]) -> Unit:
    """The first items of a list too long for the budget (lead-in and first item at least)."""
    passage = ps[unit.passage]
    last, total = unit.first, words(passage[unit.first].text)
    while last + 1 <= unit.last and total + words(passage[last + 1].text) <= budget:
        last += 1
        total += words(passage[last].text)
    if last < unit.last:
        notes.append(
            f"extractive: a list was cut after {last - unit.first + 1} of "
            f"{unit.last - unit.first + 1} lines to fit the {budget}-word budget"
        )
    return Unit(unit.passage, unit.first, last, unit.kind, total, unit.score, unit.lexical)


def _fragment(first: str, last: str) -> bool:
    """Whether a unit that opens on ``first`` and ends on ``last`` cannot stand away from its
    neighbours: it continues a sentence ("to get my updated tag."), refers back ("This …"), or
    asks rather than answers ("How should I undo it?")."""
    return first[:1].islower() or dangling(first) or last.rstrip().endswith("?")


def _section(u: Unit, ps: list[list[Line]]) -> str:
    """The section heading of ``u``'s chunk, from its source ("" when unknown)."""
    source = ps[u.passage][u.first].source
    return source.section if source is not None else ""


def _unit_terms(u: Unit, ps: list[list[Line]]) -> set[str]:
    return {t for ln in ps[u.passage][u.first : u.last + 1] for t in terms(ln.text)}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _adjacent(u: Unit, c: Unit) -> bool:
    return u.passage == c.passage and (u.last + 1 == c.first or c.last + 1 == u.first)
