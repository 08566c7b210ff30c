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
documentation say about …?"); with ``whole_question`` the whole question is embedded in the same
call (a pass of its own), for the learned inserter's policy. With ``image_votes`` (the default) a chunk's dense score is the
better of its own text vector's and its figures' caption + context vectors', each standardised
over the rows read, so a page whose figure title names the topic ranks with it.

**Feedback and audience** (hybrid mode). A second BM25 search adds the words that weigh most in
the first pass's best sections (:mod:`m2io.retrievers.feedback`; a chunk's ``lexical_score``
then includes them), and, where most chunks carry a title, an API reference page (C prototypes,
class signatures) ranks below user pages for a question that names no identifier
(:mod:`m2io.retrievers.audience`), and release notes, history and introduction pages and a
task's command-line variant rank below the page that shows how
(:mod:`m2io.retrievers.page_kind`).

**Nothing relevant.** A question with no searchable word (punctuation only) is refused without
searching. Otherwise the best dense cosine among the ranked chunks decides: at or above
``min_score`` the question is answered; below half of it, refused; in between, only if the top
passages share informative words with it. A refusal returns no chunks and no candidates and says
why in ``Retrieval.notes``. The default, :data:`CALIBRATED_FLOOR`, holds for the default embedder
(see ``benchmarks/floor_decisions.py``); with another embedder the default is no floor.

This module holds the retriever's flow (:meth:`HybridRetriever.retrieve`); its parts live beside
it: the ranked lists and their fusion in :mod:`m2io.retrievers.fusion`, the sections and
images of the context in :mod:`m2io.retrievers.context`, the floor in
:mod:`m2io.retrievers.floor` and the option checks in :mod:`m2io.retrievers.options`.

Example::

    retriever = HybridRetriever("gimp.index", top_k=5)
    r = retriever.retrieve("How do I crop an image?")
    r.chunks[0].chunk.title, [c.image_id for c in r.candidates][:3]
