"""Vectors in Milvus instead of a faiss file: the same index folder, queried the same way.

An index built with ``store=VectorStore("milvus")`` (``m2io index --store milvus``) keeps its rows, BM25 and manifest in the folder
as usual, but writes each vector set to a Milvus collection and leaves a pointer file in place
of the faiss file (``chunks.milvus.json`` beside where ``chunks.faiss`` would be). ``Index.open``
reads it through :func:`m2io.index.ann.read_store_vectors`, which returns a
:class:`MilvusVectors` that answers ``search`` like a faiss index, so retrievers and the CLI work
unchanged. The vectors go to ``milvus-lite`` (embedded: a database file, by default
``milvus.db`` inside the index folder, so the folder stays self-contained and movable) or to a
Milvus server or cluster by URI (``VectorStore("milvus", "http://host:19530")``; the command line
reads ``--milvus-uri`` or ``$M2IO_MILVUS_URI``). Both are written through pymilvus; a server is
searched through pymilvus too, milvus-lite by calling its collections in this process (pymilvus
would reach it through a loopback gRPC server of its own, which cost more than the search).

What differs from the embedded store (see ``docs/scaling.md``): the lexical half stays bm25s in
the folder (Milvus's BM25 function is not used yet); collections of an index replaced on a
server are not dropped (each build writes new ones, named after a random build id); and a
search is a network round trip on a server.

Example::

    build_index(docs, "gimp.index", store=VectorStore("milvus"))   # in gimp.index/milvus.db
    Index.open("gimp.index").search_chunks(q, 5)
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from m2io.registry import require

logger = logging.getLogger(__name__)

URI_ENV = "M2IO_MILVUS_URI"
"""The environment variable the command line reads a Milvus URI from when ``--milvus-uri`` is not
given (only there: the library takes :attr:`m2io.index.ann.VectorStore.milvus_uri`)."""
LITE_DB = "milvus.db"
POINTER_SUFFIX = ".milvus.json"
INSERT_BATCH = 5_000
ROW_CACHE = 8_192
"""Vectors :meth:`MilvusVectors.fetch` keeps (least recently fetched dropped): 12 MB at 384-d."""
FETCH_BLOCK = 1_000
"""Rows per query when :meth:`MilvusVectors.fetch` reads a whole small collection (1.5 MB of
reply at 384-d)."""
_ROW, _VEC = "row", "vec"


def pointer_path(faiss_path: Path) -> Path:
    """``chunks.faiss`` -> ``chunks.milvus.json``."""
    return faiss_path.with_name(faiss_path.stem + POINTER_SUFFIX)


def _is_server(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "tcp://", "grpc://"))


def _client(uri: str, folder: Path) -> Any:
    pymilvus = require("pymilvus", "milvus")
    if not _is_server(uri):
        path = Path(uri)
        uri = str(path if path.is_absolute() else folder / path)
    return pymilvus.MilvusClient(uri)


class _NotImplementedRpc(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Method not implemented" not in record.getMessage()


@contextmanager
def _quiet_lite_rpc() -> Iterator[None]:
    """Drop the traceback milvus-lite's in-process server logs when pymilvus asks it for an RPC it
    does not implement (``AllocTimestamp``, on ``create_collection``; the call succeeds)."""
    log = logging.getLogger("grpc._server")
    quiet = _NotImplementedRpc()
    log.addFilter(quiet)
    try:
        yield
    finally:
        log.removeFilter(quiet)


def _release_lite(uri: str, folder: Path) -> None:
    """Stop the in-process milvus-lite server of ``uri`` (it holds a lock on the database
    folder, which a build renames into place afterwards)."""
    if _is_server(uri):
        return
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return
    path = Path(uri)
    server_manager_instance.release_server(str(path if path.is_absolute() else folder / path))


MilvusIndex = tuple[str, dict[str, int], dict[str, int]]
"""A Milvus index: ``(type, build params, search params)``."""
EXACT_INDEX: MilvusIndex = ("IVF_FLAT", {"nlist": 1}, {"nprobe": 1})
"""One cell, searched whole: every vector scored, as faiss's ``IndexFlatIP`` does (see
:func:`m2io.index.ann.milvus_index`)."""
INDEX_CHOICES: dict[str, MilvusIndex] = {
    "FLAT": ("FLAT", {}, {}),
    "IVF_FLAT": EXACT_INDEX,
    "HNSW": ("HNSW", {"M": 32, "efConstruction": 64}, {"ef": 128}),
}
"""Index types a benchmark may compare by name (milvus-lite 3 also has ``IVF_SQ8`` and
``HNSW_SQ``, lossy)."""


def write_milvus_vectors(
    faiss_path: Path,
    vecs: np.ndarray,
    uri: str | None = None,
    *,
    index: MilvusIndex = EXACT_INDEX,
) -> Path:
    """Write ``vecs`` (unit rows) to a new Milvus collection and the pointer file that names it;
    returns the pointer file. Row ``i`` is primary key ``i``; the collection is searched by inner
    product (cosine) over ``index`` (:func:`m2io.index.ann.milvus_index` chooses it by size), and
    the pointer file records the search parameters its readers use."""
    pymilvus = require("pymilvus", "milvus")
    uri = uri or LITE_DB
    folder = faiss_path.parent
    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    n, dim = vecs.shape
    kind, build, search = index
    name = f"m2io_{uuid.uuid4().hex[:12]}_{faiss_path.stem}"
    client = _client(uri, folder)
    try:
        schema = client.create_schema(auto_id=False)
        schema.add_field(_ROW, pymilvus.DataType.INT64, is_primary=True)
        schema.add_field(_VEC, pymilvus.DataType.FLOAT_VECTOR, dim=dim)
        params = client.prepare_index_params()
        # build parameters as one JSON "params" value: the form milvus-lite reads and servers
        # accept (pymilvus would send each as its own key, which milvus-lite ignores)
        params.add_index(
            field_name=_VEC, index_type=kind, metric_type="IP", params={"params": build}
        )
        with _quiet_lite_rpc():
            client.create_collection(name, schema=schema, index_params=params)
        for start in range(0, n, INSERT_BATCH):
            block = vecs[start : start + INSERT_BATCH]
            client.insert(name, [{_ROW: start + i, _VEC: v.tolist()} for i, v in enumerate(block)])
        # sealed and indexed now, not on the first search (a server indexes sealed segments
        # only; milvus-lite scans unflushed rows in Python, 10x slower)
        client.flush(name)
    finally:
        client.close()
        _release_lite(uri, folder)
    pointer = pointer_path(faiss_path)
    record = {
        "uri": uri,
        "collection": name,
        "dim": dim,
        "count": n,
        "index": {"type": kind, "params": build, "search": search},
    }
    pointer.write_text(json.dumps({"milvus": record}, indent=2) + "\n", encoding="utf-8")
    logger.info("%s: %d vectors in Milvus collection %s (%s)", faiss_path.name, n, name, uri)
    return pointer


class _ServerCollection:
    """A collection on a Milvus server, through pymilvus (each call a gRPC round trip)."""

    def __init__(self, uri: str, name: str) -> None:
        self.name = name
        self._client = _client(uri, Path("."))
        self._client.load_collection(name)

    def count(self) -> int:
        return int(self._client.get_collection_stats(self.name).get("row_count", -1))

    def search(self, queries: list[list[float]], k: int, params: dict) -> list[list[dict]]:
        return self._client.search(
            self.name, data=queries, limit=k, search_params=params, output_fields=[]
        )

    def get(self, rows: list[int]) -> list[dict]:
        return self._client.query(self.name, ids=rows, output_fields=[_VEC])


class _LiteCollection:
    """A collection in a milvus-lite database, called in process.

    pymilvus reaches milvus-lite (3.x, pure Python) through a gRPC server that it starts on a
    loopback port inside this same process: each call is serialised, sent, parsed and answered
    by a server thread. Calling milvus-lite's own ``Collection`` skips that hop, which cost
    more than the search itself (docs/scaling.md, "Vectors in Milvus"); the database files
    are the same either way."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self._col = _lite_db(path).get_collection(name)
        self._col.load()

    def count(self) -> int:
        return int(self._col.num_entities)

    def search(self, queries: list[list[float]], k: int, params: dict) -> list[list[dict]]:
        return self._col.search(
            queries,
            top_k=k,
            metric_type=params.get("metric_type", "IP"),
            output_fields=[],
            search_params=params.get("params") or None,
        )

    def get(self, rows: list[int]) -> list[dict]:
        return self._col.get(rows, output_fields=[_VEC])


