"""Batch embedding on Ray: large batches split into shards, each embedded by a Ray worker that
holds its own copy of the same model and backend; small batches (queries) stay in-process.

The vectors are the ones the single-process embedder gives (the same model, the same code, the
same truncation; only the padding of each batch differs, which mean pooling ignores), and the
embedder's ``name`` is the model's, so an index built through Ray is the index a single process
builds (``tests/test_ray_embed.py``). :class:`RayMap` parses a folder corpus's files on the same
Ray instance (``load_folder(..., parse_map=RayMap().map)``); checking images, chunking and
writing stay in the building process.

Example (starts a local Ray instance)::

    emb = RayTextEmbedder("all-MiniLM-L6-v2", address="local", workers=2)
    build_index(corpus.documents, "gimp.index", embedder=emb)
    emb.shutdown()
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from m2io.embed.text import (
    DEFAULT_TEXT_MODEL,
    CachedTextEmbedder,
    load_text_embedder,
    resolve_backend,
    split_backend,
)
from m2io.registry import require

logger = logging.getLogger(__name__)

SHARD = 256
"""Texts per Ray task: large enough to amortise a task's overhead, small enough to balance."""


def _worker_embedder(spec: str, threads: int) -> Any:
    """The embedder a Ray worker holds: ONNX with ``threads`` threads, or torch."""
    model, backend = split_backend(spec)
    if resolve_backend(model, backend) == "onnx":
        from m2io.embed.onnx import OnnxTextEmbedder

        return OnnxTextEmbedder(model, threads=threads, small_batch=0, recent=0)
    return load_text_embedder(f"{model}@torch")


PARSE_SHARD = 32
"""Files per Ray parsing task."""


def _apply(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    return [fn(x) for x in items]


class RayMap:
    """``map`` over Ray tasks on the running Ray instance: the items split into shards, one
    task per shard, the results in input order. The tasks ask for no CPU of their own, so they
    run beside embedding actors that hold every CPU (those are idle while a corpus is parsed).

    Raises:
        RuntimeError: Ray is not running (a :class:`RayTextEmbedder` starts or joins it).
    """

    def __init__(self, shard: int = PARSE_SHARD) -> None:
        self._ray = require("ray", "ray")
        if not self._ray.is_initialized():
            raise RuntimeError("Ray is not running: start it first (RayTextEmbedder does)")
        self._shard = max(1, shard)
        self._task = self._ray.remote(num_cpus=0)(_apply)

    def map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        shards = [items[i : i + self._shard] for i in range(0, len(items), self._shard)]
        refs = [self._task.remote(fn, shard) for shard in shards]
        return [result for part in self._ray.get(refs) for result in part]


class _Worker:
    """A Ray actor holding one embedder."""

    def __init__(self, spec: str, threads: int) -> None:
        self.embedder = _worker_embedder(spec, threads)

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self.embedder._encode(list(texts), batch_size, False)


class RayTextEmbedder(CachedTextEmbedder):
    """A text embedder that spreads large batches over Ray workers.

    Args:
        model: The model, as for :func:`~m2io.embed.text.load_text_embedder` (``NAME@onnx``
            and ``NAME@torch`` pick the backend).
        backend: ``"onnx"`` or ``"torch"`` for a name without a suffix (as for
            :func:`~m2io.embed.text.load_text_embedder`).
        address: ``"local"`` starts a Ray instance in this process with ``workers`` CPUs;
            ``"auto"`` joins the running cluster on this machine; anything else is a cluster
            address (``ray://host:10001``).
        workers: Ray workers (actors), one CPU each; default: the CPUs Ray reports.
        threads: Threads per worker (ONNX backend).
        temp_dir: Ray's temporary folder for a ``"local"`` instance.
        shard: Texts per Ray task.
    """

    def __init__(
        self,
        model: str = DEFAULT_TEXT_MODEL,
        *,
        backend: str | None = None,
        address: str = "local",
        workers: int | None = None,
        threads: int = 1,
        temp_dir: str | None = None,
        shard: int = SHARD,
        small_batch: int = 32,
    ) -> None:
        ray = require("ray", "ray")
        self._ray = ray
        self._local = load_text_embedder(
            model, backend=backend
        )  # queries, small batches, name and dim
        self.name, self.dim = self._local.name, self._local.dim
        self.backend = f"{self._local.backend}+ray"
        self._shard = max(1, shard)
        self._started = not ray.is_initialized()
        if self._started:
            if address == "local":
                ray.init(
                    num_cpus=workers,
                    include_dashboard=False,
                    _temp_dir=temp_dir,
                    log_to_driver=False,
                    configure_logging=False,
                )
            else:
                ray.init(address=address, log_to_driver=False, configure_logging=False)
        n = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        actor = ray.remote(num_cpus=1)(_Worker)
        spec = f"{split_backend(model)[0]}@{self._local.backend}"
        self._workers = [actor.remote(spec, threads) for _ in range(n)]
        logger.info("embedding on %d Ray workers (%s)", n, spec)
        self._init_cache(small_batch, 0)

    def _run(self, texts: list[str], batch_size: int) -> np.ndarray:
        if len(texts) <= self.small_batch:
            return self._local._encode(texts, batch_size, False)
        return np.concatenate(self._gather(texts, batch_size, None))

    def _encode_with_bar(self, texts: list[str], batch_size: int, label: str) -> np.ndarray:
        from tqdm.auto import tqdm

        with tqdm(total=len(texts), desc=label, unit=" texts", file=sys.stderr) as bar:
            with self._lock:
                return np.concatenate(self._gather(texts, batch_size, bar))

    def _gather(self, texts: list[str], batch_size: int, bar: Any) -> list[np.ndarray]:
        """Shards of ``texts`` round-robin over the workers; results in input order."""
        shards = [texts[i : i + self._shard] for i in range(0, len(texts), self._shard)]
        refs = [
            self._workers[i % len(self._workers)].encode.remote(s, batch_size)
            for i, s in enumerate(shards)
        ]
        pending = list(refs)
        while bar is not None and pending:
            done, pending = self._ray.wait(pending, num_returns=1)
            bar.update(len(shards[refs.index(done[0])]))
        return [np.asarray(v, dtype=np.float32) for v in self._ray.get(refs)]

    def shutdown(self) -> None:
        """Stop the workers, and the Ray instance if this embedder started it."""
        for w in self._workers:
            self._ray.kill(w)
        self._workers = []
        if self._started:
            self._ray.shutdown()
