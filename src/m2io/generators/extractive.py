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
        drop_headings: Leave out heading-like lines (short, no final punctuation) that the
            passage carries along; they read badly inside prose.

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
        drop_headings: bool = True,
    ) -> None:
        if max_words < 1 or max_sentences < 1:
            raise ValueError("max_words and max_sentences must be >= 1")
        if not 0.0 <= min_relative_score <= 1.0:
            raise ValueError(f"min_relative_score must be in [0, 1], got {min_relative_score}")
        self.max_words = max_words
        self.max_sentences = max_sentences
        self.rank_prior = rank_prior
        self.min_relative_score = min_relative_score
        self.drop_headings = drop_headings

    def generate(self, question: str, retrieval: Retrieval) -> TextAnswer:
        runs = _runs(retrieval)
        pool = [text for run in runs for _, _, text in run]
        if not pool:
            return TextAnswer(
                question=question,
                sentences=(),
                notes=("extractive: no retrieved text to answer from",),
            )
        idf = _idf([set(terms(s)) for s in pool])
        q = set(terms(question))
        scored: list[list[_Scored]] = []
        for run in runs:
            row = []
            for pos, (rank, chunk_id, text) in enumerate(run):
                st = set(terms(text))
                rel = sum(idf.get(t, 0.0) for t in q & st) / math.sqrt(max(len(st), 1))
                prior = self.rank_prior / (1 + rank)
                row.append(_Scored(rank, pos, text, chunk_id, rel + prior, rel))
            scored.append(row)
        best_run, best = max(
            ((r, s) for r, row in enumerate(scored) for s in row),
            key=lambda rs: (rs[1].score, -rs[1].rank, -rs[1].pos),
        )
        chosen = [(best_run, s) for s in self._window(scored[best_run], best.pos)]
        budget = self.max_words - sum(_words(s.text) for _, s in chosen)
        extra = sorted(
            ((r, s) for r, row in enumerate(scored) if r != best_run for s in row),
            key=lambda rs: (-rs[1].score, rs[1].rank, rs[1].pos),
        )
        for r, s in extra:
            if len(chosen) >= self.max_sentences or s.score < self.min_relative_score * best.score:
                break
            if s.overlap < self.min_relative_score * best.overlap:
                continue
            if _words(s.text) <= budget and not _near_duplicate(s.text, [c for _, c in chosen]):
                chosen.append((r, s))
                budget -= _words(s.text)
        chosen.sort(key=lambda rs: (rs[0] != best_run, rs[0], rs[1].pos))
        if self.drop_headings and len(chosen) > 1:
            chosen = [rs for rs in chosen if not _heading_like(rs[1].text)] or chosen
        return TextAnswer(
            question=question,
            sentences=tuple(Sentence(s.text, s.chunk_id) for _, s in chosen),
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


def _chunk_number(chunk_id: str) -> int | None:
    tail = chunk_id.rsplit("#", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _runs(retrieval: Retrieval) -> list[list[tuple[int, str, str]]]:
    """Sentences of the retrieved chunks, consecutive chunks of one document joined into a run.

    Each entry is ``(chunk rank, chunk id, sentence)``; the sentences that neighbouring chunks
    share (chunk overlap) appear once. Runs are ordered by their best chunk rank.
    """
    ranked = list(enumerate(retrieval.chunks))
    ranked.sort(key=lambda rc: (rc[1].chunk.doc_id, rc[1].chunk.start, rc[0]))
    runs: list[list[tuple[int, str, str]]] = []
    prev_doc, prev_num = None, None
    for rank, rc in ranked:
        num = _chunk_number(rc.chunk.chunk_id)
        sents = split_sentences(rc.chunk.text)
        joined = rc.chunk.doc_id == prev_doc and num is not None and prev_num == num - 1
        if joined and runs:
            seen = {t for _, _, t in runs[-1][-3:]}
            runs[-1].extend((rank, rc.chunk.chunk_id, t) for t in sents if t not in seen)
        else:
            runs.append([(rank, rc.chunk.chunk_id, t) for t in sents])
        prev_doc, prev_num = rc.chunk.doc_id, num
    runs = [r for r in runs if r]
    runs.sort(key=lambda r: min(rank for rank, _, _ in r))
    return runs


def _idf(docs: list[set[str]]) -> dict[str, float]:
    n = len(docs)
    df: dict[str, int] = {}
    for d in docs:
        for t in d:
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1 + n / c) for t, c in df.items()}


def _heading_like(text: str) -> bool:
    return len(text.split()) <= 6 and not text.rstrip().endswith((".", "!", "?", ":", ";", ","))


def _words(text: str) -> int:
    return len(text.split())


def _near_duplicate(text: str, chosen: list[_Scored]) -> bool:
    key = re.sub(r"\W+", " ", text.lower()).strip()
    return any(re.sub(r"\W+", " ", c.text.lower()).strip() == key for c in chosen)
