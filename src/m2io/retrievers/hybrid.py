"""Hybrid retriever: dense (embedding) + lexical (BM25) search fused by reciprocal rank fusion.

Each ranked list contributes ``1 / (rrf_k + rank)`` (rank 1-based) to a chunk's fused score:

    fused(c) = sum over lists L holding c of 1 / (rrf_k + rank_L(c))

so a chunk ranked 1st by both lists scores ``2 / (rrf_k + 1)``; ``rrf_k`` (60, as in Cormack et al.
2009) damps the gap between the top ranks. RRF needs no score calibration between cosine and BM25.
In ``"dense"`` or ``"lexical"`` mode there is one list, so scores stay on the same scale.

**Headings and sections** (documents with titles only). A third list ranks chunks by the
question's cosine with their heading path (``heading_weight``), and the lists are fused by
section (``fuse_sections``): in each list a section takes the rank of its best chunk among the
distinct sections, so a section that all three lists rank near the top beats a chunk that two
of them rank fairly high, and a section's many chunks take one rank, not many
(:mod:`m2io.retrievers.headings`). Every chunk of a section then carries its section's fused
score, and the section's best chunk seeds the context.

**Section expansion** (``expand=True``, the default). Ranked chunks seed the answer's context: the
best chunk's section (the chunks between its heading and the next, or the whole document when
that is short) is taken around it, nearest chunks first, up to ``context_words`` words; the next
best chunks of other sections follow while their fused score is within ``section_ratio`` of the
best and words are left. ``Retrieval.chunks`` is that context, section by section, each in
document order; a neighbour carries its section's score. So a procedure and its screenshots
come back together even when only one of its chunks matched the words of the question. With
``expand=False`` the ``top_k`` ranked chunks are returned as they are.

Candidate images are the images of the returned chunks, in that order, each image id once (its
first chunk wins), scored with its chunk's score; images the index flagged decorative (icons,
images repeated on many pages) are never offered. Optionally the ``image_neighbours`` images
nearest to the question by caption + context vector (fused by RRF with the pixel ranking when
``use_pixels``) are appended, scored ``1 / (rrf_k + rank)`` likewise.

**Near-duplicates.** Chunks of documents the index recorded as aggregates (a page repeating many
others) and of pages that list other pages' figures (:mod:`m2io.retrievers.figure_lists`) are
left out of the rankings, and a near-copy of a document already ranked above it is skipped, so
the originals are not crowded out (``skip_duplicates=False`` keeps them).

**The question's topic.** Dense and lexical search see the question without a leading wrapper
about the documentation (:func:`m2io.retrievers.query.search_text`: "What does the X
documentation say about …?"). With ``image_votes`` (the default) a chunk's dense score is the
better of its own text vector's and its figures' caption + context vectors', each standardised
over the rows read, so a page whose figure title names the topic ranks with it.

**Feedback and audience** (hybrid mode). A second BM25 search adds the words that weigh most in
the first pass's best sections (:mod:`m2io.retrievers.feedback`; a chunk's ``lexical_score``
then includes them), and, where most chunks carry a title, an API reference page (C prototypes,
class signatures) ranks below user pages for a question that names no identifier
(:mod:`m2io.retrievers.audience`).

**Nothing relevant.** A question with no searchable word (punctuation only) is refused without
searching. Otherwise the best dense cosine among the ranked chunks decides: at or above
``min_score`` the question is answered; below half of it, refused; in between, only if the top
passages share informative words with it. A refusal returns no chunks and no candidates and says
why in ``Retrieval.notes``. The default, :data:`CALIBRATED_FLOOR`, holds for the default embedder
(see ``benchmarks/floor_decisions.py``); with another embedder the default is no floor.

Example::

    retriever = HybridRetriever("gimp.index", top_k=5)
    r = retriever.retrieve("How do I crop an image?")
    r.chunks[0].chunk.title, [c.image_id for c in r.candidates][:3]
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from dataclasses import replace
from functools import cached_property
from typing import Literal

import numpy as np

from m2io.embed.text import DEFAULT_TEXT_MODEL, TextEmbedder, load_text_embedder
from m2io.index.lexical import analyse
from m2io.index.store import Index
from m2io.retrievers.audience import api_share, names_identifier
from m2io.retrievers.feedback import expansion_terms
from m2io.retrievers.figure_lists import figure_lists
from m2io.retrievers.headings import HeadingVectors, heading_text, unit_rrf
from m2io.retrievers.language import LanguageFilter
from m2io.retrievers.query import compound_variants, search_text
from m2io.text import content_terms, tokenize
from m2io.types import Candidate, Retrieval, RetrievedChunk

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "lexical"]
MODES = ("hybrid", "dense", "lexical")

CALIBRATED_FLOOR = 0.45
"""Best dense cosine among the ranked chunks at which a question is answered without further
evidence, for :data:`~m2io.embed.text.DEFAULT_TEXT_MODEL`. Between ``LEXICAL_FLOOR_SHARE`` × this
(0.225) and this, the best passages must also share words with the question (see
``HybridRetriever._off_topic``); below, the question is refused. Checked with
``benchmarks/floor_decisions.py`` (``results/floor_decisions.json``): every question of the GIMP
(584) and GnuCash (65) dev sets and every natural how-to question written for GnuCash and the
demo corpus is answered; of 35 unrelated queries, 31 (GIMP), 34 (GnuCash) and 34 (demo) are
refused. The single floor it replaces (0.31 on the top fused chunk, from
``benchmarks/calibrate_floor.py``) refused natural questions whose wording differs from the text
("my scanned page has a shadow…", 0.29) or whose top fused chunk was a lexical match ("How can I
make the background transparent?" on the GIMP manual, 0.27 there, 0.68 for the best chunk)."""
LEXICAL_FLOOR_SHARE = 0.5
"""Below this share of the floor no word overlap saves a question."""
COMMON_SHARE = 0.1
"""A word found in more than this share of the chunks ("image" in an image-processing guide) says
nothing about whether a question is on topic."""
WORD_CHECK_CHUNKS = 3
"""How many of the top ranked chunks the word check reads."""
NOTHING = "nothing relevant found"
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


class HybridRetriever:
    """Retrieves chunks by dense + BM25 search, assembles the best sections around them and
    offers the images that sit in them.

    Args:
        index: An open :class:`~m2io.index.Index` or the folder of one.
        top_k: Ranked chunks returned per query without expansion (overridable per call); with
            it, ranked chunks considered as seeds of sections (at least ``max_sections``).
        mode: ``"hybrid"`` (RRF of both), ``"dense"`` or ``"lexical"``.
        rrf_k: RRF damping constant (> 0).
        dense_weight: Weight of the dense ranking's RRF terms (BM25's is 1). Word overlap alone
            lets a chunk that repeats the question's common words ("compare", "files") outrank
            the one that means it; 1.5 raised image F1 and ROUGE-L on both dev manuals
            (GnuCash visual recall 74.4 -> 77.4), and 2 lowered GIMP's ROUGE-L
            (docs/RESULTS.md).
        max_candidates: Most images offered from the returned chunks.
        image_neighbours: Extra images nearest to the question by image vector (0 = none). A
            section's figures sometimes sit in a sibling page that text search ranks low; two
            such images raised visual recall from 83 to 90 (GIMP) and 70 to 74 (GnuCash) at
            about the same image F1 (docs/RESULTS.md).
        pool_size: How deep each list is read before fusing (at least ``top_k``).
        use_pixels: Also rank images by pixel vector through the index's image embedder (needs
            an index built with one); only used for ``image_neighbours``.
        embedder: Query embedder when ``index`` is a folder (default: the manifest's model), or
            the name of one (:func:`~m2io.embed.text.load_text_embedder`).
        expand: Assemble the context from the best sections (see the module docstring);
            False returns the ``top_k`` ranked chunks.
        context_words: Word budget of the assembled context. 1400 (700 per section) offers the
            figures of more of the sections that match; against 800, visual recall rose from
            89.5 to 92.0 (GIMP) and 77.4 to 80.8 (GnuCash), image F1 and ordering rose on both,
            and ROUGE-L held (docs/RESULTS.md). The generator's length budget is its own.
        section_ratio: A further section joins the context while its best chunk's fused score is
            at least this share of the best chunk's (0 = any of the ``top_k`` while words are
            left; 1 = only the best section).
        max_sections: Most sections in the context.
        section_words: Most words taken from one section (None: half of ``context_words``), so
            one long section leaves room for the next best ones.
        min_score: Floor on the best chunk's dense cosine below which nothing is returned
            (dense and hybrid modes). None: :data:`CALIBRATED_FLOOR` when the index uses the
            default embedder, else 0 (no floor).
        skip_duplicates: Leave aggregate pages and lists of figures out and skip near-copies of
            ranked documents.
        focus: Search the question's topic without a wrapper about the documentation.
        image_votes: Also score a chunk by its figures' caption + context vectors (dense and
            hybrid modes).
        compounds: BM25 also searches the corpus's spelling of the question's compounds
            (:func:`~m2io.retrievers.query.compound_variants`: "key frames" for "keyframes");
            only where most chunks carry a title, like ``title_weight``.
        title_weight: Weight of a further RRF list, BM25 over the chunks' headings alone (page
            title, section heading, chunk title; hybrid mode; 0 = off, the default). Only used
            when most chunks carry a title. Off since the dense headings list replaced it: with
            sections fused as units it lost 2 top pages of 40 on held-out manuals
            (docs/RESULTS.md).
        heading_weight: Weight of the dense headings list: chunks ranked by the cosine of
            their heading path (:func:`~m2io.retrievers.headings.heading_text`) with the
            question, as a reader reads a table of contents, so a section *about* the question
            ranks above one that mentions its words (hybrid mode; 0 = off). The distinct heading
            paths are embedded on first use. Only used when most chunks carry a title; an
            untitled corpus keeps the two lists.
        fuse_sections: Fuse the lists by section, not by chunk
            (:func:`~m2io.retrievers.headings.unit_rrf`): each list ranks a section by its best
            chunk, the sections are ordered by their fused score, and a chunk follows its
            section (the section's best chunk seeds the context). With the headings list,
            top-page hit@1 rose from 27 to 31 of 40 on four held-out manuals and 17 to 18 of 20
            on the tuning ones (docs/RESULTS.md). Only where most chunks carry a title: on the
            untitled GnuCash dev set it cost 2.7 image F1.
        prf_docs: Pseudo-relevance feedback (:mod:`m2io.retrievers.feedback`; hybrid mode; 0 =
            off): the best chunks of the first pass's ``prf_docs`` best sections lend their
            ``prf_terms`` weightiest words to a second BM25 search, weighted ``prf_weight``
            against the question's own (their weights sum to 1). Octave's "turn off a warning"
            then also searches "disable"; with 5 / 10 / 0.3 hit@1 rose 9 -> 10 of 10 on Octave,
            held on the held-out and tuning manuals, GnuCash ROUGE-L rose 51.2 -> 53.4 and GIMP
            held (docs/RESULTS.md).
        prf_terms: How many words the feedback adds.
        prf_weight: Weight of the added words' BM25 scores (0 = no feedback).
        audience_weight: Pages written for developers (:func:`~m2io.retrievers.audience.
            api_share`: the share of a page's lines that are C prototypes, API fields, struct
            and class signatures, over the whole page) have their fused score divided by
            ``1 + audience_weight * share`` when the question names no program identifier, so a
            user's "How do I put a message in the SMS daemon's queue?" reaches the command's
            page before the C function that enqueues one (0 = off). Only where most chunks carry
            a title: on the untitled GIMP dev set it cost 0.3 image F1.

    Example::

        r = HybridRetriever("gimp.index", mode="hybrid").retrieve("crop an image")
        [(c.chunk.chunk_id, round(c.score, 4)) for c in r.chunks]
    """

    def __init__(
        self,
        index: Index | str | os.PathLike[str],
        *,
        top_k: int = 5,
        mode: Mode = "hybrid",
        rrf_k: int = 60,
        dense_weight: float = 1.5,
        max_candidates: int = 16,
        image_neighbours: int = 2,
        pool_size: int = 50,
        use_pixels: bool = False,
        embedder: TextEmbedder | str | None = None,
        expand: bool = True,
        context_words: int = 1400,
        section_ratio: float = 0.0,
        max_sections: int = 8,
        section_words: int | None = None,
        min_score: float | None = None,
        skip_duplicates: bool = True,
        focus: bool = True,
        image_votes: bool = True,
        title_weight: float = 0.0,
        compounds: bool = True,
        heading_weight: float = 1.0,
        fuse_sections: bool = True,
        prf_docs: int = 5,
        prf_terms: int = 10,
        prf_weight: float = 0.3,
        audience_weight: float = 3.0,
    ) -> None:
        _check_int("top_k", top_k, 1)
        _check_int("rrf_k", rrf_k, 1)
        if isinstance(dense_weight, bool) or not isinstance(dense_weight, int | float):
            raise ValueError(f"dense_weight must be a number; got {dense_weight!r}")
        if not 0 < dense_weight < float("inf"):
            raise ValueError(f"dense_weight must be > 0; got {dense_weight!r}")
        _check_int("max_candidates", max_candidates, 0)
        _check_int("image_neighbours", image_neighbours, 0)
        _check_int("pool_size", pool_size, 1)
        _check_int("context_words", context_words, 1)
        _check_int("max_sections", max_sections, 1)
        if section_words is not None:
            _check_int("section_words", section_words, 1)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if not isinstance(section_ratio, int | float) or not 0 <= section_ratio <= 1:
            raise ValueError(f"section_ratio must be a number in [0, 1]; got {section_ratio!r}")
        if min_score is not None and (
            isinstance(min_score, bool) or not isinstance(min_score, int | float)
        ):
            raise ValueError(f"min_score must be a number or None; got {min_score!r}")
        # kept as given (an open index: the embedder it was opened with) for the recipe
        # (Pipeline.to_config); the index is recorded as its folder
        self._embedder = embedder
        if not isinstance(index, Index):
            if isinstance(embedder, str):
                embedder = load_text_embedder(embedder)
            index = Index.open(index, embedder=embedder)
        elif embedder is not None:
            raise ValueError("pass embedder to Index.open, not with an already open index")
        else:
            self._embedder = vars(index).get("embedder")
        if use_pixels and not index.has_pixels:
            raise ValueError(
                f"use_pixels=True needs an index built with an image embedder; {index.folder} "
                "has none"
            )
        self.index = index
        self.top_k = top_k
        self.mode: Mode = mode
        self.rrf_k = rrf_k
        self.dense_weight = float(dense_weight)
        self.max_candidates = max_candidates
        self.image_neighbours = image_neighbours
        self.pool_size = pool_size
        self.use_pixels = use_pixels
        self.expand = expand
        self.context_words = context_words
        self.section_ratio = float(section_ratio)
        self.max_sections = max_sections
        self.section_words = section_words if section_words is not None else context_words // 2
        if min_score is None:
            default = index.manifest.embedder == DEFAULT_TEXT_MODEL
            min_score = CALIBRATED_FLOOR if default else 0.0
        self.min_score = float(min_score)
        self.skip_duplicates = skip_duplicates
        self.focus = focus
        self.image_votes = image_votes
        self.compounds = compounds
        self.title_weight = _weight("title_weight", title_weight)
        self.heading_weight = _weight("heading_weight", heading_weight)
        self.fuse_sections = bool(fuse_sections)
        _check_int("prf_docs", prf_docs, 0)
        _check_int("prf_terms", prf_terms, 1)
        self.prf_docs = prf_docs
        self.prf_terms = prf_terms
        self.prf_weight = _weight("prf_weight", prf_weight)
        self.audience_weight = _weight("audience_weight", audience_weight)
        owner: dict[int, int] = {}
        for row, img_rows in enumerate(index.chunk_image_rows):
            for img_row in img_rows:
                owner.setdefault(img_row, row)
        self._image_chunk = owner
        dupes = index.near_duplicates if skip_duplicates else {}
        left_out = {doc_id for doc_id, info in dupes.items() if info["kind"] == "aggregate"}
        self.figure_lists = figure_lists(index) if skip_duplicates else set()
        if self.figure_lists:
            log.info(
                "leaving out %d page(s) that list other pages' figures: %s",
                len(self.figure_lists),
                ", ".join(sorted(self.figure_lists)[:5]),
            )
        self.excluded_rows = frozenset(
            row for doc_id in left_out | self.figure_lists for row in index.doc_rows.get(doc_id, [])
        )
        self._copy_of = {
            doc_id: set(info["of"]) for doc_id, info in dupes.items() if info["kind"] == "duplicate"
        }

    @property
    def image_root(self) -> str | None:
        """The index's corpus root, the folder every image it offers must lie in (None if unknown).

        Renderers embed no local file outside it; see :class:`~m2io.types.MultimodalAnswer`.
        """
        root = getattr(self.index, "corpus_root", None)
        return None if root is None else str(root)

    @property
    def added_root(self) -> str | None:
        """The index's folder of documents added after the build (None if none were added)."""
        root = getattr(self.index, "added_root", None)
        return None if root is None else str(root)

    def retrieve(self, query: str, top_k: int | None = None) -> Retrieval:
        """Return the context for ``query`` (see the class docstring) and its images."""
        k = self.top_k if top_k is None else top_k
        _check_int("top_k", k, 1)
        if not query.strip():
            return Retrieval(query=query, chunks=(), candidates=())
        if not tokenize(query):
            return _refused(query, "the question has no words to search for")
        index = self.index
        search = search_text(query) if self.focus else query
        depth = min(max(self.pool_size, k) + len(self.excluded_rows), len(index.chunks))
        qvec = (
            index.embed_query(search) if self.mode != "lexical" or self.image_neighbours else None
        )

        knows = getattr(index.lexical, "knows", None) if self.compounds and self._titled else None
        words = compound_variants(search, knows) if knows else search
        rankings, weights, lexical = self._rankings(qvec, words, depth)
        demote = self.audience_weight > 0 and self._titled and not names_identifier(query)
        fused, order, by_section = self._fuse(rankings, weights, demote)
        fed = self._feedback(words, order, lexical) if weights and lexical is not None else None
        if fed is not None:  # the BM25 list again, the others as they were
            lexical = fed
            top = np.argsort(-lexical, kind="stable")[:depth]
            rankings[1] = [int(r) for r in top if lexical[r] > 0 and r not in self.excluded_rows]
            fused, order, by_section = self._fuse(rankings, weights, demote)
        # expansion may seed up to max_sections sections from the ranking
        seeds = max(k, self.max_sections) if self.expand else k
        if not hasattr(self, "_language"):  # the index's languages, counted on first use
            self._language = LanguageFilter(index.chunks, getattr(index, "chunk_languages", None))
        ordered, language_note = self._language(query, self._drop_copies(order))
        if by_section and self.expand:  # a section's best chunk seeds it; its others add nothing
            firsts = {}
            for r in ordered:
                firsts.setdefault(self._section_of(r), r)
            ordered = list(firsts.values())
        rows = ordered[:seeds]
        if not rows:
            return _refused(query, "no passage shares a word with the question", language_note)
        dense = index.chunk_similarity(qvec, rows) if self.mode != "lexical" else None
        if dense is not None and self.min_score > 0:
            # The floor was calibrated on whole questions: the better of the question's and its
            # topic's similarity counts, and the question's own words.
            floor_dense = dense
            if search != query and float(dense.max()) < self.min_score:
                whole = index.chunk_similarity(index.embed_query(query), rows)
                floor_dense = np.maximum(dense, whole)
            why = self._off_topic(query, rows, floor_dense)
            if why:
                return _refused(query, why, language_note)
        scores = {r: fused[r] for r in rows}
        if self.expand:
            rows, scores = self._assemble(rows, fused)
            dense = index.chunk_similarity(qvec, rows) if self.mode != "lexical" else None
        chunks = tuple(
            RetrievedChunk(
                chunk=index.chunks[r],
                score=scores[r],
                dense_score=float(dense[i]) if dense is not None else None,
                lexical_score=float(lexical[r]) if lexical is not None else None,
            )
            for i, r in enumerate(rows)
        )
        candidates = self._chunk_candidates(chunks, rows)
        if self.image_neighbours:
            candidates += self._neighbours(query, qvec, {c.image_id for c in candidates})
        notes = (language_note,) if language_note else ()
        return Retrieval(query=query, chunks=chunks, candidates=tuple(candidates), notes=notes)

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
        self, rankings: list[list[int]], weights: list[float] | None, demote: bool = False
    ) -> tuple[dict[int, float], list[int], bool]:
        """Fused scores, the chunk order, and whether sections were fused as units."""
        fused = chunk_fused = rrf(rankings, self.rrf_k, weights)
        by_section = self.fuse_sections and len(rankings) > 1 and self._titled
        if by_section:  # sections ranked as units; a chunk follows its section
            units = unit_rrf(rankings, self.rrf_k, weights, self._section_of)
            fused = {r: units[self._section_of(r)] for r in fused}
        if demote:
            share = self._api_share
            fused = {
                r: f / (1 + self.audience_weight * share.get(self.index.chunks[r].doc_id, 0.0))
                for r, f in fused.items()
            }
        if by_section:
            order = sorted(fused, key=lambda r: (-fused[r], -chunk_fused[r], r))
        elif demote:
            best = {}
            for ranking in rankings:
                for rank, i in enumerate(ranking):
                    best[i] = min(best.get(i, rank), rank)
            order = sorted(fused, key=lambda r: (-fused[r], best[r], r))
        else:
            order = _order(fused, rankings)
        return fused, order, by_section

    @cached_property
    def _api_share(self) -> dict[str, float]:
        """Each document's share of API declaration lines (:func:`audience.api_share`)."""
        texts: dict[str, list[str]] = {}
        for chunk in self.index.chunks:
            texts.setdefault(chunk.doc_id, []).append(chunk.text)
        return {doc_id: api_share(t) for doc_id, t in texts.items()}

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

    @cached_property
    def _heading_vectors(self) -> HeadingVectors:
        """The chunks' heading paths embedded by the index's text embedder (on first use; kept
        in the index folder)."""
        heads = [heading_text(c) for c in self.index.chunks]
        index = self.index
        return HeadingVectors(
            heads,
            lambda texts: index.embedder.encode(texts),
            cache=getattr(index, "folder", None),
            model=str(index.manifest.embedder),
        )

    def _section_of(self, row: int) -> tuple[str, tuple[int, int]]:
        """The section a chunk row belongs to: its document and section span."""
        return self.index.chunks[row].doc_id, self.index.chunk_sections[row]

    def _drop_copies(self, ordered: list[int]) -> list[int]:
        """``ordered`` without chunks of near-copies of documents ranked above them."""
        if not self._copy_of:
            return ordered
        seen: set[str] = set()
        out = []
        for row in ordered:
            doc_id = self.index.chunks[row].doc_id
            if self._copy_of.get(doc_id, set()) & seen:
                continue
            seen.add(doc_id)
            out.append(row)
        return out

    def _words(self, row: int) -> int:
        words = getattr(self.index, "chunk_words", None)  # counted at open: no row read
        return int(words[row]) if words is not None else len(self.index.chunks[row].text.split())

    def _section_rows(self, row: int) -> list[int]:
        """The chunk rows of ``row``'s section, in document order (the whole document when it
        fits in ``section_words``)."""
        index = self.index
        doc_rows = index.doc_rows[index.chunks[row].doc_id]
        if sum(self._words(r) for r in doc_rows) <= self.section_words:
            return list(doc_rows)
        span = index.chunk_sections[row]
        return [r for r in doc_rows if index.chunk_sections[r] == span]

    def _assemble(
        self, ranked: list[int], fused: dict[int, float]
    ) -> tuple[list[int], dict[int, float]]:
        """The context: sections around the best ranked chunks, within the word budget."""
        budget = self.context_words
        taken: set[int] = set()
        out: list[int] = []
        scores: dict[int, float] = {}
        best = fused[ranked[0]]
        sections = 0
        seeded: set[tuple[str, tuple[int, int]]] = set()
        for seed in ranked:
            key = (self.index.chunks[seed].doc_id, self.index.chunk_sections[seed])
            if seed in taken or key in seeded:
                continue
            if sections and (fused[seed] < self.section_ratio * best or budget <= 0):
                break
            if sections == self.max_sections:
                break
            rows = self._section_rows(seed)
            if seed not in rows:
                rows = [seed]
            at = rows.index(seed)
            # nearest first: the seed, then alternately the chunk after and before it
            order = [seed]
            for d in range(1, len(rows)):
                order += [rows[i] for i in (at + d, at - d) if 0 <= i < len(rows)]
            seed_words = self._words(seed)
            if sections and seed_words > budget:
                break
            picked: list[int] = []
            room = min(budget, max(self.section_words, seed_words))
            for r in order:
                if r in taken:
                    continue
                words = self._words(r)
                if picked and words > room:
                    break
                picked.append(r)
                room -= words
                budget -= words
            seeded.add(key)
            sections += 1
            taken.update(picked)
            for r in sorted(picked, key=rows.index):
                out.append(r)
                scores[r] = fused[seed]
        return out, scores

    def _off_topic(self, query: str, rows: list[int], dense: np.ndarray) -> str:
        """Why the question is off the corpus's topics, or "" when it is not.

        The best dense cosine among the ranked chunks decides alone when it is clear: at or above
        ``min_score`` the question is answered, below ``LEXICAL_FLOOR_SHARE * min_score`` it is
        refused. In between, the words decide: the top ranked passages together must share at
        least two informative content words with the question (words found in at most
        ``COMMON_SHARE`` of the chunks; all of them when the question has only one). A natural
        "my scanned page has a shadow…" scores 0.29 yet shares six; "Why is the sky blue?"
        scores up to 0.46 on the GIMP manual.
        """
        score = float(dense.max())
        if score >= self.min_score:
            return ""
        low = LEXICAL_FLOOR_SHARE * self.min_score
        if score < low:
            return (
                f"the best passage matches with similarity {score:.2f}, below the floor {low:.2f}"
            )
        common = max(COMMON_SHARE * len(self.index.chunks), 3)
        words = {t for t in _terms(query) if len(t) >= 3}
        rare = {t for t in words if self._df.get(t, 0) <= common}
        seen: set[str] = set()
        for row in rows[:WORD_CHECK_CHUNKS]:
            chunk = self.index.chunks[row]
            seen.update(_terms(f"{chunk.title} {chunk.text}"))
        shared, shared_rare = words & seen, rare & seen
        if (
            len(shared_rare) >= 2
            or (shared_rare and len(shared) >= 3)
            or (shared_rare and len(shared) >= 2 and 2 * len(shared) >= len(words))
            or (words and shared == words)
        ):
            return ""
        return (
            f"the best passage matches with similarity {score:.2f} (floor {self.min_score:.2f}) "
            f"and the best passages share {len(shared)} of the question's {len(words)} words "
            f"({len(shared_rare)} of its {len(rare)} informative ones)"
        )

    @cached_property
    def _df(self) -> Counter[str]:
        """In how many chunks each content word occurs (computed once, on first need)."""
        df: Counter[str] = Counter()
        for chunk in self.index.chunks:
            df.update(set(_terms(f"{chunk.title} {chunk.text}")))
        return df

    def _chunk_candidates(
        self, chunks: tuple[RetrievedChunk, ...], rows: list[int]
    ) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[str] = set()
        for rc, row in zip(chunks, rows, strict=True):
            for img_row in self.index.chunk_image_rows[row]:
                if img_row in self.index.decorative:
                    continue
                cand = self.index.candidates[img_row]
                if len(out) >= self.max_candidates:
                    return out
                if cand.image_id in seen:
                    continue
                seen.add(cand.image_id)
                out.append(replace(cand, score=rc.score, chunk_id=rc.chunk.chunk_id))
        return out

    def _neighbour_depth(self, n_seen: int) -> int:
        """Image rows :meth:`_neighbours` reads when ``n_seen`` images are already offered."""
        if not self.image_neighbours:
            return 0
        return min(len(self.index.candidates), 4 * (self.image_neighbours + n_seen))

    def _neighbours(self, query: str, qvec: np.ndarray, seen: set[str]) -> list[Candidate]:
        # Read deep enough to skip images already offered and repeated occurrences of one image.
        depth = self._neighbour_depth(len(seen))
        rankings = [[int(r) for r in self.index.search_images(qvec, depth)[1] if r >= 0]]
        if self.use_pixels:
            rankings.append([int(r) for r in self.index.search_pixels(query, depth)[1] if r >= 0])
        fused = rrf(rankings, self.rrf_k)
        out: list[Candidate] = []
        for row in _order(fused, rankings):
            cand = self.index.candidates[row]
            if cand.image_id in seen or row in self.index.decorative:
                continue
            seen.add(cand.image_id)
            out.append(replace(cand, score=fused[row]))
            if len(out) == self.image_neighbours:
                break
        return out


_BRITISH = re.compile(r"(?<=[a-z]{3})our\b")


def _terms(text: str) -> list[str]:
    """Content words of ``text`` as the word check compares them: Snowball stems ("rotate" and
    "rotation" meet), British "-our" spelled "-or" ("colour", "color")."""
    return analyse(_BRITISH.sub("or", " ".join(content_terms(text))))


def _standardised(scores: dict[int, float]) -> dict[int, float]:
    """``scores`` as z-scores over their own values (unchanged spread when they are all equal)."""
    if not scores:
        return {}
    values = np.fromiter(scores.values(), dtype=np.float64)
    mean, std = float(values.mean()), float(values.std())
    return {k: (v - mean) / (std if std > 1e-9 else 1.0) for k, v in scores.items()}


def _refused(query: str, why: str, also: str = "") -> Retrieval:
    """An empty retrieval that says why nothing was returned (and ``also``, when given)."""
    notes = (f"{NOTHING}: {why}", *((also,) if also else ()))
    return Retrieval(query=query, chunks=(), candidates=(), notes=notes)


def _weight(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number; got {value!r}")
    if not 0 <= value < float("inf"):
        raise ValueError(f"{name} must be >= 0; got {value!r}")
    return float(value)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
