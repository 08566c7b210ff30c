"""Image embedders: CLIP-style models that put images and texts in one vector space.

The index uses an image embedder (when given one) to store a pixel vector per image next to the
caption/context vector; retrievers can then match a question against pixels through the model's
text tower. No CLIP weights ship in any package, so :class:`CLIPImageEmbedder` loads a hub id
(needs the hub or a local cache) or a local folder saved with ``save_pretrained``.

Example (needs the model in the Hugging Face cache, or a local folder)::

    emb = CLIPImageEmbedder("openai/clip-vit-base-patch32")
    emb.encode_images(["figure.png"]).shape       # (1, 512)
    emb.encode_texts(["a crop tool icon"]).shape  # (1, 512)
"""

from __future__ import annotations

import logging
import threading
import time
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

from m2io.embed.text import EmbedderLoadError, first_line, quiet_model_loading
from m2io.registry import require
from m2io.safety import open_regular

logger = logging.getLogger(__name__)


@runtime_checkable
class ImageEmbedder(Protocol):
    """Maps images and texts into one space of L2-normalised float32 vectors."""

    name: str
    dim: int

    def encode_images(self, paths: list[str]) -> np.ndarray:
        """Return ``(len(paths), dim)``; an unreadable image gets a zero row, never an error."""
        ...

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """Return ``(len(texts), dim)`` vectors comparable with :meth:`encode_images`."""
        ...


def _normalise(vecs: np.ndarray) -> np.ndarray:
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.where(norms > 0, norms, 1.0)


def _features(out: Any) -> Any:
    """``get_*_features`` returns a tensor in transformers 4 and an output object in 5."""
    return out if hasattr(out, "detach") else out.pooler_output


class CLIPImageEmbedder:
    """A transformers ``CLIPModel`` + ``CLIPProcessor`` loaded from a hub id or a local folder.

    Args:
        model: Hub id (``"openai/clip-vit-base-patch32"``) or a folder holding the model, its
            tokenizer and its image processor.
        device: torch device (``"cpu"``, ``"cuda"``); ``None`` picks CUDA when available.
        batch_size: Images or texts per forward pass.

    Unreadable or missing images are logged and embedded as zero vectors, so one broken file
    never stops an index build; a zero vector scores 0 against every query.
    """

    def __init__(self, model: str, device: str | None = None, *, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        torch = require("torch", "index")
        transformers = require("transformers", "index")
        self.name = str(model)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        t0 = time.perf_counter()
        try:
            with quiet_model_loading():
                self._model = transformers.CLIPModel.from_pretrained(self.name).to(self.device)
                self._processor = transformers.CLIPProcessor.from_pretrained(self.name)
        except OSError as err:
            raise EmbedderLoadError(
                f"cannot load CLIP model {self.name!r}: {first_line(err)}; no CLIP weights ship "
                "with m2io, so offline it needs a local folder (saved with save_pretrained: "
                "config, weights, tokenizer and processor files) or a hub id already in the cache"
            ) from err
        logger.info("loaded image embedder %s in %.1f s", self.name, time.perf_counter() - t0)
        self._model.eval()
        self.dim = int(self._model.config.projection_dim)
        self._max_text_len = int(self._model.config.text_config.max_position_embeddings)
        self._lock = threading.Lock()

    def _open(self, path: str) -> Any | None:
        from PIL import Image

        try:
            with open_regular(path) as f, Image.open(f) as img:  # a FIFO is refused, not waited on
                return img.convert("RGB")
        except Exception as err:  # any decoding failure means "no pixels", not a crash
            logger.warning("cannot read image %s (%s); using a zero vector", path, err)
            return None

    def encode_images(self, paths: list[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(paths), self.dim), dtype=np.float32)
        for start in range(0, len(paths), self.batch_size):
            batch = [
                (i, self._open(p)) for i, p in enumerate(paths[start : start + self.batch_size])
            ]
            ok = [(i, img) for i, img in batch if img is not None]
            if not ok:
                continue
            inputs = self._processor(images=[img for _, img in ok], return_tensors="pt")
            with self._lock, torch.no_grad():
                feats = _features(
                    self._model.get_image_features(
                        pixel_values=inputs["pixel_values"].to(self.device)
                    )
                )
            vecs = _normalise(feats.float().cpu().numpy())
            for row, (i, _) in zip(vecs, ok, strict=True):
                out[start + i] = row
        return out

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        import torch

        chunks = []
        for start in range(0, len(texts), self.batch_size):
            inputs = self._processor.tokenizer(
                list(texts[start : start + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self._max_text_len,
                return_tensors="pt",
            )
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            with self._lock, torch.no_grad():
                feats = _features(self._model.get_text_features(**inputs))
            chunks.append(_normalise(feats.float().cpu().numpy()))
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.concatenate(chunks)


@lru_cache(maxsize=2)
def load_image_embedder(model: str) -> CLIPImageEmbedder:
    """Load (once per process) and return the CLIP embedder for ``model``."""
    return CLIPImageEmbedder(model)
