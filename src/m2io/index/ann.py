"""Approximate nearest-neighbour search for large indexes, chosen by size.

Below :data:`EXACT_MAX` vectors the index stays exact (``IndexFlatIP``, see :mod:`.vectors`): a
query over 10^5 × 384 floats is a few milliseconds, and exact is deterministic and needs no
parameters. From :data:`EXACT_MAX` on, a build writes an inverted-file index (``IndexIVFFlat``,
inner product over unit vectors = cosine): k-means cells, each query scanning the
:data:`NPROBE` cells nearest to it. Measured with ``benchmarks/scaling.py`` on this 2-core
machine (``results/scaling.json``, ``docs/scaling.md``): at 10^6 chunks exact search takes about
a hundred milliseconds a query, IVF a few, at recall@10 >= 0.95 against exact. IVF was chosen
over HNSW because it builds several times faster on two cores (k-means on a sample, then one
assignment pass) and holds no graph in memory; HNSW (``kind="hnsw"``) is kept for
comparison.

The file itself says which kind it is (``faiss.read_index`` returns the right class), so an
index needs no manifest field to be read back; :func:`read_store_vectors` sets the search
parameters (``nprobe``, ``efSearch``) on the way in. A :class:`VectorStore` given to the build
(``auto``, ``exact``, ``ivf``, ``hnsw``, ``milvus``; ``m2io index --set index.vector_index=…``,
or ``$M2IO_VECTOR_INDEX``, read by the command line only) overrides the choice; ``milvus`` puts
the vectors in a Milvus collection (:mod:`m2io.index.milvus`).

Example::

    write_store_vectors(Path("chunks.faiss"), vecs)  # 'exact' below 100k rows, else IVF
    index, vecs = read_store_vectors(Path("chunks.faiss"))
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from m2io.index.headers import check_faiss_file
from m2io.index.rows import MAP_FILES
from m2io.index.vectors import Vectors
from m2io.registry import require

logger = logging.getLogger(__name__)

EXACT_MAX = 100_000
"""Indexes with fewer vectors than this stay exact."""
KINDS = ("auto", "exact", "ivf", "hnsw", "milvus")
KIND_ENV = "M2IO_VECTOR_INDEX"
"""The environment variable the command line reads ``--set index.vector_index`` from when not
given (read only there: the library takes a :class:`VectorStore`)."""
NPROBE = 64
"""IVF cells scanned per query (of about ``sqrt(n)``: 64 of 1000 at 10^6 rows). Measured at
10^6 rows: 32 gives recall@10 0.954 (p95 7 ms), 64 gives 0.976 (p95 14 ms)."""
TRAIN_PER_CELL = 64
"""k-means training sample: this many vectors per cell (faiss warns below 39)."""
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 64, 128
"""HNSW graph degree and beam widths; ``efSearch`` >= the retriever's dense pool (50)."""


@dataclass(frozen=True)
class VectorStore:
    """Where an index keeps its vectors: an option object that the build and its updates take.

    Attributes:
        kind: ``"auto"`` (exact below :data:`EXACT_MAX` vectors, IVF from it), ``"exact"``,
            ``"ivf"``, ``"hnsw"`` (faiss files in the index folder) or ``"milvus"``.
        milvus_uri: For ``milvus``: a server URI (``http://host:19530``) or a milvus-lite file;
            None keeps a milvus-lite database inside the index folder.

    Raises:
        ValueError: an unknown ``kind``, or a ``milvus_uri`` for another kind.
    """

    kind: str = "auto"
    milvus_uri: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"vector index kind {self.kind!r}: use one of {', '.join(KINDS)}")
        if self.milvus_uri is not None and self.kind != "milvus":
            raise ValueError("a Milvus URI needs the milvus vector store")


def choose_kind(n: int, kind: str | None = None) -> str:
    """``"exact"``, ``"ivf"`` or ``"hnsw"`` for ``n`` vectors: ``kind`` if given and not
    ``"auto"``, else exact below :data:`EXACT_MAX`, IVF from it.

    An approximate kind asked for a set too small to train on (fewer than 4 vectors per cell of
    a minimum of 16 cells) stays exact.
    """
    chosen = (kind or "auto").strip().lower()
    if chosen not in KINDS:
        raise ValueError(f"vector index kind {chosen!r}: use one of {', '.join(KINDS)}")
    if chosen == "auto":
        return "exact" if n < EXACT_MAX else "ivf"
    if chosen in ("exact", "milvus"):
        return chosen
    if n < 64:
        return "exact"
    return chosen


def n_cells(n: int) -> int:
    """IVF cells for ``n`` vectors: about ``sqrt(n)``, at least 16."""
    return max(16, int(math.sqrt(n)))


