"""A persistent, embedded index (no server): open a built folder and search it.

Opening maps the faiss files and the bm25s arrays read-only and checks every JSONL row once,
keeping the rows themselves in their mapped files (:mod:`m2io.index.rows`): every process that
opens the same index shares one copy of it in the page cache. It computes no embedding. The query
embedder is loaded lazily, by the name in the manifest, on the first dense query, unless one is
injected (tests, or a process that already holds the model).

Example (on the GIMP manual)::

    index = Index.open("gimp.index")
    q = index.embed_query("How do I crop an image?")
    scores, rows = index.search_chunks(q, 5)
    index.chunks[rows[0]].text[:40]  # 'You can crop image in two ways: Crop to '
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from m2io.embed.image import ImageEmbedder
from m2io.embed.text import TextEmbedder
from m2io.index.ann import VectorStore, read_store_vectors, search_one, store_of
from m2io.index.lexical import LexicalIndex
from m2io.index.manifest import ADDED, REBUILD_HINT, ROW_BASE, IndexFormatError, IndexManifest
from m2io.index.paths import open_path, resolve_root
from m2io.index.records import (
    candidate_from_row,
    check_chunk_row,
    chunk_from_row,
)
from m2io.index.rows import Ragged, RowFile, Spans, scan_rows
from m2io.index.sentences import SentenceVectors, attach, read_sentence_vectors
from m2io.index.vectors import Vectors, normalise
from m2io.types import Candidate, Chunk

logger = logging.getLogger(__name__)

CHUNKS, IMAGES = "chunks.jsonl", "images.jsonl"
_LOAD_ERRORS = (
    OSError,
    KeyError,
    IndexError,
    ValueError,
    RuntimeError,
    TypeError,
    AttributeError,
    EOFError,
)
"""What reading a damaged faiss or bm25s file raises (faiss: RuntimeError; numpy: ValueError…)."""

T = TypeVar("T")


class Index:
    """A built index, opened. Use :meth:`open`; build one with :func:`~m2io.index.build_index`.

    Attributes:
        folder: Where it was read from.
        manifest: How it was built.
        chunks: Chunks in row order, each with its images (a sequence that parses each row from
            the mapped ``chunks.jsonl`` when read; see :mod:`m2io.index.rows`).
        candidates: One per image occurrence, in row order (``score`` 0; retrievers set it).
        chunk_image_rows: For each chunk, the candidate rows of its images, in chunk order.
        corpus_root: The corpus folder (resolved) that every image path lies inside, or None when
            it is gone (then no image has a path). Renderers confine files to it.
        chunk_sections: For each chunk, the document span ``(start, end)`` of its section.
        decorative: Candidate rows of decorative images (never offered as figures).
        near_duplicates: The manifest's near-duplicate documents, ``{doc_id: {"kind", "of",
            "reason"}}``.
        doc_rows: For each document, its chunk rows in document order.
        chunk_words: For each chunk, the words of its text (``len(text.split())``): what the
            retriever's context budget counts, without reading the row.
        titled_chunks: How many chunks have a title.
        chunk_languages: How many chunks each source language (``""``: unknown) holds.
            These three are counted when the index is opened, so that a retriever need not
            read every row (see :mod:`m2io.index.rows`).
        added_root: The folder (resolved) holding documents added after the build and their
            images (:mod:`m2io.index.update`), or None when none were added; their image paths
            lie inside it, the corpus images' inside ``corpus_root``.
        sentence_vectors: The stored vectors of the sentences an extractive answer quotes
            (:mod:`m2io.index.sentences`), None for an index built without them.
    """

    def __init__(
        self,
        folder: Path,
        manifest: IndexManifest,
        chunks: Sequence[Chunk],
        chunk_image_rows: Sequence[list[int]],
        candidates: Sequence[Candidate],
        *,
        chunk_vectors: Vectors,
        image_vectors: Vectors,
        pixel_vectors: Vectors | None,
        lexical: LexicalIndex,
        embedder: TextEmbedder | None = None,
        image_embedder: ImageEmbedder | None = None,
        corpus_root: Path | None = None,
        chunk_sections: Sequence[tuple[int, int]] | None = None,
        decorative: frozenset[int] = frozenset(),
        added_root: Path | None = None,
        doc_rows: Mapping[str, Sequence[int]] | None = None,
        chunk_words: Sequence[int] | None = None,
        titled_chunks: int | None = None,
        chunk_languages: Mapping[str, int] | None = None,
        sentence_vectors: SentenceVectors | None = None,
    ) -> None:
        self.folder = folder
        self.sentence_vectors = sentence_vectors
        self.added_root = added_root
        self.chunk_sections = chunk_sections or [(c.start, c.start + len(c.text)) for c in chunks]
        self.decorative = decorative
        self.near_duplicates = dict(manifest.near_duplicates)
        self.doc_rows = doc_rows if doc_rows is not None else _doc_rows(c.doc_id for c in chunks)
        self.chunk_words = (
            chunk_words if chunk_words is not None else [len(c.text.split()) for c in chunks]
        )
        self.titled_chunks = (
            titled_chunks if titled_chunks is not None else sum(1 for c in chunks if c.title)
        )
        self.chunk_languages = Counter(
            chunk_languages
            if chunk_languages is not None
            else (c.source.language if c.source else "" for c in chunks)
        )
        self.manifest = manifest
        self.corpus_root = corpus_root
        self.chunks = chunks
        self.chunk_image_rows = chunk_image_rows
        self.candidates = candidates
        self.lexical = lexical
        self._chunk_index, self._chunk_vecs = chunk_vectors
        self._image_index, self._image_vecs = image_vectors
        self._pixel_index, self._pixel_vecs = pixel_vectors or (None, None)
        if embedder is not None:
            self._check_embedder(embedder.name, embedder.dim, manifest.embedder, manifest.dim)
            self.__dict__["embedder"] = embedder  # fills the cached_property
            self._seed(embedder)
        if image_embedder is not None:
            if manifest.image_embedder is None:
                raise ValueError(f"index {folder} holds no image vectors; no image embedder needed")
            self._check_embedder(
                image_embedder.name, image_embedder.dim, manifest.image_embedder, manifest.image_dim
            )
            self.__dict__["image_embedder"] = image_embedder

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        embedder: TextEmbedder | None = None,
        image_embedder: ImageEmbedder | None = None,
        corpus_root: str | os.PathLike[str] | None = None,
    ) -> Index:
        """Load the index in ``folder``.

        Args:
            folder: A folder written by :func:`~m2io.index.build_index`.
            embedder: Query embedder to use instead of loading the manifest's one; its dim must
                match the index.
            image_embedder: Image embedder for pixel search, likewise.
            corpus_root: The operator's corpus folder: image paths are resolved against it and
                the manifest's recorded root is ignored (a served index cannot choose it).

        Image paths are resolved against the corpus root and kept only inside it: a row whose
        path is absolute or leads outside (also through a symlink) gets path None, and one
        warning counts them. A missing corpus gives one warning; text search still works.

        Raises:
            IndexFormatError: ``folder`` is not an index, is incomplete, has another format
                version, or its files disagree with its manifest (row counts, vector sizes, row
                keys and types). The message names the folder and file (and line) and says how to
                rebuild.
        """
        folder = Path(folder)
        root = Path(corpus_root) if corpus_root is not None else None
        return _open_stable(folder, lambda: cls._load(folder, embedder, image_embedder, root))

    @classmethod
    def _load(
        cls,
        folder: Path,
        embedder: TextEmbedder | None,
        image_embedder: ImageEmbedder | None,
        corpus_root: Path | None = None,
    ) -> Index:
        """One attempt of :meth:`open`."""
        manifest = IndexManifest.read(folder)
        root = resolve_root(folder, manifest, corpus_root)
        added = _added_root(folder)
        candidates, decorative = _read_candidates(folder, root, added)
        chunks, image_rows, sections, doc_rows, counts = _read_chunks(folder, candidates)
        _check_count(folder, CHUNKS, len(chunks), manifest.n_chunks)
        _check_count(folder, IMAGES, len(candidates), manifest.n_images)
        try:
            chunk_vectors = read_store_vectors(folder / "chunks.faiss")
            image_vectors = read_store_vectors(folder / "images.faiss")
            pixel_vectors = (
                read_store_vectors(folder / "images_pixels.faiss")
                if manifest.image_embedder is not None
                else None
            )
            lexical = LexicalIndex.load(folder / "bm25", manifest.n_chunks)
            bm25_rows = lexical.stored_docs
        except _LOAD_ERRORS as err:
            raise IndexFormatError(
                f"{folder}: incomplete or corrupt index: {err}; {REBUILD_HINT}"
            ) from err
        _check_vectors(folder, "chunks.faiss", chunk_vectors, manifest.n_chunks, manifest.dim)
        _check_vectors(folder, "images.faiss", image_vectors, manifest.n_images, manifest.dim)
        if pixel_vectors is not None:
            _check_vectors(
                folder,
                "images_pixels.faiss",
                pixel_vectors,
                manifest.n_images,
                manifest.image_dim or 0,
            )
        _check_count(folder, "bm25", bm25_rows, manifest.n_chunks)
        if counts.unnamed:
            logger.info(
                "%s: %d chunks run into a later section and do not name it (built before "
                "chunks listed their sections): their sentences are cited by the section they "
                "start in; %s",
                folder,
                counts.unnamed,
                REBUILD_HINT,
            )
        return cls(
            folder,
            manifest,
            chunks,
            image_rows,
            candidates,
            chunk_vectors=chunk_vectors,
            image_vectors=image_vectors,
            pixel_vectors=pixel_vectors,
            lexical=lexical,
            embedder=embedder,
            image_embedder=image_embedder,
            corpus_root=root,
            chunk_sections=sections,
            decorative=decorative,
            added_root=added,
            doc_rows=doc_rows,
            chunk_words=counts.words,
            titled_chunks=counts.titled,
            chunk_languages=counts.languages,
            sentence_vectors=read_sentence_vectors(folder, manifest.dim),
        )

    @staticmethod
    def _check_embedder(name: str, dim: int, want_name: str | None, want_dim: int | None) -> None:
        if dim != want_dim:
            raise ValueError(
                f"embedder {name!r} makes {dim}-d vectors; the index was built with "
                f"{want_name!r} ({want_dim}-d)"
            )
        if name != want_name:
            logger.warning("index built with %r, queried with %r", want_name, name)

    @cached_property
    def embedder(self) -> TextEmbedder:
        """The query text embedder, loaded on first use by the manifest's name."""
        from m2io.embed.text import load_text_embedder

        emb = load_text_embedder(self.manifest.embedder)
        self._check_embedder(emb.name, emb.dim, self.manifest.embedder, self.manifest.dim)
        self._seed(emb)
        return emb

    def _seed(self, emb: TextEmbedder) -> None:
        """Hand the stored image vectors and sentence vectors to ``emb`` (if it can keep them) so
        inserters that embed the same image texts and quoted sentences get them without
        recomputing."""
        remember = getattr(emb, "remember", None)
        if remember is not None and len(self.candidates) == len(self._image_vecs):
            from m2io.embed.text import image_text

            remember([image_text(c) for c in self.candidates], self._image_vecs)
        attach(emb, self.sentence_vectors, self.manifest.embedder)

    @cached_property
    def image_embedder(self) -> ImageEmbedder:
        """The image embedder named by the manifest, loaded on first use."""
        if self.manifest.image_embedder is None:
            raise ValueError(f"index {self.folder} was built without an image embedder")
        from m2io.embed.image import load_image_embedder

        return load_image_embedder(self.manifest.image_embedder)

    @property
    def has_pixels(self) -> bool:
        return self._pixel_index is not None

    def vector_store(self) -> VectorStore:
        """Where this index keeps its vectors (what documents added later are written to)."""
        return store_of(self._chunk_index)

    def stored_vectors(self, kind: str) -> np.ndarray:
        """The stored unit vectors of ``"chunks"``, ``"images"`` or ``"pixels"``, one per row, for
        updates that keep them instead of embedding again (:mod:`m2io.index.update`)."""
        if kind == "chunks":
            return self._chunk_vecs
        if kind == "images":
            return self._image_vecs
        if kind == "pixels" and self._pixel_vecs is not None:
            return np.asarray(self._pixel_vecs, dtype=np.float32)
        raise ValueError(f"index {self.folder} holds no {kind!r} vectors")

    def embed_query(self, query: str) -> np.ndarray:
        """The query's unit text vector, shape ``(dim,)``."""
        return normalise(self.embedder.encode([query], batch_size=1))[0]

    def search_chunks(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by cosine: ``(scores, rows)``, best first."""
        return self._searched("chunks", self._chunk_index, qvec, k)

    def _searched(
        self, kind: str, index: object, qvec: np.ndarray, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """One search per query vector and vector set: this thread's last search of ``kind``
        answers a repeat for the same vector and no deeper ``k`` (a retriever reads the image
        rows twice per question). Costs nothing in faiss; saves a round trip in Milvus."""
        memo = self.__dict__.setdefault("_memo", threading.local())
        key = np.asarray(qvec, np.float32).tobytes()
        last = getattr(memo, kind, None)
        if last is not None and last[0] == key and last[1] >= k:
            return last[2][:k], last[3][:k]
        scores, rows = _search(index, qvec, k)
        setattr(memo, kind, (key, k, scores, rows))
        return scores, rows

    def prefetch(self, qvec: np.ndarray, chunks: int, images: int) -> None:
        """Search the chunk vectors ``chunks`` deep and the image vectors ``images`` deep for
        ``qvec`` now, so that this thread's next :meth:`search_chunks` and
        :meth:`search_images` for it (no deeper) are answered from memory. Where both sets are on
        a Milvus server the two requests go out together: a question waits for one round trip,
        not two. Elsewhere (faiss, milvus-lite in process) they run one after the other."""
        jobs = [("chunks", self._chunk_index, chunks), ("images", self._image_index, images)]
        if not all(getattr(index, "remote", False) for _, index, _ in jobs):
            for kind, index, k in jobs:
                self._searched(kind, index, qvec, k)
            return
        memo = self.__dict__.setdefault("_memo", threading.local())
        key = np.asarray(qvec, np.float32).tobytes()
        futures = [(kind, k, _pool().submit(_search, index, qvec, k)) for kind, index, k in jobs]
        for kind, k, future in futures:
            scores, rows = future.result()
            setattr(memo, kind, (key, k, scores, rows))

    def chunk_similarity(self, qvec: np.ndarray, rows: list[int]) -> np.ndarray:
        """Cosine between the query vector and the given chunk rows.

        Vectors held elsewhere (Milvus) are not fetched for rows that this thread's last chunk
        search for the same vector already scored (the search's scores are these cosines).
        """
        if isinstance(self._chunk_vecs, np.ndarray):
            return self._chunk_vecs[rows] @ qvec
        last = getattr(self.__dict__.get("_memo"), "chunks", None)
        known: dict[int, float] = {}
        if last is not None and last[0] == np.asarray(qvec, np.float32).tobytes():
            known = {int(r): float(s) for s, r in zip(last[2], last[3], strict=True) if r >= 0}
        want = [r for r in rows if r not in known]
        if want:
            known.update(zip(want, (self._chunk_vecs[want] @ qvec).tolist(), strict=True))
        return np.array([known[r] for r in rows], dtype=np.float32)

    def search_images(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` image occurrences by caption + context vector: ``(scores, rows)``."""
        return self._searched("images", self._image_index, qvec, k)

    def search_pixels(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` image occurrences by pixel vector against the image embedder's text vector."""
        if self._pixel_index is None:
            raise ValueError(f"index {self.folder} holds no pixel vectors")
        qvec = normalise(self.image_embedder.encode_texts([query]))[0]
        return _search(self._pixel_index, qvec, k)

    def __repr__(self) -> str:
        m = self.manifest
        return (
            f"Index({str(self.folder)!r}, chunks={m.n_chunks}, images={m.n_images}, "
            f"embedder={m.embedder!r})"
        )


_POOL: tuple[int, ThreadPoolExecutor] | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    """Threads that wait on remote searches (:meth:`Index.prefetch`), this process's own: a
    worker forked from a process that had them (``m2io serve --workers``) starts its own."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid():
            _POOL = (os.getpid(), ThreadPoolExecutor(8, thread_name_prefix="m2io-search"))
        return _POOL[1]


def _search(index: object, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, index.ntotal)  # type: ignore[attr-defined]
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    return search_one(index, qvec, k)  # one thread: faster for a single query (index/ann.py)


def _read_candidates(
    folder: Path, root: Path | None, added: Path | None = None
) -> tuple[RowFile[Candidate], frozenset[int]]:
    """The image rows, each read with its path confined to ``root`` (rows of added documents:
    to ``added``; one warning counts the refused), and the rows flagged decorative."""
    refused: list[str] = []
    decorative: set[int] = set()

    def check(row: Any, n: int) -> None:
        candidate_from_row(row)
        if row["decorative"]:
            decorative.add(n)
        if open_path(row["path"], _row_root(row, root, added))[1]:
            refused.append(row["path"])

    def parse(row: Any) -> Candidate:
        cand = candidate_from_row(row)
        path, _ = open_path(row["path"], _row_root(row, root, added))
        return replace(cand, image=replace(cand.image, path=path))

    buf, starts = scan_rows(folder / IMAGES, check)
    if refused:
        logger.warning(
            "index %s: %d image paths outside the corpus root refused (root %s; first: %r); "
            "those images have no file",
            folder,
            len(refused),
            root,
            refused[0][:200],
        )
    return RowFile(folder / IMAGES, buf, starts, parse), frozenset(decorative)


def _read_chunks(
    folder: Path, candidates: Sequence[Candidate]
) -> tuple[RowFile[Chunk], Ragged, Spans, dict[str, Sequence[int]], _Counts]:
    """The chunk rows (each read when asked), each chunk's image rows and section span, each
    document's chunk rows and the counts of :class:`_Counts`, all from one check of each row
    here (without building the chunks)."""
    ptr, images, spans, docs, words = [0], [], [], [], []
    counts = _Counts(np.zeros(0, dtype=np.int32), 0, Counter())
    n_images = len(candidates)

    def check(row: Any, _n: int) -> None:
        src, pairs = check_chunk_row(row, n_images)
        counts.titled += bool(row["title"])
        counts.languages[src.get("language", "")] += 1
        images.extend(i for i, _ in pairs)
        ptr.append(len(images))
        spans.extend(row["section"])
        if "sections" not in row and row["start"] + len(row["text"].rstrip()) > row["section"][1]:
            counts.unnamed += 1  # crosses into a later section and does not name it
        docs.append(sys.intern(row["doc_id"]))
        words.append(len(row["text"].split()))

    buf, starts = scan_rows(folder / CHUNKS, check)

    def parse(row: Any) -> Chunk:  # the bytes were checked above; the file is never rewritten
        return chunk_from_row(row, candidates, checked=True)[0]

    chunks = RowFile(folder / CHUNKS, buf, starts, parse)
    image_rows = Ragged(np.asarray(ptr, dtype=np.int64), np.asarray(images, dtype=np.int64))
    counts.words = np.asarray(words, dtype=np.int32)
    spans_of = Spans(np.asarray(spans, dtype=np.int64))
    return chunks, image_rows, spans_of, _doc_rows(docs), counts


@dataclass
class _Counts:
    """What :func:`_read_chunks` counts: each chunk's words, titled chunks, chunks per language,
    and chunks that run into a later section without naming it (an index built before chunk
    rows listed their ``sections``)."""

    words: np.ndarray
    titled: int
    languages: Counter[str]
    unnamed: int = 0


def _doc_rows(doc_ids: Any) -> dict[str, Sequence[int]]:
    """For each document, its chunk rows in order: a ``range`` where they follow each other (as
    a build writes them), a list where they do not."""
    rows: dict[str, list[int]] = {}
    for row, doc_id in enumerate(doc_ids):
        rows.setdefault(doc_id, []).append(row)
    return {
        doc_id: range(r[0], r[-1] + 1) if r[-1] - r[0] + 1 == len(r) else r
        for doc_id, r in rows.items()
    }


OPEN_TRIES = 5


def _folder_id(folder: Path) -> tuple[int, int, int] | None:
    """What tells one version of the folder from the next: its inode, and its ctime, because a
    folder swapped in can reuse the inode of one deleted a moment before (two updates during one
    slow open read a manifest and a BM25 index two versions apart, and the inode alone matched)."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_ctime_ns


def _open_stable(folder: Path, load: Callable[[], T]) -> T:
    """``load()``, done again when a build or an update swapped the folder while it read (its
    files then came from two versions of the index, or were briefly missing), so a reader that
    opens during a swap gets one whole version. See :mod:`m2io.index.lock`."""
    for attempt in range(OPEN_TRIES):
        before = _folder_id(folder)
        try:
            with _LOADING:
                loaded = load()
        except IndexFormatError:
            if attempt + 1 == OPEN_TRIES or (before is not None and _folder_id(folder) == before):
                raise
            time.sleep(0.01 * (attempt + 1))
            continue
        if before is not None and _folder_id(folder) == before:
            return loaded
        time.sleep(0.01 * (attempt + 1))
    with _LOADING:
        return load()


_LOADING = threading.Lock()
"""One index load at a time in a process: reading ``.npy`` headers parses them with ``ast``, and
CPython 3.11 can fail with "AST constructor recursion depth mismatch" when two threads do that
at once (a reader opening the index while an update reopens it)."""


def _added_root(folder: Path) -> Path | None:
    """The index's folder of added documents, resolved, if it is a real folder inside the index."""
    path = folder / ADDED
    if path.is_symlink() or not path.is_dir():
        return None
    return path.resolve()


def _row_root(row: Any, root: Path | None, added: Path | None) -> Path | None:
    """The folder an image row's path is relative to: the added-documents folder for a row
    marked ``"base": "added"``, else the corpus root."""
    if isinstance(row, dict) and row.get(ROW_BASE) == ADDED:
        return added
    return root


def _check_count(folder: Path, name: str, got: int, want: int) -> None:
    if got != want:
        raise IndexFormatError(
            f"{folder / name}: holds {got} rows, the manifest says {want}; {REBUILD_HINT}"
        )


def _check_vectors(folder: Path, name: str, vectors: Vectors, rows: int, dim: int) -> None:
    index, _ = vectors
    _check_count(folder, name, int(index.ntotal), rows)
    if int(index.d) != dim:
        raise IndexFormatError(
            f"{folder / name}: holds {index.d}-d vectors, the manifest says {dim}-d; {REBUILD_HINT}"
        )
