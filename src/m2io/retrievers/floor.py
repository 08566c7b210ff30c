"""The floor of :class:`~m2io.retrievers.hybrid.HybridRetriever`: refusing what the corpus
does not cover.

The best dense cosine among the ranked chunks decides when it is clear; in between, the top
passages must share informative words with the question. A refusal is an empty
:class:`~m2io.types.Retrieval` whose notes say why.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from m2io.index.lexical import analyse
from m2io.text import content_terms
from m2io.types import Retrieval

if TYPE_CHECKING:
    from m2io.index.store import Index

CALIBRATED_FLOOR = 0.45
"""Best dense cosine among the ranked chunks at which a question is answered without further
evidence, for :data:`~m2io.embed.text.DEFAULT_TEXT_MODEL`. Between ``LEXICAL_FLOOR_SHARE`` × this
(0.225) and this, the best passages must also share words with the question (see
``HybridRetriever._off_topic``); below, the question is refused. Checked with
``benchmarks/floor_decisions.py`` (``results/floor_decisions.json``): every question of the GIMP
(584) and GnuCash (65) dev sets and every natural how-to question written for GnuCash and the
demo corpus is answered; of 35 unrelated queries, 31 (GIMP), 34 (GnuCash) and 34 (demo) are
refused. The single floor it replaces (0.31 on the top fused chunk, from
``benchmarks/calibrate_floor.py``) refused natural questions whose wording differs from the text
("my scanned page has a shadow…", 0.29) or whose top fused chunk was a lexical match ("How can I
make the background transparent?" on the GIMP manual, 0.27 there, 0.68 for the best chunk)."""
LEXICAL_FLOOR_SHARE = 0.5
"""Below this share of the floor no word overlap saves a question."""
COMMON_SHARE = 0.1
"""A word found in more than this share of the chunks ("image" in an image-processing guide) says
nothing about whether a question is on topic."""
NEAR_FLOOR = 0.85
"""From this share of the floor up, a question sharing half its words with the best passages is
answered even when those words are common in the corpus."""
WORD_CHECK_CHUNKS = 3
"""How many of the top ranked chunks the word check reads."""
NOTHING = "nothing relevant found"


class FloorMixin:
    """The word check of the floor, for :class:`~m2io.retrievers.hybrid.HybridRetriever`
    (which holds ``min_score``)."""

    index: Index
    min_score: float

    def _off_topic(self, query: str, rows: list[int], dense: np.ndarray) -> str:
        """Why the question is off the corpus's topics, or "" when it is not.

        The best dense cosine among the ranked chunks decides alone when it is clear: at or above
        ``min_score`` the question is answered, below ``LEXICAL_FLOOR_SHARE * min_score`` it is
        refused. In between, the words decide: the top ranked passages together must share at
        least two informative content words with the question (words found in at most
        ``COMMON_SHARE`` of the chunks; all of them when the question has only one). A natural
        "my scanned page has a shadow…" scores 0.29 yet shares six; "Why is the sky blue?"
        scores up to 0.46 on the GIMP manual.
        """
        score = float(dense.max())
        if score >= self.min_score:
            return ""
        low = LEXICAL_FLOOR_SHARE * self.min_score
        if score < low:
            return (
                f"the best passage matches with similarity {score:.2f}, below the floor {low:.2f}"
            )
        common = max(COMMON_SHARE * len(self.index.chunks), 3)
        words = {t for t in _terms(query) if len(t) >= 3}
        rare = {t for t in words if self._df.get(t, 0) <= common}
        seen: set[str] = set()
        for row in rows[:WORD_CHECK_CHUNKS]:
            chunk = self.index.chunks[row]
            seen.update(_terms(f"{chunk.title} {chunk.text}"))
        shared, shared_rare = words & seen, rare & seen
        if (
            len(shared_rare) >= 2
            or (shared_rare and len(shared) >= 3)
            or (shared_rare and len(shared) >= 2 and 2 * len(shared) >= len(words))
            or (words and shared == words)
            # close to the floor, half the question's words or more, however common in the
            # manual ("LaTeX" in xfig's: 16 % of its chunks), say it is on topic
            or (
                score >= NEAR_FLOOR * self.min_score
                and len(shared) >= 2
                and 2 * len(shared) >= len(words)
            )
        ):
            return ""
        return (
            f"the best passage matches with similarity {score:.2f} (floor {self.min_score:.2f}) "
            f"and the best passages share {len(shared)} of the question's {len(words)} words "
            f"({len(shared_rare)} of its {len(rare)} informative ones)"
        )

    @cached_property
    def _df(self) -> Counter[str]:
        """In how many chunks each content word occurs (computed once, on first need)."""
        df: Counter[str] = Counter()
        for chunk in self.index.chunks:
            df.update(set(_terms(f"{chunk.title} {chunk.text}")))
        return df


_BRITISH = re.compile(r"(?<=[a-z]{3})our\b")


def _terms(text: str) -> list[str]:
    """Content words of ``text`` as the word check compares them: Snowball stems ("rotate" and
    "rotation" meet), British "-our" spelled "-or" ("colour", "color")."""
    return analyse(_BRITISH.sub("or", " ".join(content_terms(text))))


def _refused(query: str, why: str, also: str = "") -> Retrieval:
    """An empty retrieval that says why nothing was returned (and ``also``, when given)."""
    notes = (f"{NOTHING}: {why}", *((also,) if also else ()))
    return Retrieval(query=query, chunks=(), candidates=(), notes=notes)
