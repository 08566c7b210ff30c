"""Retriever contract: a question in, ranked chunks and candidate images out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from m2io.registry import Registry
from m2io.types import Retrieval


@runtime_checkable
class Retriever(Protocol):
    """Finds chunks and candidate images for a question.

    A retriever backed by an index may also expose ``image_root`` (``str | None``), the corpus
    folder its images lie in; the pipeline copies it onto the answer so renderers can confine the
    files they embed. It is optional and not part of the structural check.
    """

    def retrieve(self, query: str, top_k: int | None = None) -> Retrieval:
        """Return the ``top_k`` best chunks for ``query`` and the images that live in them."""
        ...


RETRIEVERS = Registry("retriever")
RETRIEVERS.add_lazy("hybrid", "m2io.retrievers.hybrid:HybridRetriever")
