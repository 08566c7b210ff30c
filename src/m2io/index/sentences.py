"""Stored vectors of the sentences an extractive answer quotes, so inserters need not embed them.

The extractive generator answers with the chunks' own sentences (:func:`m2io.text.
quoted_sentences`), and the inserters that compare an answer's sentences with its images (the
learned inserter's fallback and the anchored inserter's overflow: docs/RESULTS.md, "The learned
inserter's tail") embedded those sentences at answer time, about 100 ms on a 2-core machine.
A build embeds every distinct sentence of every chunk once, as the answer would quote it (the
chunk split as is, and with its images in place, which can cut a sentence at an image), and
stores the vectors beside the chunk vectors::

    sentences.keys.npy   (n, 32) uint8: sha256 of each sentence's UTF-8 text, rows in key order
    sentences.npy        (n, dim) float16: its unit vector, same rows

The index hands them to its text embedder (:meth:`m2io.embed.base.CachedTextEmbedder.
remember_table`), which looks each text up by its key before embedding it, so a sentence found
here is never sent to the model; a sentence not found (a generated answer's own words) is embedded
as before. The files are memory-mapped: opening an index reads their headers only.

Storing them at build time is opt-in (``m2io index --sentence-vectors``,
``build_index(sentence_vectors=True)``): they cost about 2.6-3× the build time and 2.7× the index
size (docs/RESULTS.md). ``m2io serve`` fills them in the background instead, at low priority
(:mod:`m2io.index.sentence_fill`), writing the same files. An index without
them, or with an empty table (built without the option), works as before: its answers' sentences
are embedded (a log line at INFO says how to add them; a rebuild with the option embeds only the
sentences). Files that are damaged or disagree with the index (a header that declares more than
the file holds, wrong shapes or types, rows out of order, a vector that is not a unit vector) are
reported once and ignored, like a missing pair: they can make answers slower, never wrong.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from m2io.index.headers import check_npy_file
from m2io.index.rows import MAP_FILES
from m2io.text import quoted_sentences
from m2io.types import Chunk

logger = logging.getLogger(__name__)

SENTENCES = "sentences.npy"
SENTENCE_KEYS = "sentences.keys.npy"
KEY_BYTES = 32
STORED = np.dtype("<f2")
"""float16: half the bytes of float32; the cosines an inserter computes move by about 1e-4
(docs/RESULTS.md: no placement of the dev sets changes)."""
_UNIT_TOLERANCE = 1e-2  # float16 rounding moves a unit vector's norm by ~1e-4
_reported: set[str] = set()  # folders whose missing or ignored files were reported once
_reported_lock = threading.Lock()


def sentence_key(text: str) -> bytes:
    """sha256 of ``text``'s UTF-8 bytes, as :func:`m2io.index.build.text_key` keys every vector."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def index_sentences(chunks: Iterable[Chunk]) -> list[str]:
    """Every distinct sentence an extractive answer can quote from ``chunks``, in first-seen
    order: each chunk split as is, and with all its images in place (an image can cut a
    sentence, and the answer then quotes the parts)."""
    seen: dict[str, None] = {}
    for chunk in chunks:
        texts, _ = quoted_sentences(chunk.text)
        if chunk.images:
            texts += quoted_sentences(chunk.text, [a.offset for a in chunk.images])[0]
        seen.update(dict.fromkeys(t for t in texts if t.strip()))
    return list(seen)


def write_sentence_vectors(folder: Path, keys: list[bytes], vectors: np.ndarray) -> None:
    """Write the two files into ``folder`` (rows sorted by key, one row per distinct key)."""
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    order = sorted(first)
    raw = np.frombuffer(b"".join(order), np.uint8).reshape(len(order), KEY_BYTES)
    vecs = np.asarray(vectors, np.float32)[[first[k] for k in order]].astype(STORED)
    np.save(folder / SENTENCE_KEYS, raw, allow_pickle=False)
    np.save(folder / SENTENCES, vecs, allow_pickle=False)


