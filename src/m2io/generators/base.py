"""Generator contract: write the textual answer from retrieved chunks."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from m2io.registry import Registry
from m2io.types import Retrieval, TextAnswer


@runtime_checkable
class Generator(Protocol):
    def generate(self, question: str, retrieval: Retrieval) -> TextAnswer:
        """Answer ``question`` from ``retrieval``; the answer comes back split into sentences."""
        ...


GENERATORS = Registry("generator")
GENERATORS.add_lazy("extractive", "m2io.generators.extractive:ExtractiveGenerator")
GENERATORS.add_lazy("openai", "m2io.generators.openai:OpenAIGenerator")
GENERATORS.add_lazy("local", "m2io.generators.local:LocalGenerator")
