"""Where an answer's images come from, checked as hostile input: a local file only inside the
corpus root (symlinks followed) and read only as a regular raster-image file of bounded size; a
remote URL only when the caller allows it and only as an absolute http(s) URL
(docs/design.md, "Hostile input"). Used by :mod:`m2io.mergers.render`."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

from m2io.safety import MIME, UNSUPPORTED_SUFFIXES, confine, image_kind, remote_image_url
from m2io.types import ImageSegment, MultimodalAnswer

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 20 * 1024 * 1024
"""Largest image file the HTML page embeds."""

_NO_ROOT = (
    "no corpus folder is known to check its file against, so local files are not embedded "
    "(rebuild the index with the current m2io, or pass image_root)"
)
_REMOTE_OFF = "remote images were not loaded (pass --allow-remote-images to show them)"


def image_roots(
    answer: MultimodalAnswer, image_root: str | os.PathLike[str] | None
) -> tuple[str, ...]:
    """The folders local files may lie in: the corpus root (or the caller's), then the index's
    folder of documents added after the build (empty when no root is known at all)."""
    root = image_root if image_root is not None else answer.image_root
    if root is None:
        return ()
    return (os.fspath(root), *((answer.added_root,) if answer.added_root else ()))


def confine_any(path: str, roots: tuple[str, ...]) -> Path | None:
    for root in roots:
        real = confine(path, root)
        if real is not None:
            return real
    return None


def local_image(seg: ImageSegment, roots: tuple[str, ...]) -> tuple[Path | None, str]:
    """The image's real path if it lies inside one of ``roots``, else None and why not."""
    if not roots:
        return None, _NO_ROOT
    real = confine_any(seg.path or "", roots)
    if real is None:
        log.warning("image %s: %s is outside %s; not used", seg.image_id, seg.path, roots[0])
        return None, "its file lies outside the corpus folder"
    return real, ""


def remote_image(seg: ImageSegment, allow_remote: bool) -> tuple[str | None, str]:
    """The image's URL if the caller allows remote images and it is http(s), else why not."""
    if not seg.url:
        return None, "no file or URL is known for it"
    if not allow_remote:
        return None, _REMOTE_OFF
    url = remote_image_url(seg.url)
    if url is None:
        return None, "its URL is not an absolute http(s) URL"
    return url, ""


def read_image(path: Path) -> tuple[bytes | None, str]:
    """The bytes of ``path`` if it is a regular raster-image file of bounded size, else why not."""
    if path.suffix.lower() in UNSUPPORTED_SUFFIXES:
        return None, f"{path.suffix.lower()} images are not supported"
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        # stat first so a FIFO or device is never opened; fstat again on what was opened
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None, "its path is not a regular file"
        fd = os.open(path, flags)
        with os.fdopen(fd, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                return None, "its path is not a regular file"
            if info.st_size > MAX_IMAGE_BYTES:
                return None, f"its file is larger than {MAX_IMAGE_BYTES // 2**20} MB"
            raw = fh.read(MAX_IMAGE_BYTES + 1)
    except OSError as err:
        log.warning("cannot embed image %s: %s", path, err)
        return None, f"its file cannot be read ({err.strerror or type(err).__name__})"
    if len(raw) > MAX_IMAGE_BYTES:
        return None, f"its file is larger than {MAX_IMAGE_BYTES // 2**20} MB"
    if image_kind(raw[:16]) is None:
        return None, "its file is not a PNG, JPEG, GIF, BMP, TIFF or WebP image"
    return raw, ""


def html_src(
    seg: ImageSegment, roots: tuple[str, ...], allow_remote: bool
) -> tuple[str | None, str]:
    """What goes in ``<img src>`` (a data URI or an http(s) URL), or None and why not."""
    why = ""
    if seg.path:
        real, why = local_image(seg, roots)
        if real is not None:
            raw, why = read_image(real)
            if raw is not None:
                mime = MIME[image_kind(raw[:16]) or "png"]
                return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}", ""
        if not seg.url:
            return None, why
    url, why_remote = remote_image(seg, allow_remote)
    if url is not None:
        return url, ""
    return None, "; ".join(r for r in (why, why_remote) if r)


def not_shown(seg: ImageSegment, why: str) -> str:
    return f"image {seg.image_id!r} not shown: {why}"
