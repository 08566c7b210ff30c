"""Vector storage: faiss ``IndexFlatIP`` files.

Why exact inner-product search (``IndexFlatIP``) over normalised vectors, i.e. cosine:

- fast enough: a query against 10^5 chunks of 384 floats is one ~40 M-multiply matrix-vector
  product, a few milliseconds on two cores; the dev set (~2k chunks) takes well under 1 ms;
- no training step and no parameters to tune, so building needs nothing but the vectors;
- deterministic: the same vectors give the same ranking, bit for bit, on every run;
- one file per vector set, read back with a single ``faiss.read_index``.

For corpora well past 10^5 chunks, swap in ``IndexHNSWFlat`` (no training, ~log-time search) or
``IndexIVFFlat`` (needs a training pass and an ``nprobe`` setting); both trade a little recall for
speed, and both read and write through the same two functions below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from m2io.index.headers import check_faiss_file
from m2io.registry import require


def normalise(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=-1, keepdims=True)
    return np.ascontiguousarray(vecs / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def write_vectors(path: Path, vecs: np.ndarray) -> None:
    faiss = require("faiss", "index")
    index = faiss.IndexFlatIP(int(vecs.shape[1]))
    if len(vecs):
        index.add(np.ascontiguousarray(vecs, dtype=np.float32))
    faiss.write_index(index, str(path))


Vectors = tuple[Any, np.ndarray]
"""A faiss index and the same vectors as an ``(n, dim)`` array."""


def read_vectors(path: Path) -> Vectors:
    """The faiss index and its vectors as an ``(n, dim)`` array (for scoring given rows)."""
    faiss = require("faiss", "index")
    check_faiss_file(path)  # sizes the header declares must fit in the file: no huge alloc
    index = faiss.read_index(str(path))
    vecs = index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d))
    return index, np.asarray(vecs, dtype=np.float32)
