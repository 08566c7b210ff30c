"""What an upload to ``POST /v1/documents`` must pass before it is written into the index.

* **Pixels**: an image may hold at most ``max_pixels`` (read from its header, nothing decoded).
* **Duplicates**: a document whose bytes are already in the index's ``added/`` folder is skipped
  and reported, so the same upload sent twice adds nothing.
* **Disk quota**: the ``added/`` folder with this upload may not pass ``quota_bytes``.
* **CPU budget**: the documents are read once by the corpus loader in a child process that gets
  ``budget_s`` of CPU (and twice that of wall time); one that takes longer is killed and the
  upload refused, so one hostile document cannot hold the write lock (and a CPU) for minutes.

Each check raises :class:`UploadRefused` with the status and a message naming the file.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import multiprocessing
import os
import tempfile
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from m2io.index.manifest import ADDED

log = logging.getLogger(__name__)

MAX_PIXELS = 40_000_000
"""Largest image accepted (width × height): 40 megapixels."""
QUOTA_BYTES = 1024 * 1024 * 1024
"""Most bytes the index's folder of added documents may hold."""
BUDGET_S = 10.0
"""CPU seconds the documents of one upload may take to read."""
DOC_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".txt"})


@dataclass(frozen=True)
class UploadLimits:
    """The operator's limits for uploads (see the module doc)."""

    max_pixels: int = MAX_PIXELS
    quota_bytes: int = QUOTA_BYTES
    budget_s: float = BUDGET_S


class UploadRefused(Exception):
    """An upload (or a file of it) fails a check: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_pixels(images: Mapping[str, bytes], max_pixels: int = MAX_PIXELS) -> None:
    """Refuse (413) an image whose header says it holds more than ``max_pixels``."""
    from PIL import Image, UnidentifiedImageError

    for name, data in images.items():
        try:
            with warnings.catch_warnings():  # the bomb warning: this check is the answer to it
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:  # reads the header only
                    width, height = img.size
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            continue  # not an image Pillow knows: the index's own checks report it
        if width * height > max_pixels:
            raise UploadRefused(
                413, f"image {name[:200]!r} is {width}x{height} pixels; at most {max_pixels}"
            )


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _added_files(index_dir: Path) -> Iterable[Path]:
    added = index_dir / ADDED
    if added.is_symlink() or not added.is_dir():
        return []
    return (p for p in added.rglob("*") if p.is_file() and not p.is_symlink())


def known_documents(index_dir: Path) -> dict[str, str]:
    """Content hash → the ``added/…`` path of every document already added to the index."""
    found: dict[str, str] = {}
    for path in _added_files(index_dir):
        if path.suffix.lower() in DOC_SUFFIXES:
            try:
                found.setdefault(_digest(path.read_bytes()), path.relative_to(index_dir).as_posix())
            except OSError:
                continue
    return found


def new_documents(
    docs: list[tuple[str, bytes]], index_dir: Path
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """``docs`` without those already in the index (or twice in this upload), and one line per
    document skipped."""
    known = known_documents(index_dir)
    kept: list[tuple[str, bytes]] = []
    skipped: list[str] = []
    for name, data in docs:
        digest = _digest(data)
        if digest in known:
            skipped.append(f"{name}: already in the index as {known[digest]}; not added again")
            continue
        known[digest] = name
        kept.append((name, data))
    return kept, skipped


def check_quota(index_dir: Path, incoming: int, quota_bytes: int = QUOTA_BYTES) -> None:
    """Refuse (507) an upload of ``incoming`` bytes that would take ``added/`` past the quota."""
    used = 0
    for path in _added_files(index_dir):
        try:
            used += path.stat().st_size
        except OSError:
            continue
    if used + incoming > quota_bytes:
        raise UploadRefused(
            507,
            f"the index holds {used} bytes of added documents; this upload of {incoming} bytes "
            f"would pass the quota of {quota_bytes} bytes",
        )


def _read_in_child(folder: str, budget_s: float) -> None:  # runs in the child process
    import resource

    from m2io.corpus import load_corpus

    os.nice(10)  # answers come first
    cpu = max(1, math.ceil(budget_s))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    load_corpus(folder, format="folder")


def check_budget(
    docs: list[tuple[str, bytes]], images: Mapping[str, bytes], budget_s: float = BUDGET_S
) -> None:
    """Read ``docs`` (with ``images``) as the corpus loader will, in a child process limited to
    ``budget_s``; refuse (422) when it does not finish in time."""
    if not docs or budget_s <= 0:
        return
    with tempfile.TemporaryDirectory(prefix="m2io-upload-") as tmp:
        root = Path(tmp)
        for name, data in docs:
            (root / PurePosixPath(name).name).write_bytes(data)
        for ref, data in images.items():
            target = root / PurePosixPath(ref)
            if root in target.resolve().parents:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
        child = ctx.Process(target=_read_in_child, args=(tmp, budget_s), daemon=True)
        child.start()
        child.join(budget_s * 2 + 1 if budget_s >= 1 else budget_s)
        if child.is_alive():
            child.kill()
            child.join()
            over = True
        else:
            over = child.exitcode not in (0, None) and child.exitcode < 0
    if over:
        names = ", ".join(name for name, _ in docs)[:300]
        log.warning("upload refused: reading %s took more than %.1f s", names, budget_s)
        raise UploadRefused(
            422,
            f"reading the upload's documents ({names}) took more than its budget of "
            f"{budget_s:g} s of CPU; not added (split or shorten them)",
        )
