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

This module holds the flow (:meth:`ExtractiveGenerator.generate`); the sentence scores are
:mod:`m2io.generators.scoring`, the choice of units :mod:`m2io.generators.selection` and what a
how-to answer gets beyond its opening section :mod:`m2io.generators.howto_path`.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from m2io.embed.text import DEFAULT_TEXT_MODEL, TextEmbedder
from m2io.generators.entries import entry_lines
from m2io.generators.focus import Line, passages, question_kind, units
from m2io.generators.howto_path import tidy, with_other_parts
from m2io.generators.openers import name_the_referent, no_dangling_openers
from m2io.generators.scoring import ScoringMixin, terms
from m2io.generators.sections import howto, lead_section
from m2io.generators.selection import SelectionMixin
from m2io.types import Retrieval, Sentence, TextAnswer

__all__ = ["NOTHING_FOUND", "ExtractiveGenerator", "terms"]

NOTHING_FOUND = "extractive: no relevant passage found in the corpus"


class ExtractiveGenerator(ScoringMixin, SelectionMixin):
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
        chosen = self._select(all_units, ps, budget, notes, lead, frozenset(retrieval.continued))
        if lead is not None and chosen:
            # "… read an image file and display it?": the part the lead does not answer
            chosen = with_other_parts(question, lead, all_units, ps, chosen, budget)
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
            chosen = tidy(chosen, all_units, ps, budget)
        out: list[Line] = []
        for u in chosen:
            if self.drop_headings and u.kind == "heading" and len(chosen) > 1:
                continue
            lines = ps[u.passage][u.first : u.last + 1]
            out.extend(entry_lines(lines, question) if u.kind == "entry" else lines)
        sentences = tuple(Sentence(ln.text, ln.chunk_id, ln.source) for ln in out)
        continued = lead.continued if lead is not None else None
        if continued is not None:
            src = continued.source
            where = (src.section or src.title or src.doc_id) if src else "the source"
            notes.append(
                f"extractive: the procedure is longer than the answer: {continued.says(where)}"
            )
        return TextAnswer(question, sentences, notes=tuple(notes), continued=continued)
