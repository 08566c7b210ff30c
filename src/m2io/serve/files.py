"""Read the files the service may send: images and source documents of the index.

A file is found by id in the :class:`~m2io.serve.state.Snapshot`, never by a path from the
request, and opened only if, with symlinks followed, it lies inside the corpus root, is a regular
file and is small enough. An image must also be a raster image by its first bytes, and its content
type comes from those bytes (docs/design.md, "Hostile input", rules 1 and 2); it is sent from the
file opened for that check, in chunks, so a client that reads slowly holds one chunk in memory,
not a copy of the image. A source must be a document by its name (Markdown, HTML or text, and
UTF-8 text by its bytes; or PDF, EPUB, DOCX by its first bytes): :func:`is_source_document`. The
page a source opens as is rendered from the index's rows (:mod:`m2io.index.source_page`), never
from the file, which is only checked.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from m2io.safety import MIME, UNSUPPORTED_SUFFIXES, confine, image_kind

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Largest image or source file the service sends."""
CHUNK_BYTES = 64 * 1024
"""Bytes read from an image per step of its response."""
SOURCE_SUFFIXES = frozenset({".md", ".markdown", ".html", ".htm", ".xhtml", ".txt"})
"""What a source document may be (the corpus loader's formats)."""
PACKED_SOURCES = {".pdf": b"%PDF-", ".epub": b"PK\x03\x04", ".docx": b"PK\x03\x04"}
"""Binary document formats the loaders read, and the bytes such a file starts with."""


@dataclass(frozen=True)
class FileBody:
    """Bytes to send, their content type and a strong ETag."""

    data: bytes
    media_type: str
    etag: str


@dataclass(frozen=True)
class OpenImage:
    """An image checked and open for sending: :meth:`chunks` reads it and closes it."""

    handle: BinaryIO
    size: int
    media_type: str
    etag: str

    def chunks(self) -> Iterator[bytes]:
        with self.handle:
            self.handle.seek(0)
            left = self.size
            while left > 0 and (data := self.handle.read(min(CHUNK_BYTES, left))):
                left -= len(data)
                yield data

    def close(self) -> None:
        self.handle.close()


def _open_regular(path: Path) -> tuple[BinaryIO, os.stat_result] | None:
    """An open regular file of at most :data:`MAX_FILE_BYTES` and its stat, else None."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device is never opened
            return None
        handle = os.fdopen(os.open(path, flags), "rb")
    except OSError:
        return None
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        handle.close()
        return None
    return handle, info


def _read_regular(path: Path) -> bytes | None:
    """The bytes of a regular file of at most :data:`MAX_FILE_BYTES`, else None."""
    opened = _open_regular(path)
    if opened is None:
        return None
    with opened[0] as fh:
        try:
            data = fh.read(MAX_FILE_BYTES + 1)
        except OSError:
            return None
    return data if len(data) <= MAX_FILE_BYTES else None


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def open_image(recorded: str, root: Path) -> OpenImage | None:
    """The image the index recorded at ``recorded`` (inside ``root``), open for sending, or None
    when it must not be sent. The ETag comes from the file's identity, size and change time."""
    real = confine(recorded, root)
    if real is None or real.suffix.lower() in UNSUPPORTED_SUFFIXES:
        return None
    opened = _open_regular(real)
    if opened is None:
        return None
    handle, info = opened
    try:
        kind = image_kind(handle.read(16))
    except OSError:
        kind = None
    if kind is None:
        handle.close()
        return None
    ident = f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}".encode()
    return OpenImage(handle, info.st_size, MIME[kind], _etag(ident))


def read_source(location: str, root: Path | None) -> FileBody | None:
    """A source document of the corpus, as plain text (never as HTML: it is not rendered), or
    None unless it is a document by its name and UTF-8 text by its bytes."""
    if root is None or Path(location).suffix.lower() not in SOURCE_SUFFIXES:
        return None
    real = confine(location, root)
    if real is None or real.suffix.lower() not in SOURCE_SUFFIXES:
        return None
    data = _read_regular(real)
    if data is None or b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return FileBody(data, "text/plain; charset=utf-8", _etag(data))


def is_source_document(location: str, root: Path | None) -> bool:
    """Whether the file the index recorded at ``location`` (inside ``root``) is a document: a
    text format that :func:`read_source` accepts, or a PDF/EPUB/DOCX by name and first bytes
    (a regular file inside the root, of any size)."""
    if root is None:
        return False
    suffix = Path(location).suffix.lower()
    if suffix in SOURCE_SUFFIXES:
        return read_source(location, root) is not None
    magic = PACKED_SOURCES.get(suffix)
    real = confine(location, root) if magic is not None else None
    if magic is None or real is None or real.suffix.lower() != suffix:
        return False
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        if not stat.S_ISREG(os.stat(real).st_mode):
            return False
        with os.fdopen(os.open(real, flags), "rb") as fh:
            return stat.S_ISREG(os.fstat(fh.fileno()).st_mode) and fh.read(len(magic)) == magic
    except OSError:
        return False
