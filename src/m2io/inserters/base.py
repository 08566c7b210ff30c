"""Inserter contract: choose which candidate images go after which sentence."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from m2io.registry import Registry
from m2io.types import Candidate, Placement, TextAnswer


@runtime_checkable
class Inserter(Protocol):
    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        """Return the selected images and the sentence each one follows (0 = before all)."""
        ...


INSERTERS = Registry("inserter")
INSERTERS.add_lazy("none", "m2io.inserters.none:NoInserter")
INSERTERS.add_lazy("anchored", "m2io.inserters.anchored:AnchoredInserter")
INSERTERS.add_lazy("rule", "m2io.inserters.rule:RuleInserter")
INSERTERS.add_lazy("similar", "m2io.inserters.rule:MostSimilarInserter")
INSERTERS.add_lazy("learned", "m2io.inserters.learned:LearnedInserter")
INSERTERS.add_lazy("llm", "m2io.inserters.llm:LLMInserter")
