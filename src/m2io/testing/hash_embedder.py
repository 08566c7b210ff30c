"""A deterministic text embedder for tests: bag-of-words vectors hashed into buckets.

Fast, offline and identical in every process, so index and retrieval tests need no model.
For tests only: it knows nothing of meaning beyond shared words.

Example:
    >>> emb = HashEmbedder(dim=32)
    >>> emb.encode(["crop the image", "the image crop"]).shape
    (2, 32)
"""

from __future__ import annotations

import zlib

import numpy as np

from m2io.text import tokenize


class HashEmbedder:
    """Unit vectors of crc32-hashed word counts; ``calls`` counts :meth:`encode` calls.

    Args:
        dim: Vector size.
        name: The name an index records for it.
    """

    def __init__(self, dim: int = 64, name: str = "test-hash") -> None:
        self.dim, self.name, self.calls = dim, name, 0

    def encode(self, texts, *, batch_size: int = 64, progress: bool | str = False) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in tokenize(text):
                out[i, zlib.crc32(tok.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1.0)


def hash_index(folder, documents):
    """An index of ``documents`` built in ``folder`` with a 64-d :class:`HashEmbedder`, opened
    with it: what a retrieval test needs, offline and in milliseconds."""
    from m2io.index import Index, build_index  # late: the index needs faiss and bm25s

    emb = HashEmbedder(64, "test-hash")
    build_index(documents, folder, embedder=emb, progress=False)
    return Index.open(folder, embedder=emb)
