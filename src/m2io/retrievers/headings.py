"""What a chunk is *about*, read from its headings, and sections ranked as units.

A reader picks a section by its heading before reading its text. :func:`heading_text` is the
heading path a chunk sits under (chunk title, page title, section heading); the hybrid retriever
ranks chunks by the question's cosine to that path's own vector (:class:`HeadingVectors`), so
"Configuring the editor" answers "How do I change the font used in the editor?" although the
section's text says "font" once among many settings. Distinct heading paths are few (a
section's chunks share one) and short; they are embedded once (``m2io index`` and the server do
it before the first question, :meth:`~m2io.retrievers.hybrid.HybridRetriever.prepare`; otherwise
the first question does) and kept in the index folder for the next time it is opened.

:func:`unit_rrf` fuses ranked lists of chunks as lists of the units (sections) they belong to:
each list ranks a unit by its best chunk, so a section that every list ranks near the top beats
a chunk that two lists rank fairly high, and a section's many chunks take one rank, not many.

Example:
    >>> section = {0: "a", 1: "a", 2: "b"}.get
    >>> {u: round(s * 61, 2) for u, s in unit_rrf([[0, 1, 2], [1, 2]], 60, None, section).items()}
    {'a': 2.0, 'b': 1.97}
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

import numpy as np

from m2io.index.headers import read_npy_header
from m2io.index.vectors import normalise
from m2io.safety import is_regular, open_regular
from m2io.types import Chunk

log = logging.getLogger(__name__)


def heading_text(chunk: Chunk) -> str:
    """The headings a chunk sits under, each once: its title, its page's title and its section
    heading."""
    src = chunk.source
    parts = [chunk.title] + ([src.title, src.section] if src else [])
    return " ".join(dict.fromkeys(p for p in parts if p))


def heading_texts(chunk: Chunk) -> list[str]:
    """:func:`heading_text`, then the same path for each later section the chunk holds
    (:attr:`~m2io.types.Chunk.sections`), its title in place of the first section's."""
    first = heading_text(chunk)
    if not chunk.sections:
        return [first] if first else []
    src = chunk.source
    out = [first] if first else []
    for span in chunk.sections:
        parts = [chunk.title] + ([src.title] if src else []) + [span.title]
        path = " ".join(dict.fromkeys(p for p in parts if p))
        if path and path not in out:
            out.append(path)
    return out


def unit_rrf(
    rankings: Sequence[Sequence[int]],
    rrf_k: int,
    weights: Sequence[float] | None,
    unit_of: Callable[[int], Hashable],
    agree_top: int = 0,
) -> dict[Hashable, float]:
    """Reciprocal rank fusion of ranked chunk lists as lists of units: in each list a unit
    takes the rank of its first (best) chunk among the distinct units, and contributes
    ``weight / (rrf_k + rank)``. Returns ``{unit: fused score}``.

    With ``agree_top`` > 0 each list's weight is also multiplied by its agreement
    (:func:`agreement`): the share of its first ``agree_top`` units that another list also
    has among its first ``agree_top``. A list that agrees with none of the others (a headings
    list drawn to "Drawing commands" and the manual's title page for "How do I draw a dashed
    line?", while the text lists agree on "Pens") then has no say. When no list agrees with
    another the weights stay as given."""
    orders: list[list[Hashable]] = []
    for ranking in rankings:
        units = dict.fromkeys(unit_of(row) for row in ranking)
        orders.append(list(units))
    given = [1.0 if weights is None else weights[n] for n in range(len(orders))]
    if agree_top > 0 and len(orders) > 1:
        shares = agreement(orders, agree_top)
        if any(shares):
            given = [w * a for w, a in zip(given, shares, strict=True)]
    fused: dict[Hashable, float] = {}
    for w, units in zip(given, orders, strict=True):
        for rank, unit in enumerate(units, start=1):
            fused[unit] = fused.get(unit, 0.0) + w / (rrf_k + rank)
    return fused


def agreement(orders: Sequence[Sequence[Hashable]], top: int) -> list[float]:
    """For each ranked list of units, the share of its first ``top`` units that at least one
    other list also ranks among its first ``top`` (0 for an empty list)."""
    heads = [set(units[:top]) for units in orders]
    shares = []
    for n, units in enumerate(orders):
        others = set().union(*(h for m, h in enumerate(heads) if m != n))
        shares.append(len(heads[n] & others) / len(heads[n]) if units else 0.0)
    return shares


