"""A persistent, embedded index (no server): open a built folder and search it.

Opening reads JSONL rows, faiss files and the bm25s arrays; it computes no embedding. The query
embedder is loaded lazily, by the name in the manifest, on the first dense query, unless one is
injected (tests, or a process that already holds the model).

Example:
    >>> index = Index.open("gimp.index")
    >>> q = index.embed_query("How do I crop an image?")
    >>> scores, rows = index.search_chunks(q, 5)
    >>> index.chunks[rows[0]].text[:40]
    'You can crop image in two ways: Crop to '
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from m2io.embed.image import ImageEmbedder
from m2io.embed.text import TextEmbedder
from m2io.index.lexical import LexicalIndex
from m2io.index.manifest import REBUILD_HINT, IndexFormatError, IndexManifest
from m2io.index.paths import open_path, resolve_root
from m2io.index.records import RowError, candidate_from_row, chunk_from_row, read_jsonl
from m2io.index.vectors import Vectors, normalise, read_vectors
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
    """A built index, loaded in memory. Use :meth:`open`; build one with
    :func:`~m2io.index.build_index`.

    Attributes:
        folder: Where it was read from.
        manifest: How it was built.
        chunks: Chunks in row order, each with its images.
        candidates: One per image occurrence, in row order (``score`` 0; retrievers set it).
        chunk_image_rows: For each chunk, the candidate rows of its images, in chunk order.
        corpus_root: The corpus folder (resolved) that every image path lies inside, or None when
            it is gone (then no image has a path). Renderers confine files to it.
        chunk_sections: For each chunk, the document span ``(start, end)`` of its section.
        decorative: Candidate rows of decorative images (never offered as figures).
        near_duplicates: The manifest's near-duplicate documents, ``{doc_id: {"kind", "of",
            "reason"}}``.
        doc_rows: For each document, its chunk rows in document order.
    """

    def __init__(
        self,
        folder: Path,
        manifest: IndexManifest,
        chunks: list[Chunk],
        chunk_image_rows: list[list[int]],
        candidates: list[Candidate],
        *,
        chunk_vectors: Vectors,
        image_vectors: Vectors,
        pixel_vectors: Vectors | None,
        lexical: LexicalIndex,
        embedder: TextEmbedder | None = None,
        image_embedder: ImageEmbedder | None = None,
        corpus_root: Path | None = None,
        chunk_sections: list[tuple[int, int]] | None = None,
        decorative: frozenset[int] = frozenset(),
    ) -> None:
        self.folder = folder
        self.chunk_sections = chunk_sections or [(c.start, c.start + len(c.text)) for c in chunks]
        self.decorative = decorative
        self.near_duplicates = dict(manifest.near_duplicates)
        self.doc_rows: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            self.doc_rows.setdefault(chunk.doc_id, []).append(row)
        self.manifest = manifest
        self.corpus_root = corpus_root
        self.chunks = chunks
        self.chunk_image_rows = chunk_image_rows
        self.candidates = candidates
        self.lexical = lexical
        self._chunk_index, self._chunk_vecs = chunk_vectors
        self._image_index, self._image_vecs = image_vectors
        self._pixel_index = pixel_vectors[0] if pixel_vectors is not None else None
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
    ) -> Index:
        """Load the index in ``folder``.

        Args:
            folder: A folder written by :func:`~m2io.index.build_index`.
            embedder: Query embedder to use instead of loading the manifest's one; its dim must
                match the index.
            image_embedder: Image embedder for pixel search, likewise.

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
        manifest = IndexManifest.read(folder)
        root = resolve_root(folder, manifest)
        candidates, decorative = _read_candidates(folder, root)
        triples = _read_rows(folder / CHUNKS, lambda row: chunk_from_row(row, candidates))
        _check_count(folder, CHUNKS, len(triples), manifest.n_chunks)
        _check_count(folder, IMAGES, len(candidates), manifest.n_images)
        try:
            chunk_vectors = read_vectors(folder / "chunks.faiss")
            image_vectors = read_vectors(folder / "images.faiss")
            pixel_vectors = (
                read_vectors(folder / "images_pixels.faiss")
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
        return cls(
            folder,
            manifest,
            [c for c, _, _ in triples],
            [r for _, r, _ in triples],
            candidates,
            chunk_vectors=chunk_vectors,
            image_vectors=image_vectors,
            pixel_vectors=pixel_vectors,
            lexical=lexical,
            embedder=embedder,
            image_embedder=image_embedder,
            corpus_root=root,
            chunk_sections=[s for _, _, s in triples],
            decorative=decorative,
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
        """Hand the stored image vectors to ``emb`` (if it can keep them) so inserters that embed
        the same image texts get them without recomputing."""
        remember = getattr(emb, "remember", None)
        if remember is not None and len(self.candidates) == len(self._image_vecs):
            from m2io.embed.text import image_text

            remember([image_text(c) for c in self.candidates], self._image_vecs)

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

    def embed_query(self, query: str) -> np.ndarray:
        """The query's unit text vector, shape ``(dim,)``."""
        return normalise(self.embedder.encode([query], batch_size=1))[0]

    def search_chunks(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` chunks by cosine: ``(scores, rows)``, best first."""
        return _search(self._chunk_index, qvec, k)

    def chunk_similarity(self, qvec: np.ndarray, rows: list[int]) -> np.ndarray:
        """Cosine between the query vector and the given chunk rows."""
        return self._chunk_vecs[rows] @ qvec

    def search_images(self, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` image occurrences by caption + context vector: ``(scores, rows)``."""
        return _search(self._image_index, qvec, k)

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


def _search(index: object, qvec: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, index.ntotal)  # type: ignore[attr-defined]
    if k <= 0:
        return np.zeros(0, np.float32), np.zeros(0, np.int64)
    scores, rows = index.search(np.asarray(qvec, np.float32).reshape(1, -1), k)  # type: ignore[attr-defined]
    return scores[0], rows[0]


def _read_rows(path: Path, parse: Callable[[Any], T]) -> list[T]:
    """Every row of the JSONL file ``path`` through ``parse``; any failure is an
    :class:`IndexFormatError` naming the file and line."""
    out: list[T] = []
    line = 0
    try:
        for n, value in read_jsonl(path):
            line = n
            out.append(parse(value))
    except RowError as err:
        at = err.line or line
        raise IndexFormatError(f"{path} line {at}: {err}; {REBUILD_HINT}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise IndexFormatError(
            f"{path.parent}: incomplete or corrupt index: {err}; {REBUILD_HINT}"
        ) from err
    return out


def _read_candidates(folder: Path, root: Path | None) -> tuple[list[Candidate], frozenset[int]]:
    """The image rows with their paths confined to ``root`` (one warning counts the refused),
    and the rows flagged decorative."""
    refused: list[str] = []
    decorative: set[int] = set()

    def parse(row: Any) -> Candidate:
        cand = candidate_from_row(row)
        if row["decorative"]:
            decorative.add(len(candidates_seen))
        candidates_seen.append(None)
        path, bad = open_path(row["path"], root)
        if bad:
            refused.append(row["path"])
        return replace(cand, image=replace(cand.image, path=path))

    candidates_seen: list[None] = []
    candidates = _read_rows(folder / IMAGES, parse)
    if refused:
        logger.warning(
            "index %s: %d image paths outside the corpus root refused (root %s; first: %r); "
            "those images have no file",
            folder,
            len(refused),
            root,
            refused[0][:200],
        )
    return candidates, frozenset(decorative)


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