"""

from __future__ import annotations

import logging
import os

import numpy as np

from m2io.embed.text import DEFAULT_TEXT_MODEL, TextEmbedder, load_text_embedder
from m2io.index.store import Index
from m2io.index.vectors import normalise
from m2io.retrievers.context import ContextMixin
from m2io.retrievers.figure_lists import figure_lists
from m2io.retrievers.floor import (
    CALIBRATED_FLOOR,
    COMMON_SHARE,
    LEXICAL_FLOOR_SHARE,
    NOTHING,
    WORD_CHECK_CHUNKS,
    FloorMixin,
    _refused,
    _terms,
)
from m2io.retrievers.fusion import FIGURE_Z, RankingMixin, _order, _standardised, rrf
from m2io.retrievers.language import LanguageFilter
from m2io.retrievers.options import MODES, Mode, _check_int, _weight, check_sizes
from m2io.retrievers.query import compound_variants, search_text, spelling_variants
from m2io.text import tokenize
from m2io.types import Retrieval, RetrievedChunk

# the names this module has always exported, now defined beside it
__all__ = [
    "CALIBRATED_FLOOR",
    "COMMON_SHARE",
    "FIGURE_Z",
    "LEXICAL_FLOOR_SHARE",
    "MODES",
    "NOTHING",
    "WORD_CHECK_CHUNKS",
    "HybridRetriever",
    "Mode",
    "_order",
    "_standardised",
    "_terms",
    "rrf",
]

log = logging.getLogger(__name__)


class HybridRetriever(RankingMixin, ContextMixin, FloorMixin):
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
        whole_question: When the search text is not the whole question, embed the question too,
            in the same call, so the learned inserter's policy finds its vector cached. Off by
            default: it moves about 9 ms from the 7.5 % of answers whose policy needs the
            question to every such question's retrieval, a slower answer on average
            (docs/RESULTS.md, "The insert tail, last step").
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
        heading_sections: In the dense headings list, a chunk that runs on into later
            sections (:attr:`~m2io.types.Chunk.sections`) ranks by the best of its sections'
            heading paths (:func:`~m2io.retrievers.headings.heading_texts`), not only the
            first one's. Off: measured in docs/RESULTS.md.
        fuse_sections: Fuse the lists by section, not by chunk
            (:func:`~m2io.retrievers.headings.unit_rrf`): each list ranks a section by its best
            chunk, the sections are ordered by their fused score, and a chunk follows its
            section (the section's best chunk seeds the context). With the headings list,
            top-page hit@1 rose from 27 to 31 of 40 on four held-out manuals and 17 to 18 of 20
            on the tuning ones (docs/RESULTS.md). Only where most chunks carry a title: on the
            untitled GnuCash dev set it cost 2.7 image F1.
        agreement_top: With sections fused, each list's weight is multiplied by the share of
            its first ``agreement_top`` sections that another list also ranks among its first
            ``agreement_top`` (:func:`~m2io.retrievers.headings.agreement`; 0 = off), so a list
            that agrees with none of the others does not decide. Top-page hit@1 rose from 122
            to 127 of 150 over fifteen manuals, none lower (docs/RESULTS.md).
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
        changes_weight: A section that is a list of changes or a project's history (its
            heading, or a numbered heading above it, names release notes, changes, news or a
            history, or carries a product version; else its page's dated and change sentences:
            :func:`~m2io.retrievers.page_kind.change_kinds`) has its fused score divided by
            ``1 + changes_weight * kind`` unless the question asks about versions ("after
            upgrading"), so "How do I print in black and white only?" no longer opens on the
            release notes' printer limits (0 = off; titled corpora only).
        intro_weight: For a how-to question, a section headed as an introduction ("What is
            Gutenprint?", "Preface") is divided by ``1 + intro_weight`` (0 = off).
        variant_weight: For a how-to question that names no identifier, command line or
            script, a section whose heading names that other way ("Defining Macros in the
            Command Line") is divided by ``1 + variant_weight`` (0 = off). With the two above,
            top-page hit@1 rose from 58 to 61 of 70 over seven manuals (docs/RESULTS.md).

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
        whole_question: bool = False,
        title_weight: float = 0.0,
        compounds: bool = True,
        heading_weight: float = 1.0,
        heading_sections: bool = False,
        fuse_sections: bool = True,
        agreement_top: int = 10,
        prf_docs: int = 5,
        prf_terms: int = 10,
        prf_weight: float = 0.3,
        audience_weight: float = 3.0,
        changes_weight: float = 3.0,
        intro_weight: float = 3.0,
        variant_weight: float = 3.0,
    ) -> None:
        check_sizes(
            top_k=top_k,
            rrf_k=rrf_k,
            dense_weight=dense_weight,
            max_candidates=max_candidates,
            image_neighbours=image_neighbours,
            pool_size=pool_size,
            context_words=context_words,
            max_sections=max_sections,
            section_words=section_words,
            mode=mode,
            section_ratio=section_ratio,
            min_score=min_score,
        )
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
        self.whole_question = whole_question
        self.compounds = compounds
        self.title_weight = _weight("title_weight", title_weight)
        self.heading_weight = _weight("heading_weight", heading_weight)
        self.heading_sections = bool(heading_sections)
        self.fuse_sections = bool(fuse_sections)
        _check_int("agreement_top", agreement_top, 0)
        self.agreement_top = agreement_top
        _check_int("prf_docs", prf_docs, 0)
        _check_int("prf_terms", prf_terms, 1)
        self.prf_docs = prf_docs
        self.prf_terms = prf_terms
        self.prf_weight = _weight("prf_weight", prf_weight)
        self.audience_weight = _weight("audience_weight", audience_weight)
        self.changes_weight = _weight("changes_weight", changes_weight)
        self.intro_weight = _weight("intro_weight", intro_weight)
        self.variant_weight = _weight("variant_weight", variant_weight)
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

    def _query_vector(self, search: str, query: str) -> np.ndarray:
        """The search text's unit vector. With ``whole_question``, when it is not the whole
        question, the question is embedded in the same call (each text its own pass: the same vectors as one at a time), so
        that it waits in the embedder's recent cache for the learned inserter's policy, which
        compares the whole question with the candidates (docs/RESULTS.md, "The insert tail,
        last step")."""
        if search == query or not self.whole_question:
            return self.index.embed_query(search)
        both = self.index.embedder.encode([search, query], batch_size=1)
        return normalise(both[:1])[0]

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
            self._query_vector(search, query)
            if self.mode != "lexical" or self.image_neighbours
            else None
        )

        knows = getattr(index.lexical, "knows", None) if self.compounds and self._titled else None
        words = spelling_variants(compound_variants(search, knows), knows) if knows else search
        rankings, weights, lexical = self._rankings(qvec, words, depth)
        prior = self._prior(query)
        fused, order, by_section = self._fuse(rankings, weights, prior)
        fed = self._feedback(words, order, lexical) if weights and lexical is not None else None
        if fed is not None:  # the BM25 list again, the others as they were
            lexical = fed
            top = np.argsort(-lexical, kind="stable")[:depth]
            rankings[1] = [int(r) for r in top if lexical[r] > 0 and r not in self.excluded_rows]
            fused, order, by_section = self._fuse(rankings, weights, prior)
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
        return Retrieval(
            query=query,
            chunks=chunks,
            candidates=tuple(candidates),
            notes=notes,
            continued=self._goes_on(rows),
        )
