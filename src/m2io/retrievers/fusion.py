"""The ranked lists of :class:`~m2io.retrievers.hybrid.HybridRetriever` and their fusion.

Dense (with the figures' caption + context votes), BM25 (with pseudo-relevance feedback), BM25
over headings and the dense headings list each rank the chunk rows; :func:`rrf` fuses them, by
chunk or by section (:func:`~m2io.retrievers.headings.unit_rrf`), and pages written for
developers are demoted for a user's question (:mod:`m2io.retrievers.audience`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from m2io.index.lexical import analyse
from m2io.retrievers.audience import api_share, names_identifier
from m2io.retrievers.feedback import expansion_terms
from m2io.retrievers.headings import HeadingVectors, heading_text, heading_texts, unit_rrf
from m2io.retrievers.page_kind import (
    asks_about_changes,
    asks_for_variant,
    change_kinds,
    intro_kinds,
    is_how_to,
    variant_kinds,
)

if TYPE_CHECKING:
    from m2io.index.store import Index

FIGURE_Z = 1.0
"""A figure's caption + context lifts its chunk in the dense ranking only from this many standard
deviations above the mean of the figures read: a middling figure match says little, and letting
it count pulled a sharpening page into a small index's top hits for "How do I crop an image?"
(measured on the dev sets: top-1 page rate unchanged, top-5 within 1.3 points)."""


def rrf(
    rankings: list[list[int]], rrf_k: int, weights: list[float] | None = None
) -> dict[int, float]:
    """Reciprocal rank fusion of ranked id lists (best first) -> ``{id: fused score}``; each
    list's terms are multiplied by its weight (default 1)."""
    fused: dict[int, float] = {}
    for n, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[n]
        for rank, i in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + w / (rrf_k + rank)
    return fused


def _order(fused: dict[int, float], rankings: list[list[int]]) -> list[int]:
    """Ids by fused score; ties go to the better single-list rank, then the lower id."""
    best = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking):
            best[i] = min(best.get(i, rank), rank)
    return sorted(fused, key=lambda i: (-fused[i], best[i], i))


