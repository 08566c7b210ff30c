"""Merger contract: interleave sentences and placed images into the final answer."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from m2io.registry import Registry
from m2io.types import Candidate, MultimodalAnswer, Placement, TextAnswer


@runtime_checkable
class Merger(Protocol):
    def merge(
        self, answer: TextAnswer, placement: Placement, candidates: tuple[Candidate, ...]
    ) -> MultimodalAnswer:
        """Build the segment list (text and images in reading order)."""
        ...


MERGERS = Registry("merger")
MERGERS.add_lazy("default", "m2io.mergers.default:DefaultMerger")
