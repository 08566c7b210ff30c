"""Sentence relevance for :class:`~m2io.generators.extractive.ExtractiveGenerator`.

Every sentence of the context is scored by IDF-weighted overlap of its stemmed terms with the
question's, plus (optionally) its cosine with the question under the text embedder (a sentence
not embedded takes its chunk's cosine from the retriever), plus a small prior for its chunk's
rank.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from typing import Any

import numpy as np

from m2io.embed.text import TextEmbedder
from m2io.generators.focus import Line
from m2io.text import content_terms

# the generator's logger, as before the scoring had a module of its own
log = logging.getLogger("m2io.generators.extractive")

terms = content_terms


class ScoringMixin:
    """Sentence scores, for :class:`~m2io.generators.extractive.ExtractiveGenerator` (which
    holds the options read here)."""

    rank_prior: float
    dense_weight: float
    dense_max_sentences: int
    cache_size: int
    _embedder: Any
    _embedder_model: TextEmbedder | None
    _embedder_error: str | None
    _cache: OrderedDict[str, np.ndarray]

    def _scores(
        self, question: str, lines: list[Line], notes: list[str]
    ) -> tuple[list[float], list[float]]:
        """Relevance of every sentence (lexical and dense, plus the chunk-rank prior), and its
        lexical part alone (0..1)."""
        sets = [set(terms(ln.text)) for ln in lines]
        idf = _idf(sets)
        q = set(terms(question))
        lex = [sum(idf.get(t, 0.0) for t in q & st) / math.sqrt(max(len(st), 1)) for st in sets]
        top = max(lex) or 1.0
        lexn = [x / top for x in lex]
        prior = [self.rank_prior * ln.weight for ln in lines]
        dense = self._dense(question, lines, lexn, notes)
        if dense is None:
            dense = [None] * len(lines)
        # a sentence not embedded gets its chunk's cosine with the question (the retriever's)
        dense = [d if d is not None else ln.chunk_dense for d, ln in zip(dense, lines, strict=True)]
        if all(d is None for d in dense):
            return [a + b for a, b in zip(lexn, prior, strict=True)], lexn
        w = self.dense_weight
        combined = [
            (1 - w) * a + w * max(0.0, d if d is not None else 0.0) + b
            for a, d, b in zip(lexn, dense, prior, strict=True)
        ]
        return combined, lexn

    def _dense(
        self, question: str, lines: list[Line], lexn: list[float], notes: list[str]
    ) -> list[float | None] | None:
        """Cosine of the question with the (lexically best) sentences; None without embedder."""
        if self.dense_weight == 0 or not self.dense_max_sentences:
            return None
        emb = self._get_embedder(notes)
        if emb is None:
            return None
        order = sorted(range(len(lines)), key=lambda i: (-lexn[i], lines[i].rank, i))
        picked = order[: self.dense_max_sentences]
        texts = list(dict.fromkeys(lines[i].text for i in picked))
        missing = [t for t in texts if t not in self._cache]
        if missing:
            vecs = np.asarray(emb.encode(missing, batch_size=64), dtype=np.float32)
            for t, v in zip(missing, vecs, strict=True):
                self._cache[t] = v
        for t in texts:
            self._cache.move_to_end(t)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        qv = np.asarray(emb.encode([question], batch_size=1), dtype=np.float32)[0]
        out: list[float | None] = [None] * len(lines)
        for i in picked:
            v = self._cache.get(lines[i].text)
            if v is not None:
                out[i] = max(0.0, float(v @ qv))
        return out

    def _get_embedder(self, notes: list[str]) -> TextEmbedder | None:
        if self._embedder_model is not None or self._embedder is None:
            return self._embedder_model
        if self._embedder_error is None:
            if isinstance(self._embedder, str):
                try:
                    from m2io.embed.text import load_text_embedder

                    self._embedder_model = load_text_embedder(self._embedder)
                except (ImportError, ValueError, OSError) as err:
                    self._embedder_error = str(err).splitlines()[0] if str(err) else repr(err)
                    log.warning("extractive: no dense scoring (%s)", self._embedder_error)
            else:
                self._embedder_model = self._embedder
        if self._embedder_model is None:
            notes.append(f"extractive: lexical scoring only ({self._embedder_error})")
        return self._embedder_model


def _idf(docs: list[set[str]]) -> dict[str, float]:
    n = len(docs)
    df: dict[str, int] = {}
    for d in docs:
        for t in d:
            df[t] = df.get(t, 0) + 1
    return {t: math.log(1 + n / c) for t, c in df.items()}
