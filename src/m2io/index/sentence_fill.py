"""Fill an open index's sentence vectors in the background, so a served index converges on stored
mode without the 2.6× build (docs/RESULTS.md, "The insert tail (issue 24, item 2), 2026-12-08b").

An index built without ``--sentence-vectors`` makes the inserters embed an answer's sentences
when they need them (about one answer in eight, ~100 ms each). :class:`SentenceFill` embeds the
sentences the index does not store yet (:func:`m2io.index.sentences.index_sentences`) on a
thread of its own at the lowest CPU priority (Linux: the thread's nice value), a few texts per
model call so that an answer waiting for the model waits for one small call at most, and hands
what it has to the index's embedder as it goes (answers find the vectors from then on). It writes
the files every ``save_every`` seconds and at the end, each by temporary file and rename, so a
fill that is killed leaves the index as it was at the last save, and a later fill embeds only
what is still missing. The files are those a build with ``--sentence-vectors`` writes; an index
whose folder cannot be written (read-only) is filled in memory only, for the life of the process.

The fill stops when asked (:meth:`SentenceFill.stop`) and when the index folder is swapped for
another (an upload, a rebuild: the files written would belong to the old index).

Example::

    fill = SentenceFill(index)      # an open Index whose embedder is loaded
    fill.start()                    # returns at once; fill.done / fill.total say how far
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from m2io.index.sentences import (
    KEY_BYTES,
    SENTENCE_KEYS,
    SENTENCES,
    STORED,
    SentenceVectors,
    attach,
    index_sentences,
    read_sentence_vectors,
    sentence_key,
)

logger = logging.getLogger(__name__)

FILL_BATCH = 8
"""Texts per model call: small enough that an answer waiting for the model waits ~10-40 ms."""
SAVE_EVERY = 30.0
FILL_LOCK = ".sentence-fill.lock"


def _stamp(folder: Path) -> tuple[int, ...] | None:
    """The folder's and its manifest's identity: changes when a build swaps in another index."""
    try:
        st, man = os.stat(folder), os.stat(folder / "manifest.json")
    except OSError:
        return None
    return st.st_ino, man.st_ino, man.st_mtime_ns


def _lowest_priority() -> None:
    """This thread (not the process) at the lowest CPU priority, where the OS allows it."""
    if not sys.platform.startswith("linux"):  # elsewhere PRIO_PROCESS would take the process
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except OSError as err:
        logger.debug("sentence fill: priority unchanged (%s)", err)


class SentenceFill:
    """Embed and store the sentence vectors an open index lacks (see the module docstring).

    Args:
        index: An open :class:`~m2io.index.store.Index`.
        batch: Texts per model call.
        save_every: Seconds between writes of the files (and at the end).
        write: False fills in memory only (also what a read-only folder gets).

    Attributes:
        total: Sentences the index's chunks can quote (known once :meth:`run` started).
        done: Of those, how many have a vector (stored before or embedded here).
        saved: How many rows the files held at the last write (None: not written).
        finished: Set when the fill ended (complete, stopped, or failed).
    """

    def __init__(
        self,
        index: Any,
        *,
        batch: int = FILL_BATCH,
        save_every: float = SAVE_EVERY,
        write: bool = True,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        self.index, self.batch, self.save_every, self.write = index, batch, save_every, write
        self.folder = Path(index.folder)
        self.total = self.done = 0
        self.saved: int | None = None
        self.finished = threading.Event()
        self.follow_every = max(1.0, save_every / 2)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock_fd: int | None = None
        self._seen: tuple[int, int] | None = None

    def start(self) -> threading.Thread:
        """Run :meth:`run` on a daemon thread at the lowest priority; returns the thread."""

        def body() -> None:
            _lowest_priority()
            self.run()

        self._thread = threading.Thread(target=body, name="m2io-sentence-fill", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = None) -> None:
        """Ask the fill to end after its current model call (what it has is written)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Fill, here and now (``start`` runs this on a thread). Where several processes serve
        one folder (``m2io serve --workers N``), one fills (it holds a lock file in the folder)
        and the others follow: they read the files each time they are written, and take over
        when the filling process ends before the fill does."""
        try:
            while not self._stop.is_set():
                got = self._take_lock() if self.write else None
                if got is None:
                    self.write = False
                if got is not False:
                    self._fill()
                    return
                self._follow()
                self._stop.wait(self.follow_every)
        except Exception:  # a background fill must never take the service down
            logger.exception("index %s: sentence fill failed; answers embed sentences", self.folder)
        finally:
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock
                self._lock_fd = None
            self.finished.set()

    def _take_lock(self) -> bool | None:
        """True: this process fills; False: another one does; None: the folder cannot be
        written (the fill then stays in memory)."""
        try:
            import fcntl
        except ImportError:  # no advisory locks here: every process fills for itself
            return True
        try:
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)  # never a link's target
            fd = os.open(self.folder / FILL_LOCK, flags, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def _follow(self) -> None:
        """Read the files another process writes, when they changed since last read."""
        try:
            st = os.stat(self.folder / SENTENCE_KEYS)
        except OSError:
            return
        if (st.st_ino, st.st_mtime_ns) == self._seen:
            return
        self._seen = (st.st_ino, st.st_mtime_ns)
        self._load()

    def _load(self) -> SentenceVectors | None:
        """The folder's table as the files hold it now, handed to the index and its embedder."""
        table = read_sentence_vectors(self.folder, self.index.manifest.dim)
        if table is not None:
            self.index.sentence_vectors = table
            attach(self.index.embedder, table, self.index.manifest.embedder)
            self.done = len(table)
        return table

    def _fill(self) -> None:
        embedder = self.index.embedder
        stamp = _stamp(self.folder)
        if self.write:  # this process holds the lock: temporary files are a killed fill's
            for stale in self.folder.glob(".sentence*.fill.tmp"):
                stale.unlink(missing_ok=True)
        # what the files hold now (another process may have written them since the index opened)
        table = self._load() if self.write else self.index.sentence_vectors
        keys = [k.tobytes() for k in table.keys] if table is not None and len(table) else []
        vecs = [np.asarray(table.vectors, np.float32)] if keys else []
        have = set(keys)
        texts = index_sentences(self.index.chunks)
        # shortest first: a call's texts pad to similar lengths, and the short sentences (most
        # of what answers quote) are there soonest
        todo = sorted((t for t in texts if sentence_key(t) not in have), key=len)
        self.total, self.done = len(texts), len(texts) - len(todo)
        if not todo:
            return
        logger.info(
            "index %s: embedding %d sentences in the background (%d stored)",
            self.folder,
            len(todo),
            self.done,
        )
        fresh = getattr(embedder, "encode_fresh", embedder.encode)
        t0 = last = time.monotonic()
        for lo in range(0, len(todo), self.batch):
            if self._stop.is_set():
                break
            part = todo[lo : lo + self.batch]
            vecs.append(np.asarray(fresh(part), np.float32))
            keys += [sentence_key(t) for t in part]
            self.done += len(part)
            if time.monotonic() - last >= self.save_every:
                if not self._publish(keys, vecs, embedder, stamp):
                    return
                last = time.monotonic()
        self._publish(keys, vecs, embedder, stamp)
        logger.info(
            "index %s: %d of %d sentence vectors stored (%.0f s)",
            self.folder,
            self.done,
            self.total,
            time.monotonic() - t0,
        )

    def _publish(self, keys: list[bytes], vecs: list[np.ndarray], embedder: Any, stamp) -> bool:
        """Hand the table to the embedder and the index, and write it; False when the index
        folder was swapped for another (the fill then ends)."""
        if _stamp(self.folder) != stamp:
            logger.info("index %s: swapped for another; sentence fill stopped", self.folder)
            return False
        if len(vecs) > 1:
            vecs[:] = [np.concatenate(vecs)]
        raw, stored = _sorted(keys, vecs[0])
        table = SentenceVectors(str(self.folder), raw, stored)
        self.index.sentence_vectors = table
        attach(embedder, table, self.index.manifest.embedder)
        if self.write:
            try:
                _save(self.folder, raw, stored)
                self.saved = len(raw)
            except OSError as err:
                self.write = False
                logger.info("index %s: sentence vectors kept in memory only (%s)", self.folder, err)
        return True


def _sorted(keys: list[bytes], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows in key order, one per distinct key, as the files hold them."""
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    order = sorted(first)
    raw = np.frombuffer(b"".join(order), np.uint8).reshape(len(order), KEY_BYTES)
    return raw, vectors[[first[k] for k in order]].astype(STORED)


def _save(folder: Path, raw: np.ndarray, vectors: np.ndarray) -> None:
    """Both files by temporary file and rename (vectors first): a reader sees the old pair or
    the new one; a process killed between the two renames leaves a pair whose row counts differ,
    which :func:`~m2io.index.sentences.read_sentence_vectors` reports and ignores (answers then
    embed, and the next fill starts over)."""
    written: list[tuple[Path, Path]] = []
    try:
        for name, array in ((SENTENCES, vectors), (SENTENCE_KEYS, raw)):
            tmp = folder / f".{name}.{os.getpid()}.fill.tmp"
            written.append((tmp, folder / name))
            with open(tmp, "wb") as f:
                np.save(f, array, allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in written:
            os.replace(tmp, path)
    finally:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