def milvus_index(n: int) -> tuple[str, dict[str, int], dict[str, int]]:
    """The Milvus index of a collection of ``n`` vectors, ``(type, build params, search
    params)``, chosen as :func:`choose_kind` chooses faiss's.

    Below :data:`EXACT_MAX` rows: ``IVF_FLAT`` with one cell, searched with ``nprobe=1``, i.e.
    every vector is scored (exact, as ``IndexFlatIP``). In milvus-lite that is faiss's scan; its
    ``FLAT`` is a numpy scan, 1.3x slower per question (``benchmarks/milvus_retrieval.py``,
    docs/scaling.md), and its ``HNSW`` is approximate for no gain at this size. From there on:
    ``IVF_FLAT`` with :func:`n_cells` cells and :data:`NPROBE` probes, the parameters measured
    for faiss at 10^6 rows (recall@10 0.976).
    """
    if n < EXACT_MAX:
        return "IVF_FLAT", {"nlist": 1}, {"nprobe": 1}
    return "IVF_FLAT", {"nlist": n_cells(n)}, {"nprobe": NPROBE}


def build_store_index(vecs: np.ndarray, kind: str | None = None, *, seed: int = 0) -> Any:
    """A faiss index over the unit rows of ``vecs`` (inner product = cosine), of the kind
    :func:`choose_kind` picks."""
    faiss = require("faiss", "index")
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    n, dim = vecs.shape
    chosen = choose_kind(n, kind)
    if chosen == "exact":
        index = faiss.IndexFlatIP(dim)
    elif chosen == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        cells = n_cells(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, cells, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = seed
        sample = min(n, cells * TRAIN_PER_CELL)
        rows = np.random.default_rng(seed).choice(n, size=sample, replace=False)
        index.train(vecs[np.sort(rows)])
        index.nprobe = NPROBE
    if n:
        index.add(vecs)
    return index


def write_store_vectors(
    path: Path, vecs: np.ndarray, store: VectorStore | str | None = None
) -> str:
    """Write the faiss index of ``vecs`` (see :func:`build_store_index`), or, for the
    ``milvus`` kind, a Milvus collection and a pointer file beside ``path``
    (:mod:`m2io.index.milvus`); returns the kind. ``store`` may be a bare kind name."""
    if not isinstance(store, VectorStore):
        store = VectorStore(store or "auto")
    if choose_kind(len(vecs), store.kind) == "milvus":
        from m2io.index.milvus import write_milvus_vectors

        write_milvus_vectors(path, vecs, store.milvus_uri, index=milvus_index(len(vecs)))
        return "milvus"
    faiss = require("faiss", "index")
    index = build_store_index(vecs, store.kind)
    faiss.write_index(index, str(path))
    got = index_kind(index)
    if got != "exact":
        logger.info("%s: %d vectors in an approximate (%s) index", path.name, index.ntotal, got)
    return got


def store_of(vectors: Any) -> VectorStore:
    """The :class:`VectorStore` an index's loaded vectors live in, for writing more of them the
    same way (documents added later): Milvus at the same URI, an approximate faiss kind kept,
    an exact one left to ``auto`` (so it turns approximate once it grows large)."""
    kind = index_kind(vectors)
    if kind == "milvus":
        return VectorStore("milvus", getattr(vectors, "uri", None))
    return VectorStore(kind if kind in ("ivf", "hnsw") else "auto")


def index_kind(index: Any) -> str:
    """``"exact"``, ``"ivf"`` or ``"hnsw"`` for a faiss index as read back."""
    if type(index).__name__ == "MilvusVectors":
        return "milvus"
    faiss = require("faiss", "index")
    if not isinstance(index, (faiss.IndexHNSW, faiss.IndexIVF, faiss.IndexFlat)):
        index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "exact"


def read_mapped(path: Path) -> Any:
    """The faiss index in ``path``, its vectors memory-mapped from the file, not copied.

    The header check runs first (every size it declares must fit in the file: no huge
    allocation, see :mod:`.headers`). Then ``IO_FLAG_MMAP_IFC`` maps a flat index's vectors (also
    an HNSW index's storage) and an IVF index's lists read-only from the file: pages the kernel
    shares between every process that reads the same file (``m2io serve`` workers, and each one
    that reopens the index after an upload), where a plain read gave each process its own copy.
    The graph of an HNSW index and an IVF index's centroids are still read into memory. A faiss
    without the flag (before 1.9), or a system where a mapped file blocks the swap of a new
    index (:data:`~m2io.index.rows.MAP_FILES`: Windows), reads the file into memory.
    """
    faiss = require("faiss", "index")
    check_faiss_file(path)
    flags = getattr(faiss, "IO_FLAG_MMAP_IFC", 0) if MAP_FILES else 0
    return faiss.read_index(str(path), flags)


def read_store_vectors(path: Path) -> Vectors:
    """The faiss index in ``path`` (memory-mapped, :func:`read_mapped`) with its search parameters
    set, and its vectors as an ``(n, dim)`` array: a read-only view of the index's own storage
    when it is flat (exact or HNSW), so a large index is not held twice; for an IVF index (its
    lists are in cell order) a :class:`RowVectors` that reads rows from the index when asked."""
    if not path.exists():
        from m2io.index.milvus import MilvusVectors, pointer_path

        if pointer_path(path).is_file():
            store = MilvusVectors(pointer_path(path))
            return store, store.rows()  # type: ignore[return-value]
    faiss = require("faiss", "index")
    index = read_mapped(path)  # already its own class; a downcast would not own it
    n, dim = int(index.ntotal), int(index.d)
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = max(int(index.hnsw.efSearch), HNSW_EF_SEARCH)
        storage = faiss.downcast_index(index.storage)
        return index, _flat_view(faiss, storage, n, dim, index)
    if isinstance(index, faiss.IndexIVF):
        index.nprobe = min(NPROBE, int(index.nlist))
        index.make_direct_map()
        return index, RowVectors(index)  # type: ignore[return-value]
    if isinstance(index, faiss.IndexFlat):
        return index, _flat_view(faiss, index, n, dim, index)
    vecs = index.reconstruct_n(0, n) if n else np.zeros((0, dim))
    return index, np.asarray(vecs, dtype=np.float32)


class RowVectors:
    """The vectors of an IVF index by row, read from its lists when asked (no second copy).

    Supports what callers of :func:`read_store_vectors` do with the array: ``len``, ``shape``,
    ``vecs[rows]`` (an int, a slice or a list of rows), iteration, and ``np.asarray(vecs)``,
    which materialises them all.
    """

    dtype = np.dtype(np.float32)

    def __init__(self, index: Any) -> None:
        self.index = index
        self.shape = (int(index.ntotal), int(index.d))
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        if isinstance(rows, (int, np.integer)):
            row = int(rows) + len(self) if rows < 0 else int(rows)
            return np.asarray(self.index.reconstruct(row), dtype=np.float32)
        if isinstance(rows, slice):
            rows = range(*rows.indices(len(self)))
        keys = np.asarray(list(rows) if isinstance(rows, range) else rows, dtype=np.int64)
        if keys.ndim != 1:
            raise IndexError("RowVectors takes an int, a slice or a list of rows")
        if len(keys) == 0:
            return np.zeros((0, self.shape[1]), dtype=np.float32)
        keys = np.where(keys < 0, keys + len(self), keys)
        return np.asarray(self.index.reconstruct_batch(keys), dtype=np.float32)

    def __iter__(self) -> Any:
        for start in range(0, len(self), 4096):
            yield from self[start : start + 4096]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        n, dim = self.shape
        vecs = self.index.reconstruct_n(0, n) if n else np.zeros((0, dim))
        return np.asarray(vecs, dtype=dtype or np.float32)


class _Owner:
    """Holds the index whose memory a numpy view points into (the view's ``base``), so the
    index lives as long as the array does."""

    def __init__(self, view: np.ndarray, owner: Any) -> None:
        self.__array_interface__ = view.__array_interface__
        self.owner = owner


def _flat_view(faiss: Any, flat: Any, n: int, dim: int, owner: Any) -> np.ndarray:
    """The rows of a flat float index without copying them; the array keeps ``owner`` alive."""
    if n == 0:
        return np.zeros((0, dim), dtype=np.float32)
    view = faiss.rev_swig_ptr(flat.get_xb(), n * dim).reshape(n, dim)
    out = np.asarray(_Owner(view, owner))
    out.flags.writeable = False  # a mapped file's pages: writing one would crash the process
    return out


def search_one(index: Any, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` ``(scores, rows)`` of one query vector, searched on one OpenMP thread.

    faiss splits even a single query over its threads; on a busy machine their start-up and
    contention cost more than they save: measured on 2 shared cores, exact search over 10^5 rows
    took p50 124 ms on 2 threads and 26 ms on 1. The setting is the calling thread's own and is
    restored after.
    """
    faiss = require("faiss", "index")
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        scores, rows = index.search(np.asarray(qvec, np.float32).reshape(1, -1), k)
    finally:
        faiss.omp_set_num_threads(before)
    return scores[0], rows[0]


def recall_at_k(found: np.ndarray, exact: np.ndarray, k: int = 10) -> float:
    """Mean share of each query's exact top ``k`` rows that ``found`` (its top ``k``) holds."""
    hits = [
        len(set(f[:k].tolist()) & set(e[:k].tolist())) / k
        for f, e in zip(found, exact, strict=True)
    ]
    return float(np.mean(hits)) if hits else 1.0