class SentenceVectors:
    """The stored sentence vectors of one index, looked up by text.

    Attributes:
        name: The index folder (what a text embedder keeps it under).
        keys: ``(n, 32)`` uint8, sorted.
        vectors: ``(n, dim)`` float16 unit vectors (memory-mapped; a lookup gives float32).
    """

    def __init__(self, name: str, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.name, self.keys, self.vectors = name, keys, vectors
        self._prefix: np.ndarray | None = None
        self._broken = False

    def __len__(self) -> int:
        return len(self.keys)

    def _prefixes(self) -> np.ndarray | None:
        """The keys' first 8 bytes as big-endian integers (what is searched), checked sorted
        on first use; None when the file is out of order."""
        if self._prefix is None and not self._broken:
            prefix = np.ascontiguousarray(self.keys[:, :8]).view(">u8").ravel()
            if len(prefix) > 1 and bool(np.any(prefix[1:] < prefix[:-1])):
                self._ignore(f"{SENTENCE_KEYS}: rows are not in key order")
            else:
                self._prefix = prefix
        return self._prefix

    def lookup(self, texts: list[str]) -> list[np.ndarray | None]:
        """The stored vector of each text, None where there is none (or it is not a unit
        vector: the files are then reported and no longer used)."""
        prefix = self._prefixes()
        if prefix is None:
            return [None] * len(texts)
        out: list[np.ndarray | None] = []
        for text in texts:
            key = sentence_key(text)
            want = int.from_bytes(key[:8], "big")
            row = int(np.searchsorted(prefix, want))
            found = None
            while row < len(prefix) and int(prefix[row]) == want:
                if self.keys[row].tobytes() == key:
                    found = np.array(self.vectors[row], dtype=np.float32)
                    break
                row += 1
            if found is not None and not _is_unit(found):
                self._ignore(f"{SENTENCES}: row {row} is not a unit vector")
                return [None] * len(texts)
            out.append(found)
        return out

    def _ignore(self, why: str) -> None:
        self._broken, self._prefix = True, None
        _report(self.name, f"stored sentence vectors ignored ({why}); {_HINT}", logging.WARNING)


_HINT = "inserters embed the answers' sentences; `m2io index --sentence-vectors` stores them"


def _is_unit(vec: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(vec))) and abs(float(vec @ vec) - 1.0) <= _UNIT_TOLERANCE


def _report(folder: str, message: str, level: int) -> None:
    with _reported_lock:
        if folder in _reported:
            return
        _reported.add(folder)
    logger.log(level, "index %s: %s", folder, message)


def quiet(folder: Path) -> None:
    """Say nothing about ``folder``'s sentence files in this process (a build that is about to
    write them reads the index they are missing from)."""
    with _reported_lock:
        _reported.add(str(folder))


def keeps_sentences(folder: Path) -> bool:
    """Whether the index in ``folder`` stores sentence vectors (a table with rows): a build
    into it that does not say keeps them."""
    path = folder / SENTENCE_KEYS
    try:
        check_npy_file(path)  # a regular file whose header fits it, never a FIFO waited on
        keys = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    return keys.ndim == 2 and keys.shape[0] > 0


def read_sentence_vectors(folder: Path, dim: int) -> SentenceVectors | None:
    """The index's stored sentence vectors (memory-mapped), or None when it has none or they
    are unusable (reported once per folder; the index works without them)."""
    keys_path, vecs_path = folder / SENTENCE_KEYS, folder / SENTENCES
    present = [p.exists() for p in (keys_path, vecs_path)]
    if not any(present):
        _report(str(folder), f"no stored sentence vectors; {_HINT}", logging.INFO)
        return None
    try:
        if not all(present):
            missing = SENTENCE_KEYS if not present[0] else SENTENCES
            raise ValueError(f"{missing} is missing")
        for path in (keys_path, vecs_path):
            check_npy_file(path)  # a header declaring more than the file holds: not mapped
        mode = "r" if MAP_FILES else None  # not mapped where a mapping blocks the swap
        keys = np.load(keys_path, mmap_mode=mode, allow_pickle=False)
        vecs = np.load(vecs_path, mmap_mode=mode, allow_pickle=False)
        if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != KEY_BYTES:
            raise ValueError(f"{SENTENCE_KEYS} holds {keys.dtype} {keys.shape}, not (n, 32) uint8")
        if vecs.dtype != STORED or vecs.shape != (len(keys), dim):
            raise ValueError(
                f"{SENTENCES} holds {vecs.dtype} {vecs.shape}; the index needs float16 "
                f"({len(keys)}, {dim})"
            )
    except (OSError, ValueError, EOFError) as err:  # HeaderError is a ValueError
        _report(str(folder), f"stored sentence vectors ignored ({err}); {_HINT}", logging.WARNING)
        return None
    return SentenceVectors(str(folder), keys, vecs)


def attach(embedder: object, table: SentenceVectors | None, built_with: str) -> None:
    """Let ``embedder`` look texts up in ``table`` (if it can, and it is the model that made
    them); a table of the same index folder replaces the one it held."""
    remember_table = getattr(embedder, "remember_table", None)
    if table is None or not len(table) or remember_table is None:
        return
    if getattr(embedder, "name", None) != built_with:
        return  # another model's vectors: the index warns about the mismatch already
    remember_table(table)
