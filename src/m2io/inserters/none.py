"""The text-only baseline: no image is placed."""

from __future__ import annotations

from m2io.types import Candidate, Placement, TextAnswer


class NoInserter:
    """Places nothing; the answer stays text-only (MRAMG's "no image" reference point)."""

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        return Placement()
