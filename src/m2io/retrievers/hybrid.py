"""Hybrid retriever: dense (embedding) + lexical (BM25) search fused by reciprocal rank fusion.

Each ranked list contributes ``1 / (rrf_k + rank)`` (rank 1-based) to a chunk's fused score:

    fused(c) = sum over lists L holding c of 1 / (rrf_k + rank_L(c))

so a chunk ranked 1st by both lists scores ``2 / (rrf_k + 1)``; ``rrf_k`` (60, as in Cormack et al.
2009) damps the gap between the top ranks. RRF needs no score calibration between cosine and BM25.
In ``"dense"`` or ``"lexical"`` mode there is one list, so scores stay on the same scale.

Candidate images are the images inside the retrieved chunks, in chunk rank order then in-chunk
order, each image id once (its best chunk wins), scored with its chunk's fused score. Optionally
the ``image_neighbours`` images nearest to the question by caption + context vector (fused by RRF
with the pixel ranking when ``use_pixels``) are appended, scored ``1 / (rrf_k + rank)`` likewise.

Example:
    >>> retriever = HybridRetriever("gimp.index", top_k=5)
    >>> r = retriever.retrieve("How do I crop an image?")
    >>> r.chunks[0].chunk.title, [c.image_id for c in r.candidates][:3]
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Literal

import numpy as np

from m2io.embed.text import TextEmbedder
from m2io.index.store import Index
from m2io.types import Candidate, Retrieval, RetrievedChunk

Mode = Literal["hybrid", "dense", "lexical"]
MODES = ("hybrid", "dense", "lexical")


def rrf(rankings: list[list[int]], rrf_k: int) -> dict[int, float]:
    """Reciprocal rank fusion of ranked id lists (best first) -> ``{id: fused score}``."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (rrf_k + rank)
    return fused


def _order(fused: dict[int, float], rankings: list[list[int]]) -> list[int]:
    """Ids by fused score; ties go to the better single-list rank, then the lower id."""
    best = {}
    for ranking in rankings:
        for rank, i in enumerate(ranking):
            best[i] = min(best.get(i, rank), rank)
    return sorted(fused, key=lambda i: (-fused[i], best[i], i))


