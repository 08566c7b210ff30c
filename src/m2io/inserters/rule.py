"""The paper's Rule-Based baseline: each image after the sentence it is most similar to.

M2IO-R1 (arXiv 2508.06328) and MRAMG-Bench (arXiv 2502.04176) describe it: write the text first,
then for every candidate image compute the embedding similarity between each answer sentence and
the image's caption/context; if the best similarity clears a threshold, insert the image after
that sentence. Each image is used at most once.
"""

from __future__ import annotations

import numpy as np

from m2io.embed.text import (
    DEFAULT_TEXT_MODEL,
    LazyEmbedder,
    TextEmbedder,
    image_text,
)
from m2io.types import Candidate, Placement, Slot, TextAnswer


def candidate_text(c: Candidate) -> str:
    """What the rule compares with sentences: caption plus the nearest source text, when known
    (:func:`m2io.embed.text.image_text`, the same text the index embeds for the image)."""
    return image_text(c)


class RuleInserter(LazyEmbedder):
    """Similarity-threshold placement (the Rule-Based baseline).

    Args:
        threshold: Minimum cosine similarity between an image's text and its best sentence.
        embedder: A :class:`~m2io.embed.text.TextEmbedder` or a model name/path to load.
        use_context: Compare sentences with caption + context (True) or caption only.

    Example (embeds with the default sentence embedder)::

        RuleInserter(threshold=0.5).insert(answer, retrieval.candidates)
    """

    def __init__(
        self,
        *,
        threshold: float = 0.4,
        embedder: TextEmbedder | str = DEFAULT_TEXT_MODEL,
        use_context: bool = True,
    ) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
        self.threshold = threshold
        self._embedder = embedder
        self.use_context = use_context

    def similarities(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> np.ndarray:
        """Cosine similarity matrix, shape ``(len(candidates), len(sentences))``."""
        texts = [
            candidate_text(c) if self.use_context else c.image.caption.strip() for c in candidates
        ]
        sents = [s.text for s in answer.sentences]
        vecs = self.embedder.encode(sents + texts)
        sims = vecs[len(sents) :] @ vecs[: len(sents)].T
        empty = np.array([not t for t in texts])
        if empty.any():
            sims[empty] = -np.inf
        return sims

    def insert(self, answer: TextAnswer, candidates: tuple[Candidate, ...]) -> Placement:
        if not answer.sentences or not candidates:
            return Placement()
        sims = self.similarities(answer, candidates)
        slots: list[tuple[int, float, int, str]] = []
        seen: set[str] = set()
        for i, c in enumerate(candidates):
            if c.image_id in seen:
                continue
            j = int(np.argmax(sims[i]))
            if sims[i, j] >= self.threshold:
                seen.add(c.image_id)
                # images sharing an anchor sentence keep their order in the source document
                pos = c.doc_position if c.doc_position is not None else float("inf")
                slots.append((j + 1, pos, i, c.image_id))
        slots.sort()
        return Placement(slots=tuple(Slot(image_id, after) for after, _, _, image_id in slots))


class MostSimilarInserter(RuleInserter):
    """Reference point: every candidate at its most similar sentence (no threshold).

    Shows what selection costs: recall is maximal, precision is the share of gold among candidates.
    """

    def __init__(
        self, *, embedder: TextEmbedder | str = DEFAULT_TEXT_MODEL, use_context: bool = True
    ) -> None:
        super().__init__(threshold=-1.0, embedder=embedder, use_context=use_context)
