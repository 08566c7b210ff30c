"""Checks for everything read from outside: paths stay inside a root, files are what they claim.

Every loader, index reader and renderer that turns a name from a document, a record or an index
row into a file goes through :func:`confine`; every renderer that embeds a file checks its first
bytes with :func:`image_kind`; every URL written into a page goes through :func:`remote_image_url`.
See ``docs/design.md`` ("Hostile input").

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
from pathlib import Path
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
        real = Path(path).resolve(strict=False)
        base = Path(root).resolve(strict=False)
    except (OSError, RuntimeError, ValueError):  # symlink loops, NUL bytes
        return False
    return real == base or real.is_relative_to(base)


def confine(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path | None:
    """``path`` resolved (symlinks followed) if it lies inside ``root``, else None.

    A relative ``path`` is taken relative to ``root``. The result is the real location, so a
    symlink inside the root that points outside is refused, and a caller that opens the returned
    path opens what was checked.
    """
    try:
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
