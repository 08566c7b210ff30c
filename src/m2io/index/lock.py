"""One build at a time per index folder, and no leftovers from killed builds.

A build holds an OS file lock (``fcntl.flock``) on ``.<name>.lock`` next to the index folder for
its whole run, so a second build into the same folder waits for the first (up to a timeout) and
then builds on a clean slate instead of racing it at the final renames. Under the lock, the
temporary ``.<name>.building-*`` and ``.<name>.old-*`` siblings that a killed build left behind
are removed: no running build can own them. The lock dies with its process, so a killed build
never blocks the next one.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from m2io.index.manifest import MANIFEST

try:
    import fcntl
except ImportError:  # Windows: no flock; builds are not serialised there
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

POLL_S = 0.05


class IndexBusyError(ValueError):
    """Another build into the same index folder held the lock past the timeout.

    A ``ValueError`` so that the CLI reports it as a one-line error.
    """


def lock_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.lock")


def building_path(out: Path, tag: str) -> Path:
    return out.with_name(f".{out.name}.building-{tag}")


def old_path(out: Path, tag: str) -> Path:
    return out.with_name(f".{out.name}.old-{tag}")


@contextmanager
def build_lock(out: Path, timeout: float) -> Iterator[None]:
    """Hold the build lock of the index folder ``out`` inside the block.

    Raises:
        IndexBusyError: Another process or thread held it for more than ``timeout`` seconds.
    """
    if fcntl is None:
        yield
        return
    path = lock_path(out)
    fd = _acquire(out, path, timeout)
    try:
        yield
    finally:
        # Unlink while still holding the lock: a waiter that opened the old file sees, once it
        # gets the lock, that the name no longer points at its file, and opens a fresh one.
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)


def _acquire(out: Path, path: Path, timeout: float) -> int:
    """An open descriptor of ``path`` holding its exclusive lock."""
    deadline = time.monotonic() + timeout
    told = False
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise IndexBusyError(
                            f"another build into {out} is still "
                            f"running after {timeout:.0f} s (lock {path}); wait for it to end "
                            "or build into another folder"
                        ) from None
                    if not told:
                        logger.warning("waiting for another build to release %s", path)
                        told = True
                    time.sleep(POLL_S)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed the file we locked: lock the new one


def clean_leftovers(out: Path) -> None:
    """Remove what killed builds left next to ``out`` (call only under :func:`build_lock`).

    If a build died between its two final renames, ``out`` is missing and the previous index
    sits in an ``.old-*`` folder: it is renamed back first, so a failing rebuild still leaves it.
    """
    pattern = glob.escape(str(out.with_name(f".{out.name}.")))
    olds = sorted(Path(p) for p in glob.glob(pattern + "old-*"))
    if not out.exists():
        for old in olds:
            if (old / MANIFEST).is_file():
                logger.warning("restoring the index %s left by a killed build as %s", out, old)
                os.replace(old, out)
                olds.remove(old)
                break
    leftovers = olds + sorted(Path(p) for p in glob.glob(pattern + "building-*"))
    for path in leftovers:
        logger.info("removing %s, left by a killed build", path)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
