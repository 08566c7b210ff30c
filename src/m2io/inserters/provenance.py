"""Provenance matching over all of an answer's sentences at once (numpy, no loop per pair).

The anchored inserter (:mod:`m2io.inserters.anchored`) asks, for each side of each candidate's
source context, how well each of its nearest source pieces agrees with each answer sentence
(:func:`~m2io.inserters.anchored.match_score`) and how well the context's words at the image
line up with the answer's words at each sentence boundary
(:meth:`~m2io.inserters.anchored.AnswerWords.boundary_score`). Scored one pair at a time in
Python, that was most of the insert time of answers with many candidates and sentences once
nothing was embedded (docs/RESULTS.md, "The insert tail (issue 24, item 2), 2026-12-08b").
:class:`WordMatrix` holds the answer's word counts as a sentences × vocabulary matrix and scores
every piece of every candidate against every sentence in one array operation, with the same
arithmetic as the scalar functions (the same float64 divisions), so the scores, and therefore the
placements, are identical; the scalar functions stay the definition (tests compare the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# The same constants as the scalar definitions (m2io.inserters.anchored imports them from here).
MIN_CONTAIN = 5
WINDOW = 12
EDGE = 3
_CELLS = 1 << 21  # most (piece, sentence, word) cells compared in one array operation


class WordMatrix:
    """One answer's words as arrays: per-sentence counts over the answer's vocabulary, and the
    whole answer as one run of word ids with the sentence boundaries.

    Args:
        sentences: Each answer sentence's tokens (:func:`m2io.text.tokenize`), in order.
    """

    def __init__(self, sentences: Sequence[Sequence[str]]) -> None:
        self.vocab: dict[str, int] = {}
        run: list[int] = []
        starts, ends = [], []
        for words in sentences:
            starts.append(len(run))
            run.extend(self.vocab.setdefault(w, len(self.vocab)) for w in words)
            ends.append(len(run))
        self.n = len(sentences)
        v = len(self.vocab)
        rows = np.repeat(np.arange(self.n), [b - a for a, b in zip(starts, ends, strict=True)])
        flat = rows * v + np.array(run, dtype=np.int64)
        self.counts = np.bincount(flat, minlength=self.n * v).reshape(self.n, v)
        self.lengths = self.counts.sum(axis=1)
        self.run = np.array(run, dtype=np.int64)
        self.starts = np.array(starts, dtype=np.int64)
        self.ends = np.array(ends, dtype=np.int64)

    def ids(self, words: Sequence[str]) -> np.ndarray:
        """Word ids of ``words``; -1 for a word no answer sentence has."""
        return np.array([self.vocab.get(w, -1) for w in words], dtype=np.int64)

    def scores(self, pieces: Sequence[Sequence[str]]) -> np.ndarray:
        """``match_score`` of every piece (its tokens) against every sentence: ``(m, n)``."""
        m, v = len(pieces), len(self.vocab)
        out = np.zeros((m, self.n), dtype=np.float64)
        if not m or not self.n:
            return out
        # one count row per piece; the last column counts the words no answer sentence has
        ids = self.ids([w for words in pieces for w in words])
        ids[ids < 0] = v
        rows = np.repeat(np.arange(m), [len(words) for words in pieces])
        counts = np.bincount(rows * (v + 1) + ids, minlength=m * (v + 1)).reshape(m, v + 1)
        piece_len = counts.sum(axis=1)  # every word, in the answer's vocabulary or not
        cols = np.flatnonzero(counts[:, :v].any(axis=0))  # only words some piece has
        mine, theirs = self.counts[:, cols], counts[:, cols]
        shared = np.zeros((m, self.n), dtype=np.int64)
        step = max(1, _CELLS // max(1, self.n * len(cols)))  # bounded memory on long answers
        for lo in range(0, m, step):
            part = np.minimum(theirs[lo : lo + step, None, :], mine[None, :, :])
            shared[lo : lo + step] = part.sum(axis=2)
        a = self.lengths[None, :].astype(np.float64)
        b = piece_len[:, None].astype(np.float64)
        longer, shorter = np.maximum(a, b), np.minimum(a, b)
        shared_f = shared.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            equal = shared_f / longer
            contain = np.where(shorter >= MIN_CONTAIN, shared_f / shorter, 0.0)
        score = np.maximum(equal, np.where(contain >= 0.85, 0.9 * contain, 0.0))
        # short on both sides (a heading, a menu path): only the same words, counted, score
        exact = (shared == a) & (shared == b)
        score = np.where(longer < MIN_CONTAIN, np.where(exact, 1.0, 0.0), score)
        return np.where((shared > 0) & (a > 0) & (b > 0), score, 0.0)

    def boundary(self, context: Sequence[str], *, before: bool) -> np.ndarray:
        """``boundary_score`` of ``context`` (its tokens) at every sentence: ``(n,)``."""
        return self.boundaries([context], np.array([before]))[0]

    def boundaries(self, contexts: Sequence[Sequence[str]], before: np.ndarray) -> np.ndarray:
        """``boundary_score`` of each context (its tokens; ``before[j]``: the text above an
        image, else below it) at every sentence: ``(len(contexts), n)``.

        The edge words (the ``EDGE`` next to each boundary) are compared for every context and
        sentence at once; the shared share of the window is counted only where some agree (few).
        """
        out = np.zeros((len(contexts), self.n), dtype=np.float64)
        total = len(self.run)
        if not contexts or not self.n or not total:
            return out
        c = np.array([len(x) for x in contexts], dtype=np.int64)
        edge_ids = np.full((len(contexts), EDGE), -2, dtype=np.int64)  # -2 agrees with no word
        for j, words in enumerate(contexts):
            if len(words) >= EDGE:
                edge = words[-EDGE:][::-1] if before[j] else words[:EDGE]
                edge_ids[j] = [self.vocab.get(w, -1) for w in edge]
        step = np.arange(EDGE)
        last = self.run[np.clip(self.ends[:, None] - 1 - step[None, :], 0, total - 1)]
        first = self.run[np.clip(self.starts[:, None] + step[None, :], 0, total - 1)]
        mine = np.where(before[:, None, None], last[None], first[None])  # (contexts, n, EDGE)
        agree = (mine == edge_ids[:, None, :]).sum(axis=2)
        window = np.where(
            before[:, None],
            np.minimum(self.ends, WINDOW)[None, :],  # the answer's words up to each boundary
            np.minimum(total - self.starts, WINDOW)[None, :],
        )
        k = np.minimum(window, c[:, None])
        for j, i in zip(*np.nonzero((k >= MIN_CONTAIN) & (agree > 0)), strict=True):
            ki, words = int(k[j, i]), contexts[j]
            if before[j]:
                mine_run = self.run[self.ends[i] - ki : self.ends[i]]
                theirs = self.ids(words[len(words) - ki :])
            else:
                mine_run = self.run[self.starts[i] : self.starts[i] + ki]
                theirs = self.ids(words[:ki])
            out[j, i] = (int(agree[j, i]) / EDGE) * _shared(mine_run, theirs, len(self.vocab)) / ki
        return out


def _shared(a: np.ndarray, b: np.ndarray, v: int) -> int:
    """Words two id runs share, with repeats (ids in ``[0, v)``; ids < 0 match nothing)."""
    return int(np.minimum(np.bincount(a, minlength=v), np.bincount(b[b >= 0], minlength=v)).sum())
