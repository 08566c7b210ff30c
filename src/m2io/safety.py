"""Checks for everything read from outside: paths stay inside a root, files are what they claim.

Every loader, index reader and renderer that turns a name from a document, a record or an index
row into a file goes through :func:`confine`; every renderer that embeds a file checks its first
bytes with :func:`image_kind`; every URL written into a page goes through :func:`remote_image_url`.
Every file a loader or an index build reads from outside is opened with :func:`open_regular`
(or :func:`read_regular`), which refuses FIFOs, devices and sockets without blocking on them; a
hostile name quoted in a log line goes through :func:`clip`. See ``docs/design.md`` ("Hostile
input").

Example:
    >>> confine("/srv/corpus/img/a.png", "/srv/corpus")  # doctest: +SKIP
    PosixPath('/srv/corpus/img/a.png')
    >>> confine("/srv/corpus/../etc/passwd", "/srv/corpus") is None  # doctest: +SKIP
    True
    >>> image_kind(b"\\x89PNG\\r\\n\\x1a\\n...")
    'png'
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

# First bytes of the raster formats that Pillow reads and browsers show.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)

MIME = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "webp": "image/webp",
}
"""Content type of each kind :func:`image_kind` names."""

MAX_PATH = 4096
"""Longest path (characters) :func:`confine` resolves: Linux's ``PATH_MAX``, so no file the
kernel can open is refused. Resolving follows every component of a path, so without a cap a
hostile reference of ``n`` components costs ``n`` growing prefixes (quadratic); with it the cost
per reference is bounded and a load stays linear in its input."""

MAX_REFERENCE = 2048
"""Longest file reference (characters, as written in a document or record) a loader resolves;
a longer one is reported and skipped before any path is built from it."""

MAX_QUOTED = 200
"""Characters of a hostile string (a reference, a name) that a log or warning line quotes."""

UNSUPPORTED_SUFFIXES = frozenset({".svg", ".svgz", ".eps", ".pdf", ".ps", ".xcf", ".psd"})
"""Image-like files m2io does not read (vector or layered formats): named as unsupported."""


def image_kind(head: bytes) -> str | None:
    """The raster format the first bytes of a file announce (``"png"``, ``"jpeg"``, …), or None.

    Args:
        head: At least the first 12 bytes of the file.
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return None


def is_inside(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> bool:
    """Whether ``path``, with every symlink followed, lies inside ``root`` (also resolved)."""
    try:
        if len(os.fspath(path)) > MAX_PATH:
            return False
        real = Path(path).resolve(strict=False)
        base = Path(root).resolve(strict=False)
    except (OSError, RuntimeError, ValueError):  # symlink loops, NUL bytes
        return False
    return real == base or real.is_relative_to(base)


def confine(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path | None:
    """``path`` resolved (symlinks followed) if it lies inside ``root``, else None.

    A relative ``path`` is taken relative to ``root``. The result is the real location, so a
    symlink inside the root that points outside is refused, and a caller that opens the returned
    path opens what was checked. A path longer than :data:`MAX_PATH` is refused unresolved.
    """
    try:
        if len(os.fspath(path)) > MAX_PATH:
            return None
        p = Path(path)
        if not p.is_absolute():
            p = Path(root) / p
        real = p.resolve(strict=False)
        base = Path(root).resolve(strict=False)
    except (OSError, RuntimeError, ValueError):
        return None
    if real == base or not real.is_relative_to(base):
        return None
    return real


def remote_image_url(url: str | None) -> str | None:
    """``url`` if it is an absolute ``http``/``https`` URL with a host, else None.

    ``javascript:``, ``data:``, ``file:``, scheme-relative (``//host/x``) and relative URLs are all
    refused: a page must never carry a URL whose meaning depends on where it is opened.
    """
    if not url or any(ch in url for ch in "\x00\r\n\t "):
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url.strip()


def clip(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was: for quoting hostile
    strings in log and warning lines (one reference must not make a megabyte log line).

    Example:
        >>> clip("a" * 500, 5)
        'aaaaa… (500 characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


class NotRegularFile(OSError):
    """A path that is a FIFO, a device, a socket or a folder where a file was expected.

    Attributes:
        what: What it is instead, e.g. ``"a FIFO, not a regular file"``.
    """

    def __init__(self, path: str, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.what = what


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """``path`` opened for reading in binary, only if it is a regular file (symlinks followed).

    Opened with ``O_NONBLOCK``, so a FIFO with no writer cannot block the caller, and checked
    with ``fstat`` on the open descriptor, so what is checked is what is read (no window for a
    swap between a check and the open). Opening a FIFO, device or socket raises
    :class:`NotRegularFile` (an ``OSError``: callers that report unreadable files report it).

    Raises:
        NotRegularFile: ``path`` is not a regular file.
        OSError: It cannot be opened.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(os.fspath(path), f"{_kind(mode)}, not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str]) -> bytes:
    """Every byte of ``path``, read through :func:`open_regular` (FIFOs, devices and sockets
    raise :class:`NotRegularFile` instead of blocking or reading forever)."""
    with open_regular(path) as f:
        return f.read()


def is_regular(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (symlinks followed) is a regular file; False for anything unreadable."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False
