"""Read the files the service may send: images and source documents of the index.

A file is found by id in the :class:`~m2io.serve.state.Snapshot`, never by a path from the
request, and read only if, with symlinks followed, it lies inside the corpus root, is a regular
file and is small enough. An image must also be a raster image by its first bytes, and its content
type comes from those bytes (docs/design.md, "Hostile input", rules 1 and 2).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from m2io.safety import MIME, UNSUPPORTED_SUFFIXES, confine, image_kind

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Largest image or source file the service sends."""


@dataclass(frozen=True)
class FileBody:
    """Bytes to send, their content type and a strong ETag."""

    data: bytes
    media_type: str
    etag: str


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`, else None."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device is never opened
            return None
        with os.fdopen(os.open(path, flags), "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                return None
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= MAX_FILE_BYTES else None


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def read_image(recorded: str, root: Path) -> FileBody | None:
    """The image the index recorded at ``recorded`` (inside ``root``), or None when it must not
    be sent."""
    real = confine(recorded, root)
    if real is None or real.suffix.lower() in UNSUPPORTED_SUFFIXES:
        return None
    data = _read_regular(real)
    kind = image_kind(data[:16]) if data else None
    if data is None or kind is None:
        return None
    return FileBody(data, MIME[kind], _etag(data))


def read_source(location: str, root: Path | None) -> FileBody | None:
    """A source document of the corpus, as plain text (never as HTML: it is not rendered)."""
    if root is None:
        return None
    real = confine(location, root)
    data = _read_regular(real) if real is not None else None
    if data is None:
        return None
    return FileBody(data, "text/plain; charset=utf-8", _etag(data))