class HeadingVectors:
    """One unit vector per distinct heading path of an index's chunks.

    Args:
        heads: Each chunk row's heading path (:func:`heading_text`; "" for none), or its list
            of paths (:func:`heading_texts`): a row then ranks by the best of them.
        encode: Texts -> vectors, e.g. the index's text embedder's ``encode``.
        cache: Folder to keep the vectors in (the index's), or None. A file there named by a
            hash of the embedder's name and the heading paths is read instead of embedding when
            it holds exactly the vectors expected (a regular file, float32, one row per path);
            otherwise the paths are embedded and the file written (atomically; a folder that
            cannot be written is left as it is).
        model: The embedder's name, part of the cache file's name.
    """

    def __init__(
        self,
        heads: Sequence[str | Sequence[str]],
        encode: Callable[[list[str]], np.ndarray],
        cache: str | os.PathLike[str] | None = None,
        model: str = "",
    ) -> None:
        paths = [[head] if isinstance(head, str) else list(head) for head in heads]
        distinct = list(dict.fromkeys(h for hs in paths for h in hs if h))
        at = {h: i for i, h in enumerate(distinct)}
        self._rows: list[list[int]] = [[] for _ in distinct]
        self._several = any(len(hs) > 1 for hs in paths)  # a row under more than one path
        for row, hs in enumerate(paths):
            for head in dict.fromkeys(h for h in hs if h):
                self._rows[at[head]].append(row)
        self.vectors: np.ndarray | None = None
        if not distinct:
            return
        path = None
        if cache is not None:
            key = hashlib.sha256("\n".join([model, *distinct]).encode("utf-8", "replace"))
            path = Path(cache) / f"{CACHE_PREFIX}{key.hexdigest()[:24]}.npy"
            self.vectors = _read_vectors(path, len(distinct))
        if self.vectors is None:
            self.vectors = normalise(np.asarray(encode(distinct)))
            if path is not None:
                _write_vectors(path, self.vectors)

    def ranking(self, qvec: np.ndarray, depth: int, skip: frozenset[int]) -> list[int]:
        """Chunk rows by their heading path's cosine with ``qvec``, best first (a heading's rows
        in row order), at most ``depth`` rows, ``skip`` left out."""
        if self.vectors is None:
            return []
        sims = self.vectors @ np.asarray(qvec, dtype=np.float32)
        out: list[int] = []
        seen: set[int] = set(skip)  # a row under several paths takes its best one's place
        for h in np.argsort(-sims, kind="stable").tolist():
            rows = [r for r in self._rows[h] if r not in seen]
            out.extend(rows)
            if self._several:
                seen.update(rows)
            if len(out) >= depth:
                break
        return out[:depth]


CACHE_PREFIX = "heading_vectors."
"""Name prefix of the heading-vector files kept in an index folder."""
MAX_DIM = 8192
"""Widest vector a cache file may hold."""


def _read_vectors(path: Path, rows: int) -> np.ndarray | None:
    """The ``rows`` x d float32 unit vectors of ``path``, or None when it is missing or is not
    exactly that (its header is checked against its size before anything is allocated)."""
    if not is_regular(path):
        return None
    try:
        with open_regular(path) as f:
            shape, fortran, dtype = read_npy_header(f)
            size = os.fstat(f.fileno()).st_size
            ok = (
                not fortran
                and dtype == np.float32
                and len(shape) == 2
                and shape[0] == rows
                and 0 < shape[1] <= MAX_DIM
                and size == f.tell() + rows * shape[1] * 4
            )
            if not ok:
                log.warning("%s: not the heading vectors expected; embedding again", path)
                return None
            vecs = np.frombuffer(f.read(rows * shape[1] * 4), dtype=np.float32)
    except Exception as err:  # noqa: BLE001 - a hostile header fails numpy's parser many ways
        log.warning("%s: unreadable heading vectors (%s); embedding again", path, err)
        return None
    vecs = vecs.reshape(shape)
    return vecs if np.isfinite(vecs).all() else None


def _write_vectors(path: Path, vecs: np.ndarray) -> None:
    """``vecs`` saved to ``path`` through a temporary file renamed over it, other heading-vector
    files of the folder removed; a folder that cannot be written is logged and left alone."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.save(f, np.ascontiguousarray(vecs, dtype=np.float32), allow_pickle=False)
        os.replace(tmp, path)
        # the index's headings changed (an upload): the vectors of the old ones go, so the
        # folder holds one cache file however many updates it has seen
        for old in path.parent.glob(f"{CACHE_PREFIX}*.npy"):
            if old.name != path.name and not old.is_symlink():
                with contextlib.suppress(OSError):
                    old.unlink()
    except OSError as err:
        log.info("heading vectors not kept in %s: %s", path.parent, err)
        with contextlib.suppress(OSError):
            tmp.unlink()
