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
from functools import cached_property
from pathlib import Path

import numpy as np

from m2io.embed.image import ImageEmbedder
from m2io.embed.text import TextEmbedder
from m2io.index.lexical import LexicalIndex
from m2io.index.manifest import MANIFEST, IndexFormatError, IndexManifest
from m2io.index.records import candidate_from_row, chunk_from_row, read_jsonl
from m2io.index.vectors import Vectors, normalise, read_vectors
from m2io.types import Candidate, Chunk

logger = logging.getLogger(__name__)


class Index:
    """A built index, loaded in memory. Use :meth:`open`; build one with
    :func:`~m2io.index.build_index`.

    Attributes:
        folder: Where it was read from.
        manifest: How it was built.
        chunks: Chunks in row order, each with its images.
        candidates: One per image occurrence, in row order (``score`` 0; retrievers set it).
        chunk_image_rows: For each chunk, the candidate rows of its images, in chunk order.
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
    ) -> None:
        self.folder = folder
        self.manifest = manifest
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

        Raises:
            IndexFormatError: ``folder`` is not an index, is incomplete, or has another format
                version. The message names the folder.
        """
        folder = Path(folder)
        manifest = IndexManifest.read(folder)
        try:
            candidates = [candidate_from_row(r) for r in read_jsonl(folder / "images.jsonl")]
            pairs = [chunk_from_row(r, candidates) for r in read_jsonl(folder / "chunks.jsonl")]
            chunk_vectors = read_vectors(folder / "chunks.faiss")
            image_vectors = read_vectors(folder / "images.faiss")
            pixel_vectors = (
                read_vectors(folder / "images_pixels.faiss")
                if manifest.image_embedder is not None
                else None
            )
            lexical = LexicalIndex.load(folder / "bm25", manifest.n_chunks)
        except (OSError, KeyError, IndexError, ValueError, RuntimeError) as err:
            raise IndexFormatError(f"{folder}: incomplete or corrupt index: {err}") from err
        if len(pairs) != manifest.n_chunks or len(candidates) != manifest.n_images:
            raise IndexFormatError(f"{folder}: row counts disagree with its {MANIFEST}")
        return cls(
            folder,
            manifest,
            [c for c, _ in pairs],
            [r for _, r in pairs],
            candidates,
            chunk_vectors=chunk_vectors,
            image_vectors=image_vectors,
            pixel_vectors=pixel_vectors,
            lexical=lexical,
            embedder=embedder,
            image_embedder=image_embedder,
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
