"""What a chunk is *about*, read from its headings, and sections ranked as units.

A reader picks a section by its heading before reading its text. :func:`heading_text` is the
heading path a chunk sits under (chunk title, page title, section heading); the hybrid retriever
ranks chunks by the question's cosine to that path's own vector (:class:`HeadingVectors`), so
"Configuring the editor" answers "How do I change the font used in the editor?" although the
section's text says "font" once among many settings. Distinct heading paths are few (a
section's chunks share one) and short; they are embedded once, on first use.

:func:`unit_rrf` fuses ranked lists of chunks as lists of the units (sections) they belong to:
each list ranks a unit by its best chunk, so a section that every list ranks near the top beats
a chunk that two lists rank fairly high, and a section's many chunks take one rank, not many.

Example:
    >>> section = {0: "a", 1: "a", 2: "b"}.get
    >>> {u: round(s * 61, 2) for u, s in unit_rrf([[0, 1, 2], [1, 2]], 60, None, section).items()}
    {'a': 2.0, 'b': 1.97}
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import numpy as np

from m2io.index.vectors import normalise
from m2io.types import Chunk


def heading_text(chunk: Chunk) -> str:
    """The headings a chunk sits under, each once: its title, its page's title and its section
    heading."""
    src = chunk.source
    parts = [chunk.title] + ([src.title, src.section] if src else [])
    return " ".join(dict.fromkeys(p for p in parts if p))


def unit_rrf(
    rankings: Sequence[Sequence[int]],
    rrf_k: int,
    weights: Sequence[float] | None,
    unit_of: Callable[[int], Hashable],
) -> dict[Hashable, float]:
    """Reciprocal rank fusion of ranked chunk lists as lists of units: in each list a unit
    takes the rank of its first (best) chunk among the distinct units, and contributes
    ``weight / (rrf_k + rank)``. Returns ``{unit: fused score}``."""
    fused: dict[Hashable, float] = {}
    for n, ranking in enumerate(rankings):
        w = 1.0 if weights is None else weights[n]
        seen: set[Hashable] = set()
        rank = 0
        for row in ranking:
            unit = unit_of(row)
            if unit in seen:
                continue
            seen.add(unit)
            rank += 1
            fused[unit] = fused.get(unit, 0.0) + w / (rrf_k + rank)
    return fused


class HeadingVectors:
    """One unit vector per distinct heading path of an index's chunks, embedded on creation.

    Args:
        heads: Each chunk row's heading path (:func:`heading_text`; "" for none).
        encode: Texts -> vectors, e.g. the index's text embedder's ``encode``.
    """

    def __init__(self, heads: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> None:
        distinct = list(dict.fromkeys(h for h in heads if h))
        at = {h: i for i, h in enumerate(distinct)}
        self._rows: list[list[int]] = [[] for _ in distinct]
        for row, head in enumerate(heads):
            if head:
                self._rows[at[head]].append(row)
        self.vectors = normalise(np.asarray(encode(distinct))) if distinct else None

    def ranking(self, qvec: np.ndarray, depth: int, skip: frozenset[int]) -> list[int]:
        """Chunk rows by their heading path's cosine with ``qvec``, best first (a heading's rows
        in row order), at most ``depth`` rows, ``skip`` left out."""
        if self.vectors is None:
            return []
        sims = self.vectors @ np.asarray(qvec, dtype=np.float32)
        out: list[int] = []
        for h in np.argsort(-sims, kind="stable").tolist():
            out.extend(r for r in self._rows[h] if r not in skip)
            if len(out) >= depth:
                break
        return out[:depth]
