"""The offline default text stage: an answer assembled from the retrieved chunks' own sentences.

No LLM is needed. Sentences of the retrieved chunks are scored against the question (IDF-weighted
overlap of stemmed terms, plus a prior for the chunk's rank); the best sentence's chunk supplies a
contiguous passage around it (so the answer reads in the author's order and keeps the sentences
that introduce figures), and strong sentences from other chunks follow within a word budget.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from m2io.text import split_sentences, tokenize
from m2io.types import Retrieval, Sentence, TextAnswer

_STOP = frozenset(
    "a an the and or of to in on for with by from at as is are was were be been it its this that "
    "these those how do does did i you we they what which who when where why can could should would "
    "my your our their me us them about into than then there here so if not no yes use using used "
    "gimp documentation say says".split()
)


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """Stemmed content words of ``text``."""
    return [_stem(w) for w in tokenize(text) if w not in _STOP]


@dataclass(frozen=True)
class _Scored:
    rank: int
    pos: int
    text: str
    chunk_id: str
    score: float
    overlap: float


class ExtractiveGenerator:
    """Builds an answer from the query-relevant sentences of the retrieved chunks.

    Args:
        max_words: Word budget of the answer.
        max_sentences: Upper bound on the number of sentences.
        rank_prior: Weight of the chunk-rank prior relative to term overlap.
        min_relative_score: Sentences from other chunks are added only when they score at least
            this fraction of the best sentence.

    Example:
        >>> gen = ExtractiveGenerator(max_words=120)
        >>> answer = gen.generate("How do I crop?", retrieval)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        max_words: int = 140,
        max_sentences: int = 8,
        rank_prior: float = 0.3,
        min_relative_score: float = 0.6,
    ) -> None:
        if max_words < 1 or max_sentences < 1:
            raise ValueError("max_words and max_sentences must be >= 1")
        if not 0.0 <= min_relative_score <= 1.0:
            raise ValueError(f"min_relative_score must be in [0, 1], got {min_relative_score}")
        self.max_words = max_words
        self.max_sentences = max_sentences
        self.rank_prior = rank_prior
        self.min_relative_score = min_relative_score

    def generate(self, question: str, retrieval: Retrieval) -> TextAnswer:
        per_chunk: list[list[str]] = [split_sentences(rc.chunk.text) for rc in retrieval.chunks]
        pool = [s for sents in per_chunk for s in sents]
        if not pool:
            return TextAnswer(
                question=question,
                sentences=(),
                notes=("extractive: no retrieved text to answer from",),
            )
        idf = _idf([set(terms(s)) for s in pool])
        q = set(terms(question))
        scored: list[list[_Scored]] = []
        for rank, (rc, sents) in enumerate(zip(retrieval.chunks, per_chunk, strict=True)):
            prior = self.rank_prior / (1 + rank)
            row = []
            for pos, s in enumerate(sents):
                st = set(terms(s))
                overlap = sum(idf.get(t, 0.0) for t in q & st)
                norm = math.sqrt(max(len(st), 1))
                rel = overlap / norm
                row.append(_Scored(rank, pos, s, rc.chunk.chunk_id, rel + prior, rel))
            scored.append(row)
        best = max((s for row in scored for s in row), key=lambda s: (s.score, -s.rank, -s.pos))
        chosen = self._window(scored[best.rank], best.pos)
        budget = self.max_words - sum(_words(s.text) for s in chosen)
        extra = sorted(
            (s for row in scored if row is not scored[best.rank] for s in row),
            key=lambda s: (-s.score, s.rank, s.pos),
        )
        for s in extra:
            if len(chosen) >= self.max_sentences or s.score < self.min_relative_score * best.score:
                break
            if s.overlap < self.min_relative_score * best.overlap:
                continue
            if _words(s.text) <= budget and not _near_duplicate(s.text, chosen):
                chosen.append(s)
                budget -= _words(s.text)
        chosen.sort(key=lambda s: (s.rank != best.rank, s.rank, s.pos))
        return TextAnswer(
            question=question,
            sentences=tuple(Sentence(s.text, s.chunk_id) for s in chosen),
        )

    def _window(self, row: list[_Scored], center: int) -> list[_Scored]:
        """Grow a contiguous run around ``center``, favouring the text that follows it."""
        lo = hi = center
        words = _words(row[center].text)
        while hi - lo + 1 < self.max_sentences:
            options = []
            if hi + 1 < len(row):
                options.append((row[hi + 1].score + 0.05, "hi"))
            if lo - 1 >= 0:
                options.append((row[lo - 1].score, "lo"))
            if not options:
                break
            _, side = max(options)
            nxt = row[hi + 1] if side == "hi" else row[lo - 1]
            if words + _words(nxt.text) > self.max_words:
                break
            words += _words(nxt.text)
            hi, lo = (hi + 1, lo) if side == "hi" else (hi, lo - 1)
        return list(row[lo : hi + 1])


def _idf(docs: list[set[str]]) -> dict[str, float]:
    n = len(docs)
    df: dict[str, int] = {}
    for d in docs:
        for t in d:
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1 + n / c) for t, c in df.items()}


def _words(text: str) -> int:
    return len(text.split())


def _near_duplicate(text: str, chosen: list[_Scored]) -> bool:
    key = re.sub(r"\W+", " ", text.lower()).strip()
    return any(re.sub(r"\W+", " ", c.text.lower()).strip() == key for c in chosen)