def _standardised(scores: dict[int, float]) -> dict[int, float]:
    """``scores`` as z-scores over their own values (unchanged spread when they are all equal)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64)
    mean, std = float(values.mean()), float(values.std())
    return {k: (v - mean) / (std if std > 1e-9 else 1.0) for k, v in scores.items()}


class RankingMixin:
    """The ranked lists and their fusion, for :class:`~m2io.retrievers.hybrid.HybridRetriever`
    (which holds the options read here)."""

    index: Index

    def _rankings(
        self, qvec: np.ndarray | None, words: str, depth: int
    ) -> tuple[list[list[int]], list[float] | None, np.ndarray | None]:
        """The ranked lists (dense, BM25, headings) and their RRF weights, and BM25's scores."""
        index = self.index
        rankings: list[list[int]] = []
        if self.mode != "lexical":
            rankings.append(self._dense_ranking(qvec, depth))
        lexical = index.lexical.scores(words) if self.mode != "dense" else None
        if lexical is not None:
            top = np.argsort(-lexical, kind="stable")[:depth]
            rankings.append([int(r) for r in top if lexical[r] > 0 and r not in self.excluded_rows])
        weights = [self.dense_weight, 1.0] if len(rankings) == 2 else None  # dense, BM25
        if weights and self.title_weight > 0:
            titled = self._title_ranking(words, depth)
            if titled:
                rankings.append(titled)
                weights.append(self.title_weight)
        if weights and self.heading_weight > 0 and self._titled:
            headed = self._heading_vectors.ranking(qvec, depth, self.excluded_rows)
            if headed:
                rankings.append(headed)
                weights.append(self.heading_weight)
        return rankings, weights, lexical

    def _fuse(
        self,
        rankings: list[list[int]],
        weights: list[float] | None,
        prior: Callable[[int], float] | None = None,
    ) -> tuple[dict[int, float], list[int], bool]:
        """Fused scores, the chunk order, and whether sections were fused as units; ``prior``
        (a row's divisor, :meth:`_prior`) divides each fused score."""
        fused = chunk_fused = rrf(rankings, self.rrf_k, weights)
        by_section = self.fuse_sections and len(rankings) > 1 and self._titled
        if by_section:  # sections ranked as units; a chunk follows its section
            units = unit_rrf(rankings, self.rrf_k, weights, self._section_of, self.agreement_top)
            fused = {r: units[self._section_of(r)] for r in fused}
        if prior is not None:
            fused = {r: f / prior(r) for r, f in fused.items()}
        if by_section:
            order = sorted(fused, key=lambda r: (-fused[r], -chunk_fused[r], r))
        elif prior is not None:
            best = {}
            for ranking in rankings:
                for rank, i in enumerate(ranking):
                    best[i] = min(best.get(i, rank), rank)
            order = sorted(fused, key=lambda r: (-fused[r], best[r], r))
        else:
            order = _order(fused, rankings)
        return fused, order, by_section

    def _prior(self, question: str) -> Callable[[int], float] | None:
        """What divides a row's fused score for ``question``, from the kind of its page (None:
        nothing). Only where most chunks carry a title. Each kind divides by ``1 + weight *
        kind``: an API page (:mod:`m2io.retrievers.audience`, ``audience_weight``) when the
        question names no identifier; a list of changes or a history
        (:func:`~m2io.retrievers.page_kind.change_kinds`, ``changes_weight``) when it does not
        ask about versions; for a how-to question, an introduction (``intro_weight``) and,
        when it names no identifier, command line or script, a section whose heading names
        that other way (``variant_weight``; :mod:`m2io.retrievers.page_kind`)."""
        if not self._titled:
            return None
        identifier, how_to = names_identifier(question), is_how_to(question)
        api = self._api_share if self.audience_weight > 0 and not identifier else None
        kinds: list[tuple[dict, float]] = []  # by section
        if self.changes_weight > 0 and not asks_about_changes(question):
            kinds.append((self._change_kinds, self.changes_weight))
        if self.intro_weight > 0 and how_to:
            kinds.append((self._intro_kinds, self.intro_weight))
        if self.variant_weight > 0 and how_to and not identifier and not asks_for_variant(question):
            kinds.append((self._variant_kinds, self.variant_weight))
        if api is None and not kinds:
            return None
        units = self._page_parts[2]  # no chunk row is read per question

        def divisor(row: int) -> float:
            unit = units[row]
            d = 1 + self.audience_weight * api.get(unit[0], 0.0) if api else 1.0
            for kind, weight in kinds:
                d *= 1 + weight * kind.get(unit, 0.0)
            return d

        return divisor

    @cached_property
    def _page_parts(
        self,
    ) -> tuple[dict[str, list[str]], dict[tuple, list[str]], list[tuple[str, tuple[int, int]]]]:
        """One pass over the chunks, on first use: each document's texts, each section's
        headings (its chunks' titles and section headings, each once), and each row's section
        (:meth:`_section_of`)."""
        texts: dict[str, list[str]] = {}
        heads: dict[tuple, list[str]] = {}
        units: list[tuple[str, tuple[int, int]]] = []
        sections = self.index.chunk_sections
        for row, chunk in enumerate(self.index.chunks):
            texts.setdefault(chunk.doc_id, []).append(chunk.text)
            units.append((chunk.doc_id, sections[row]))
            section = heads.setdefault(units[-1], [])
            section += [chunk.title, chunk.source.section if chunk.source else ""]
        headings = {u: list(dict.fromkeys(h for h in hs if h)) for u, hs in heads.items()}
        return texts, headings, units

    @cached_property
    def _change_kinds(self) -> dict:
        """Each section's change kind (:func:`page_kind.change_kinds`), on first use."""
        pages, headings, _ = self._page_parts
        return change_kinds(headings, {unit: pages[unit[0]] for unit in headings})

    @cached_property
    def _intro_kinds(self) -> dict:
        return intro_kinds(self._page_parts[1])

    @cached_property
    def _variant_kinds(self) -> dict:
        return variant_kinds(self._page_parts[1])

    @cached_property
    def _api_share(self) -> dict[str, float]:
        """Each document's share of API declaration lines (:func:`audience.api_share`)."""
        return {doc_id: api_share(t) for doc_id, t in self._page_parts[0].items()}

    def _feedback(self, words: str, order: list[int], lexical: np.ndarray) -> np.ndarray | None:
        """BM25 scores with pseudo-relevance feedback from the best chunks of the first pass's
        ``prf_docs`` best sections (:mod:`m2io.retrievers.feedback`), or None when off."""
        scorer = getattr(self.index.lexical, "weighted_scores", None)
        doc_freq = getattr(self.index.lexical, "doc_freq", None)
        if not (self.prf_docs and self.prf_weight > 0 and scorer and doc_freq):
            return None
        tops: list[int] = []
        seen: set[tuple[str, tuple[int, int]]] = set()
        for r in self._drop_copies(order):
            key = self._section_of(r)
            if key not in seen:
                seen.add(key)
                tops.append(r)
            if len(tops) == self.prf_docs:
                break
        terms = expansion_terms(
            [f"{self.index.chunks[r].title} {self.index.chunks[r].text}" for r in tops],
            query=set(analyse(words)),
            df=doc_freq,
            n_docs=len(self.index.chunks),
            n_terms=self.prf_terms,
        )
        return lexical + self.prf_weight * scorer(terms) if terms else None

    def _dense_ranking(self, qvec: np.ndarray, depth: int) -> list[int]:
        """Chunk rows by dense similarity, best first, left-out rows skipped.

        With ``image_votes`` a chunk is also represented by its images' caption + context
        vectors (decorative images do not count): its score is the better of its own and its
        best image's. The two kinds of vector sit on different cosine scales (a caption is
        short), so each list's cosines are standardised over the rows read (z-scores) before
        the two are compared; a figure counts only when it clearly matches (``FIGURE_Z``). A
        page whose figure title names the question's topic then ranks with it although its prose
        words it differently; a chunk gains nothing merely for having an image.
        """
        # as deep as _neighbours will read, so it reuses this search (one per question)
        img_depth = max(depth, self._neighbour_depth(self.max_candidates))
        if self.image_votes:  # both searches at once (one round trip on a Milvus server)
            self.index.prefetch(qvec, depth, img_depth)
        scores, rows = self.index.search_chunks(qvec, depth)
        own = {int(r): float(s) for s, r in zip(scores, rows, strict=True) if r >= 0}
        best = _standardised(own)
        if self.image_votes:
            img_scores, img_rows = (a[:depth] for a in self.index.search_images(qvec, img_depth))
            images: dict[int, float] = {}
            for s, img_row in zip(img_scores, img_rows, strict=True):
                img_row = int(img_row)
                if img_row < 0 or img_row in self.index.decorative:
                    continue
                row = self._image_chunk.get(img_row)
                if row is not None and row not in images:
                    images[row] = float(s)
            for row, z in _standardised(images).items():
                if z >= FIGURE_Z and z > best.get(row, -np.inf):
                    best[row] = z
        ranked = sorted(best, key=lambda r: (-best[r], r))
        return [r for r in ranked if r not in self.excluded_rows]

    @cached_property
    def _titled(self) -> bool:
        """Whether most chunks carry a title: documents with headings (pages and sections of a
        manual), where the headings list and compound spellings are used. The untitled MRAMG
        dev documents are fragments of pages; there headers guessed from their text lines cost
        GIMP 3.6 image F1 and compound spellings 0.2 (docs/RESULTS.md)."""
        chunks = self.index.chunks
        titled = getattr(self.index, "titled_chunks", None)  # counted at open: no row read
        if titled is None:
            titled = sum(1 for c in chunks if c.title)
        return 2 * titled >= len(chunks) > 0

    def _title_ranking(self, words: str, depth: int) -> list[int]:
        """Chunk rows whose headings share words with the query, by BM25 over headings alone."""
        if not hasattr(self, "_titles"):  # built on first use: one short text per chunk
            from m2io.index.lexical import LexicalIndex

            heads = [heading_text(c) for c in self.index.chunks] if self._titled else []
            self._titles = LexicalIndex.build(heads) if any(heads) else None
        if self._titles is None:
            return []
        scores = self._titles.scores(words)
        top = np.argsort(-scores, kind="stable")[:depth]
        return [int(r) for r in top if scores[r] > 0 and r not in self.excluded_rows]

    def prepare(self) -> None:
        """Compute now what the first question would otherwise wait for: on a titled index,
        the heading paths' vectors (embedded once and kept in the index folder, so a later
        process reads them) and the BM25 over headings. ``m2io index`` calls it after a build
        and the server before it answers (and after an upload)."""
        if self.mode == "lexical" or not self._titled:
            return
        if self.heading_weight > 0:
            self._heading_vectors  # noqa: B018 - the cached property computes and keeps them
        if self.title_weight > 0:
            self._title_ranking("", 1)

    @cached_property
    def _heading_vectors(self) -> HeadingVectors:
        """The chunks' heading paths embedded by the index's text embedder (on first use; kept
        in the index folder)."""
        chunks = self.index.chunks
        heads: list[str] | list[list[str]] = (
            [heading_texts(c) for c in chunks]
            if self.heading_sections
            else [heading_text(c) for c in chunks]
        )
        index = self.index
        return HeadingVectors(
            heads,
            lambda texts: index.embedder.encode(texts),
            cache=getattr(index, "folder", None),
            model=str(index.manifest.embedder),
        )
