"""BM25 lexical search over chunks (bm25s + PyStemmer's English stemmer).

Documents and queries go through one analyser (:func:`analyse`): m2io's lower-cased alphanumeric
tokens, English stopwords dropped, Snowball-stemmed. The vocabulary is sorted before indexing, so
the saved files are the same whatever the process's hash seed.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from m2io.index.headers import check_npy_folder
from m2io.index.rows import MAP_FILES
from m2io.registry import require
from m2io.text import tokenize


@lru_cache(maxsize=1)
def _analyser() -> tuple[Any, frozenset[str]]:
    stemmer_mod = require("Stemmer", "index")
    stopwords = require("bm25s.stopwords", "index")
    return stemmer_mod.Stemmer("english"), frozenset(stopwords.STOPWORDS_EN)


def analyse(text: str) -> list[str]:
    """Tokens as BM25 sees them: lower-cased, stopwords out, stemmed."""
    stemmer, stop = _analyser()
    return stemmer.stemWords([t for t in tokenize(text) if t not in stop])


class LexicalIndex:
    """A BM25 index whose rows are the index's chunks, in chunk order."""

    def __init__(self, bm25: Any, n_docs: int) -> None:
        self._bm25 = bm25
        self.n_docs = n_docs

    @classmethod
    def build(cls, texts: list[str]) -> LexicalIndex:
        bm25s = require("bm25s", "index")
        docs = [analyse(t) for t in texts]
        vocab = {tok: i for i, tok in enumerate(sorted({t for d in docs for t in d}))}
        ids = [[vocab[t] for t in d] for d in docs]
        bm25 = bm25s.BM25()
        bm25.index((ids, vocab), show_progress=False)
        return cls(bm25, len(texts))

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, n_docs: int) -> LexicalIndex:
        bm25s = require("bm25s", "index")
        check_npy_folder(folder)  # each array's declared shape must fit in its file
        # mapped read-only: processes that open the same index share the score arrays' pages
        bm25 = bm25s.BM25.load(str(folder), mmap=MAP_FILES, show_progress=False)
        return cls(bm25, n_docs)

    @property
    def stored_docs(self) -> int:
        """Rows the saved BM25 arrays hold (checked against the manifest on open)."""
        return int(self._bm25.scores["num_docs"])

    def knows(self, word: str) -> bool:
        """Whether ``word`` (one token, as written) occurs in some chunk."""
        stems = analyse(word)
        return len(stems) == 1 and stems[0] in self._bm25.vocab_dict

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for ``query`` (zeros when no query term is indexed)."""
        ids = self._bm25.get_tokens_ids(analyse(query))
        if not ids:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def doc_freq(self, term: str) -> int:
        """In how many chunks the analysed ``term`` occurs (read from the BM25 matrix, one column
        per term: no chunk is read)."""
        i = self._bm25.vocab_dict.get(term)
        indptr = self._bm25.scores["indptr"]
        if i is None or not 0 <= i < len(indptr) - 1:
            return 0
        return int(indptr[i + 1] - indptr[i])

    def weighted_scores(self, terms: dict[str, float]) -> np.ndarray:
        """BM25 scores of every chunk for analysed ``terms``, each term's scores times its
        weight (terms the index does not hold count nothing)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        vocab = self._bm25.vocab_dict
        for term, weight in terms.items():
            if term in vocab:
                out += weight * np.asarray(
                    self._bm25.get_scores_from_ids([vocab[term]]), dtype=np.float32
                )
        return out