class HybridRetriever:
    """Retrieves chunks by dense + BM25 search and offers the images that sit in them.

    Args:
        index: An open :class:`~m2io.index.Index` or the folder of one.
        top_k: Chunks returned per query (overridable per call).
        mode: ``"hybrid"`` (RRF of both), ``"dense"`` or ``"lexical"``.
        rrf_k: RRF damping constant (> 0).
        max_candidates: Most images taken from the retrieved chunks.
        image_neighbours: Extra images nearest to the question by image vector (0 = none).
        pool_size: How deep each list is read before fusing (at least ``top_k``).
        use_pixels: Also rank images by pixel vector through the index's image embedder (needs
            an index built with one); only used for ``image_neighbours``.
        embedder: Query embedder when ``index`` is a folder (default: the manifest's model).

    Example:
        >>> r = HybridRetriever("gimp.index", mode="hybrid").retrieve("crop an image")
        >>> [(c.chunk.chunk_id, round(c.score, 4)) for c in r.chunks]
    """

    def __init__(
        self,
        index: Index | str | os.PathLike[str],
        *,
        top_k: int = 5,
        mode: Mode = "hybrid",
        rrf_k: int = 60,
        max_candidates: int = 12,
        image_neighbours: int = 0,
        pool_size: int = 50,
        use_pixels: bool = False,
        embedder: TextEmbedder | None = None,
    ) -> None:
        _check_int("top_k", top_k, 1)
        _check_int("rrf_k", rrf_k, 1)
        _check_int("max_candidates", max_candidates, 0)
        _check_int("image_neighbours", image_neighbours, 0)
        _check_int("pool_size", pool_size, 1)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if not isinstance(index, Index):
            index = Index.open(index, embedder=embedder)
        elif embedder is not None:
            raise ValueError("pass embedder to Index.open, not with an already open index")
        if use_pixels and not index.has_pixels:
            raise ValueError(
                f"use_pixels=True needs an index built with an image embedder; {index.folder} "
                "has none"
            )
        self.index = index
        self.top_k = top_k
        self.mode: Mode = mode
        self.rrf_k = rrf_k
        self.max_candidates = max_candidates
        self.image_neighbours = image_neighbours
        self.pool_size = pool_size
        self.use_pixels = use_pixels

    @property
    def image_root(self) -> str | None:
        """The index's corpus root, the folder every image it offers must lie in (None if unknown).

        Renderers embed no local file outside it; see :class:`~m2io.types.MultimodalAnswer`.
        """
        root = getattr(self.index, "corpus_root", None)
        return None if root is None else str(root)

    def retrieve(self, query: str, top_k: int | None = None) -> Retrieval:
        """Return the ``top_k`` best chunks for ``query`` and the images that live in them."""
        k = self.top_k if top_k is None else top_k
        _check_int("top_k", k, 1)
        if not query.strip():
            return Retrieval(query=query, chunks=(), candidates=())
        index = self.index
        depth = min(max(self.pool_size, k), len(index.chunks))
        qvec = index.embed_query(query) if self.mode != "lexical" or self.image_neighbours else None

        rankings: list[list[int]] = []
        if self.mode != "lexical":
            _, rows = index.search_chunks(qvec, depth)
            rankings.append([int(r) for r in rows if r >= 0])
        lexical = index.lexical.scores(query) if self.mode != "dense" else None
        if lexical is not None:
            top = np.argsort(-lexical, kind="stable")[:depth]
            rankings.append([int(r) for r in top if lexical[r] > 0])
        fused = rrf(rankings, self.rrf_k)
        rows = _order(fused, rankings)[:k]

        dense = index.chunk_similarity(qvec, rows) if self.mode != "lexical" else None
        chunks = tuple(
            RetrievedChunk(
                chunk=index.chunks[r],
                score=fused[r],
                dense_score=float(dense[i]) if dense is not None else None,
                lexical_score=float(lexical[r]) if lexical is not None else None,
            )
            for i, r in enumerate(rows)
        )
        candidates = self._chunk_candidates(chunks, rows)
        if self.image_neighbours:
            candidates += self._neighbours(query, qvec, {c.image_id for c in candidates})
        return Retrieval(query=query, chunks=chunks, candidates=tuple(candidates))

    def _chunk_candidates(
        self, chunks: tuple[RetrievedChunk, ...], rows: list[int]
    ) -> list[Candidate]:
        out: list[Candidate] = []
        seen: set[str] = set()
        for rc, row in zip(chunks, rows, strict=True):
            for img_row in self.index.chunk_image_rows[row]:
                cand = self.index.candidates[img_row]
                if len(out) >= self.max_candidates:
                    return out
                if cand.image_id in seen:
                    continue
                seen.add(cand.image_id)
                out.append(replace(cand, score=rc.score, chunk_id=rc.chunk.chunk_id))
        return out

    def _neighbours(self, query: str, qvec: np.ndarray, seen: set[str]) -> list[Candidate]:
        # Read deep enough to skip images already offered and repeated occurrences of one image.
        depth = min(len(self.index.candidates), 4 * (self.image_neighbours + len(seen)))
        rankings = [[int(r) for r in self.index.search_images(qvec, depth)[1] if r >= 0]]
        if self.use_pixels:
            rankings.append([int(r) for r in self.index.search_pixels(query, depth)[1] if r >= 0])
        fused = rrf(rankings, self.rrf_k)
        out: list[Candidate] = []
        for row in _order(fused, rankings):
            cand = self.index.candidates[row]
            if cand.image_id in seen:
                continue
            seen.add(cand.image_id)
            out.append(replace(cand, score=fused[row]))
            if len(out) == self.image_neighbours:
                break
        return out


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}")