_LITE: dict[tuple[str, int, int], Any] = {}
_LITE_LOCK = threading.Lock()


def _lite_db(path: Path) -> Any:
    """The process's one open milvus-lite database at ``path`` (it takes a lock on the folder;
    a second open in the same process would be refused). Keyed by the folder's identity too: an
    index swapped in under the same name is another database."""
    require("milvus_lite", "milvus")
    from milvus_lite.db import MilvusLite
    from milvus_lite.exceptions import DataDirLockedError

    path = path.resolve()
    st = path.stat()
    key = (str(path), st.st_dev, st.st_ino)
    with _LITE_LOCK:
        db = _LITE.get(key)
        if db is None or db.closed:
            try:
                db = _LITE[key] = MilvusLite(str(path))
            except DataDirLockedError as err:
                raise RuntimeError(
                    f"{path}: the milvus-lite database is open in another process, and "
                    "milvus-lite allows one; query it from that process (m2io serve forks its "
                    f"workers from one) or keep the vectors on a Milvus server ({err})"
                ) from err
        return db


class MilvusVectors:
    """A Milvus collection seen as a faiss index (``ntotal``, ``d``, ``search``) and, through
    :meth:`rows`, as the row-indexable vectors ``Index`` keeps. A milvus-lite database is called
    in process (:class:`_LiteCollection`), a server through pymilvus."""

    def __init__(self, pointer: Path) -> None:
        try:
            record = json.loads(pointer.read_text(encoding="utf-8"))["milvus"]
            self.collection = str(record["collection"])
            self.d, self.ntotal = int(record["dim"]), int(record["count"])
            uri = str(record["uri"])
            index = record.get("index") or {"type": "FLAT", "search": {}}
            self.index_type = str(index["type"])
            self.search_params = {"metric_type": "IP", "params": dict(index.get("search") or {})}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            raise ValueError(f"{pointer}: not a Milvus pointer file ({err})") from err
        self.uri = uri
        self._rows: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        if _is_server(uri):
            self._store: Any = _ServerCollection(uri, self.collection)
        else:
            path = Path(uri)
            self._store = _LiteCollection(
                path if path.is_absolute() else pointer.parent / path, self.collection
            )
        count = self._store.count()
        if count not in (-1, self.ntotal):
            raise ValueError(
                f"{pointer}: collection {self.collection} holds {count} rows, "
                f"the pointer says {self.ntotal}"
            )

    @property
    def remote(self) -> bool:
        """Whether a search is a network round trip (a server), not a call in this process."""
        return isinstance(self._store, _ServerCollection)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)`` of shape ``(len(queries), k)``, best first; -1 pads missing rows."""
        queries = np.asarray(queries, dtype=np.float32).reshape(-1, self.d)
        hits = self._store.search([q.tolist() for q in queries], k, self.search_params)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        for i, found in enumerate(hits):
            for j, hit in enumerate(found[:k]):
                rows[i, j] = int(hit.get(_ROW, hit.get("id")))
                scores[i, j] = float(hit["distance"])
        return scores, rows

    def fetch(self, rows: list[int]) -> np.ndarray:
        """The vectors of ``rows``, in that order: one query for those not fetched lately
        (the last :data:`ROW_CACHE` rows are kept; a retriever asks for the same section rows
        twice per question, and popular sections across questions). On a server, a collection
        of at most :data:`ROW_CACHE` rows is read whole on the first fetch, so later questions
        cost one search round trip and no row fetch."""
        if not rows:
            return np.zeros((0, self.d), dtype=np.float32)
        with self._lock:
            known = {r: self._rows[r] for r in rows if r in self._rows}
        want = list(dict.fromkeys(r for r in rows if r not in known))
        if want and self.remote and self.ntotal <= ROW_CACHE:
            want = [r for r in range(self.ntotal) if r not in known]
        if want:
            got = [
                row
                for start in range(0, len(want), FETCH_BLOCK)
                for row in self._store.get(want[start : start + FETCH_BLOCK])
            ]
            fresh = {int(r[_ROW]): np.asarray(r[_VEC], dtype=np.float32) for r in got}
            missing = [r for r in want if r not in fresh]
            if missing:
                raise IndexError(f"rows {missing[:5]} are not in collection {self.collection}")
            known.update(fresh)
            with self._lock:
                self._rows.update(fresh)
                while len(self._rows) > ROW_CACHE:
                    self._rows.popitem(last=False)
        return np.stack([known[r] for r in rows])

    def rows(self) -> MilvusRows:
        return MilvusRows(self)


class MilvusRows:
    """The vectors of a :class:`MilvusVectors` by row: ``len``, ``shape``, ``vecs[rows]``,
    iteration and ``np.asarray`` (which fetches them all)."""

    dtype = np.dtype(np.float32)
    ndim = 2

    def __init__(self, store: MilvusVectors) -> None:
        self.store = store
        self.shape = (store.ntotal, store.d)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: Any) -> np.ndarray:
        if isinstance(rows, (int, np.integer)):
            row = int(rows) + len(self) if rows < 0 else int(rows)
            return self.store.fetch([row])[0]
        if isinstance(rows, slice):
            rows = range(*rows.indices(len(self)))
        keys = [int(r) + len(self) if r < 0 else int(r) for r in np.asarray(list(rows)).ravel()]
        return self.store.fetch(keys)

    def __iter__(self) -> Any:
        for start in range(0, len(self), INSERT_BATCH):
            yield from self[start : start + INSERT_BATCH]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self[0 : len(self)], dtype=dtype or np.float32)
