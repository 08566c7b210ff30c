"""The context of :class:`~m2io.retrievers.hybrid.HybridRetriever`: sections and images.

The ranked chunks seed sections (the chunks between a heading and the next, or a whole short
page), taken nearest first within the word budget; near-copies of pages ranked above are
skipped. The images offered are those of the returned chunks, then the ones nearest to the
question by image vector.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from m2io.retrievers.fusion import _order, rrf
from m2io.types import Candidate, RetrievedChunk

if TYPE_CHECKING:
    from m2io.index.store import Index


class ContextMixin:
    """Section assembly and image candidates, for
    :class:`~m2io.retrievers.hybrid.HybridRetriever` (which holds the options read here)."""

    index: Index

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

    def _goes_on(self, rows: list[int]) -> tuple[str, ...]:
        """Ids of the chunks of ``rows`` whose section goes on past them: the chunk after one
        in its document is of the same section and not among ``rows``."""
        index = self.index
        returned = set(rows)
        out = []
        for r in rows:
            doc_rows = index.doc_rows[index.chunks[r].doc_id]
            at = next((k for k, v in enumerate(doc_rows) if v == r), None)
            if at is None or at + 1 >= len(doc_rows):
                continue
            nxt = doc_rows[at + 1]
            if nxt not in returned and index.chunk_sections[nxt] == index.chunk_sections[r]:
                out.append(index.chunks[r].chunk_id)
        return tuple(out)

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
