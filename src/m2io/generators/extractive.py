"""The offline default text stage: a query-focused answer made of the context's own sentences.

No LLM is needed. Every sentence of the assembled context (the retrieved chunks, see
:mod:`m2io.generators.focus`) is scored by its relevance to the question: lexical (IDF-weighted
overlap of stemmed terms) and dense (cosine with the question under the text embedder), plus a
small prior for the chunk's rank. The answer's core (its best unit) comes from the retriever's
best section, which was ranked on more evidence than one sentence gives; a sentence of that
section that sits right beside one of the offered figures gets a small bonus, so the figure
keeps its anchor (see docs/design.md, The spine). Units are then picked greedily, MMR-style:
relevance, plus a
bonus for continuing a passage already chosen, minus the overlap with what is chosen (so the
answer does not say one thing twice), within a word budget that fits the question ("How do I …?"
gets room for the steps, "What is …?" a short answer). Procedural blocks — numbered or bulleted
lists, ``Name: value`` settings, commands and code — are picked whole and verbatim. The rest of
the budget continues the best passage (the author's own order, which keeps the sentences that
introduce figures). The answer never opens a passage with a sentence that only makes sense after
another ("This…", "However,…"): the sentence before it comes too, or it is left out. Output is in
document order; each sentence carries its chunk id and source.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from typing import Any

import numpy as np

from m2io.embed.text import DEFAULT_TEXT_MODEL, TextEmbedder
from m2io.generators.entries import entry_lines
from m2io.generators.focus import (
    Line,
    Unit,
    dangling,
    passages,
    points_at_figure,
    question_kind,
    units,
    words,
)
from m2io.generators.openers import (
    code_has_its_words,
    name_the_referent,
    no_dangling_openers,
    no_pointers_to_missing,
    no_reference_leftovers,
)
from m2io.generators.sections import (
    JOIN_MATCH,
    Section,
    example_for,
    howto,
    lead_section,
    other_part,
    procedure_first,
)
from m2io.text import content_terms
from m2io.types import Retrieval, Sentence, TextAnswer

log = logging.getLogger(__name__)

NOTHING_FOUND = "extractive: no relevant passage found in the corpus"

terms = content_terms  # the name this module has always exported


class ExtractiveGenerator:
    """Builds a query-focused answer from the sentences of the assembled context.

    Args:
        max_words: Word budget of a general question ("What does the guide say about …?").
        procedure_words: Budget of a "How do I …?" question; default ``max_words * 9 / 7`` (180).
        definition_words: Budget of a "What is …?" question; default ``max_words * 4 / 7`` (80).
        max_sentences: Upper bound on the number of sentences (a list item counts as one).
        rank_prior: Relevance bonus of a sentence in the best-scoring chunk (scaled by its
            chunk's retrieval score relative to the best; equal for an assembled section).
        min_relative_score: A unit away from the chosen passages is added only when it scores at
            least this fraction of the best unit.
        other_passage_score: A unit from another passage (another page, or a part of the page
            that was not retrieved next to the best one) needs at least this fraction of the
            best unit's score: an answer stays on its best passage unless another one nearly
            matches it.
        drop_headings: Leave out heading-like lines (short, no final punctuation).
        embedder: Text embedder for sentence-level dense scores: an embedder, a model name
            (loaded on first use; the default is the index's own all-MiniLM-L6-v2, so the
            question's vector is shared with the retriever), or None.
        dense_weight: Weight of the dense score against the lexical one (0..1). A sentence that
            is not embedded gets its chunk's cosine with the question (the retriever's
            ``dense_score``, free); 0 scores lexically only.
        dense_max_sentences: At most this many sentences (the lexically best) are embedded per
            answer with ``embedder``; vectors are cached by text. 0 (the default) embeds none:
            on a 2-core CPU MiniLM costs ~10 ms a sentence, which the ≤ 100 ms answer budget
            cannot pay; 16 adds ~1 ROUGE-L point on the gnucash dev set.
        diversity: Weight of the redundancy penalty (term overlap with chosen units).
        adjacency: Bonus for a unit that continues a chosen passage.
        fill: Fill the rest of the budget by continuing the best passage.
        cache_size: Sentence vectors kept (least recently used dropped first).
        lead_passage: Take the answer's best unit from the retriever's best passage (its top
            section) rather than from wherever one sentence scores best, unless that passage's
            best unit scores under ``min_relative_score`` of the best one (the retriever's top
            is then off the question); other passages join as before, when they nearly match.
        figure_bonus: Relevance added to a unit of the best passage that sits right before or
            after one of the offered images, so the answer keeps the sentence a figure belongs
            to and the inserter can put the figure back beside it (0 = none). Twice the rank
            prior: on the GIMP and GnuCash dev sets image F1 and ROUGE-L rise from 0 to 0.2 and
            level off by 0.3.
        lead_first: Build the best passage first (its relevant units, then continued in the
            author's order) and give other passages only the budget left; False picks units of
            all passages in one greedy round, as before.
        howto_sections: For a how-to question, open on the section whose title and first
            sentences say the question's action and object, and keep its procedure whole
            before its narrative (:mod:`m2io.generators.sections`); other questions are not
            touched.

    Example:
        >>> from m2io.types import Chunk, Retrieval, RetrievedChunk
        >>> text = "The Crop tool removes the borders of an image. Drag a rectangle and press Enter."
        >>> chunks = (RetrievedChunk(Chunk("crop#0", "crop", text), 1.0),)
        >>> retrieval = Retrieval("How do I crop?", chunks, ())
        >>> gen = ExtractiveGenerator(max_words=120, embedder=None)
        >>> [s.text for s in gen.generate("How do I crop?", retrieval).sentences]
        ['The Crop tool removes the borders of an image.', 'Drag a rectangle and press Enter.']
    """

    def __init__(
        self,
        *,
        max_words: int = 140,
        procedure_words: int | None = None,
        definition_words: int | None = None,
        max_sentences: int = 20,
        rank_prior: float = 0.1,
        min_relative_score: float = 0.6,
        other_passage_score: float = 0.8,
        drop_headings: bool = True,
        embedder: TextEmbedder | str | None = DEFAULT_TEXT_MODEL,
        dense_weight: float = 0.5,
        dense_max_sentences: int = 0,
        diversity: float = 0.5,
        adjacency: float = 0.15,
        fill: bool = True,
        cache_size: int = 4096,
        lead_passage: bool = True,
        figure_bonus: float = 0.2,
        lead_first: bool = True,
        howto_sections: bool = True,
    ) -> None:
        for name, value in (
            ("max_words", max_words),
            ("max_sentences", max_sentences),
            ("procedure_words", procedure_words or 1),
            ("definition_words", definition_words or 1),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        for name, value in (
            ("min_relative_score", min_relative_score),
            ("other_passage_score", other_passage_score),
            ("dense_weight", dense_weight),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if dense_max_sentences < 0 or cache_size < 0:
            raise ValueError("dense_max_sentences and cache_size must be >= 0")
        self.max_words = max_words
        self.procedure_words = procedure_words or round(max_words * 9 / 7)
        self.definition_words = definition_words or max(1, round(max_words * 4 / 7))
        self.max_sentences = max_sentences
        self.rank_prior = rank_prior
        self.min_relative_score = min_relative_score
        self.other_passage_score = other_passage_score
        self.drop_headings = drop_headings
        self.dense_weight = dense_weight
        self.dense_max_sentences = dense_max_sentences
        self.diversity = diversity
        self.adjacency = adjacency
        self.fill = fill
        self.cache_size = cache_size
        self.lead_passage = lead_passage
        self.figure_bonus = figure_bonus
        self.lead_first = lead_first
        self.howto_sections = howto_sections
        # the option as given (a name, an embedder or None), kept for the recipe
        self._embedder: Any = None if embedder in ("", "none") else embedder
        self._embedder_model: TextEmbedder | None = None
        self._embedder_error: str | None = None
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def budget(self, question: str) -> int:
        """The word budget for ``question``, by its kind (procedure, definition, general)."""
        kind = question_kind(question)
        if kind == "procedure":
            return self.procedure_words
        if kind == "definition":
            return self.definition_words
        return self.max_words

    def generate(self, question: str, retrieval: Retrieval) -> TextAnswer:
        ps = passages(retrieval) if retrieval.chunks else []
        if not ps:
            return TextAnswer(question, (), notes=(*retrieval.notes, NOTHING_FOUND))
        lines = [ln for p in ps for ln in p]
        notes: list[str] = list(retrieval.notes)
        scores, lexical = self._scores(question, lines, notes)
        offsets = np.cumsum([0] + [len(p) for p in ps])
        all_units = [u for k, p in enumerate(ps) for u in units(p, k)]
        for prev, u in zip([None, *all_units[:-1]], all_units, strict=True):
            base = int(offsets[u.passage])
            u.score = max(scores[base + u.first : base + u.last + 1])
            u.lexical = max(lexical[base + u.first : base + u.last + 1])
            if prev is not None and prev.kind == "heading" and prev.passage == u.passage:
                u.score = max(u.score, 0.8 * prev.score)  # a matching heading: its section answers
            if u.passage == 0 and any(ln.figure for ln in ps[0][u.first : u.last + 1]):
                u.score += self.figure_bonus
        budget = self.budget(question)
        lead = None
        if self.howto_sections and howto(question):
            # how-to: open on the section that says the question's action and object
            lead = lead_section(question, all_units, ps, self._core(all_units))
        chosen = self._select(all_units, ps, budget, notes, lead)
        if lead is not None and chosen:
            # "… read an image file and display it?": the part the lead does not answer
            chosen = self._other_part(question, lead, all_units, ps, chosen, budget)
            chosen = _make_room(chosen, example_for(chosen, all_units, ps), budget)
        chosen = no_dangling_openers(chosen, all_units, ps, budget)
        best_passage = chosen[0].passage if chosen else 0
        in_lead = {id(u) for u in lead.units} if lead is not None else set()
        chosen.sort(
            key=lambda u: (
                bool(in_lead) and id(u) not in in_lead,
                u.passage != best_passage,
                u.passage,
                u.first,
            )
        )
        # a heading is shown before its sentence only in a how-to answer: on the dev sets'
        # templated questions it named the figure caption above, and moved the figure after it
        chosen = name_the_referent(chosen, all_units, ps, budget, heading=lead is not None)
        if lead is not None:
            chosen = no_reference_leftovers(chosen, ps)
            chosen = no_pointers_to_missing(chosen, all_units, ps)
            chosen = code_has_its_words(chosen, all_units, ps, budget)
        out: list[Line] = []
        for u in chosen:
            if self.drop_headings and u.kind == "heading" and len(chosen) > 1:
                continue
            lines = ps[u.passage][u.first : u.last + 1]
            out.extend(entry_lines(lines, question) if u.kind == "entry" else lines)
        sentences = tuple(Sentence(ln.text, ln.chunk_id, ln.source) for ln in out)
        return TextAnswer(question, sentences, notes=tuple(notes))

    # --- scoring ------------------------------------------------------------------------------

    def _scores(
        self, question: str, lines: list[Line], notes: list[str]
    ) -> tuple[list[float], list[float]]:
        """Relevance of every sentence (lexical and dense, plus the chunk-rank prior), and its
        lexical part alone (0..1)."""
        sets = [set(terms(ln.text)) for ln in lines]
        idf = _idf(sets)
        q = set(terms(question))
        lex = [sum(idf.get(t, 0.0) for t in q & st) / math.sqrt(max(len(st), 1)) for st in sets]
        top = max(lex) or 1.0
        lexn = [x / top for x in lex]
        prior = [self.rank_prior * ln.weight for ln in lines]
        dense = self._dense(question, lines, lexn, notes)
        if dense is None:
            dense = [None] * len(lines)
        # a sentence not embedded gets its chunk's cosine with the question (the retriever's)
        dense = [d if d is not None else ln.chunk_dense for d, ln in zip(dense, lines, strict=True)]
        if all(d is None for d in dense):
            return [a + b for a, b in zip(lexn, prior, strict=True)], lexn
        w = self.dense_weight
        combined = [
            (1 - w) * a + w * max(0.0, d if d is not None else 0.0) + b
            for a, d, b in zip(lexn, dense, prior, strict=True)
        ]
        return combined, lexn

    def _dense(
        self, question: str, lines: list[Line], lexn: list[float], notes: list[str]
    ) -> list[float | None] | None:
        """Cosine of the question with the (lexically best) sentences; None without embedder."""
        if self.dense_weight == 0 or not self.dense_max_sentences:
            return None
        emb = self._get_embedder(notes)
        if emb is None:
            return None
        order = sorted(range(len(lines)), key=lambda i: (-lexn[i], lines[i].rank, i))
        picked = order[: self.dense_max_sentences]
        texts = list(dict.fromkeys(lines[i].text for i in picked))
        missing = [t for t in texts if t not in self._cache]
        if missing:
            vecs = np.asarray(emb.encode(missing, batch_size=64), dtype=np.float32)
            for t, v in zip(missing, vecs, strict=True):
                self._cache[t] = v
        for t in texts:
            self._cache.move_to_end(t)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        qv = np.asarray(emb.encode([question], batch_size=1), dtype=np.float32)[0]
        out: list[float | None] = [None] * len(lines)
        for i in picked:
            v = self._cache.get(lines[i].text)
            if v is not None:
                out[i] = max(0.0, float(v @ qv))
        return out

    def _get_embedder(self, notes: list[str]) -> TextEmbedder | None:
        if self._embedder_model is not None or self._embedder is None:
            return self._embedder_model
        if self._embedder_error is None:
            if isinstance(self._embedder, str):
                try:
                    from m2io.embed.text import load_text_embedder

                    self._embedder_model = load_text_embedder(self._embedder)
                except (ImportError, ValueError, OSError) as err:
                    self._embedder_error = str(err).splitlines()[0] if str(err) else repr(err)
                    log.warning("extractive: no dense scoring (%s)", self._embedder_error)
            else:
                self._embedder_model = self._embedder
        if self._embedder_model is None:
            notes.append(f"extractive: lexical scoring only ({self._embedder_error})")
        return self._embedder_model

    # --- choosing -----------------------------------------------------------------------------

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
    ) -> list[Unit]:
        """Greedy MMR-like choice of units within ``budget`` words (best unit first).

        With ``lead`` (a how-to question's opening section, :mod:`m2io.generators.sections`),
        the answer's core comes from that section: its procedure whole when it has one, else
        its best unit; other sections join with the budget left."""
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
                steps = procedure_first(lead, ps, all_units, budget, self.max_sentences)
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

    def _other_part(
        self,
        question: str,
        lead: Section,
        all_units: list[Unit],
        ps: list[list[Line]],
        chosen: list[Unit],
        budget: int,
    ) -> list[Unit]:
        """``chosen`` with the unit that answers the question's other part
        (:func:`m2io.generators.sections.other_part`), room made by leaving out the units
        chosen last (never the core)."""
        return _make_room(chosen, other_part(question, lead, all_units, ps), budget)

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


def _make_room(chosen: list[Unit], extra: Unit | None, budget: int) -> list[Unit]:
    """``chosen`` with ``extra`` added (at most half the budget), room made by leaving out the
    units chosen last (never the first)."""
    if extra is None or extra in chosen or extra.words > budget // 2:
        return chosen
    keep = list(chosen)
    while len(keep) > 1 and sum(u.words for u in keep) + extra.words > budget:
        keep.pop()
    if sum(u.words for u in keep) + extra.words > budget:
        return chosen
    return [*keep, extra]


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


def _idf(docs: list[set[str]]) -> dict[str, float]:
    n = len(docs)
    df: dict[str, int] = {}
    for d in docs:
        for t in d:
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1 + n / c) for t, c in df.items()}
