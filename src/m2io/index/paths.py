"""Where an index's corpus lives, and image paths stored relative to it.

An index records its corpus root twice (see :class:`~m2io.index.manifest.IndexManifest`):
relative to the index folder, so the two folders can move together, and absolute, for an index
moved on its own. Image paths in ``images.jsonl`` are relative to that root (POSIX). On open,
every stored path is resolved (symlinks followed) and kept only if it lies inside the root, so a
hand-edited row (``/proc/self/environ``, ``../../etc/passwd``) or a corpus image swapped for a
symlink to another file never reaches a renderer. See ``docs/design.md`` ("Hostile input").
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath, PureWindowsPath

from m2io.index.manifest import IndexManifest
from m2io.safety import confine

logger = logging.getLogger(__name__)


def infer_root(paths: list[str]) -> Path | None:
    """The deepest folder holding every local image, for callers that name no corpus root."""
    parents = [str(Path(p).absolute().parent) for p in paths]
    if not parents:
        return None
    try:
        return Path(os.path.commonpath(parents))
    except ValueError:  # paths on different drives
        return None


def record_root(root: Path | None, out: Path) -> tuple[str | None, str | None]:
    """``(root relative to the index folder out, root absolute)``, as stored in the manifest."""
    if root is None:
        return None, None
    real = root.resolve()
    try:
        rel = Path(os.path.relpath(real, out.resolve())).as_posix()
    except ValueError:  # another drive: no relative form
        rel = None
    return rel, str(real)


def relative_path(path: str, root: Path) -> str | None:
    """``path`` relative to ``root`` (POSIX), resolved first; None if it lies outside ``root``."""
    real = confine(path, root)
    if real is None:
        return None
    return real.relative_to(root.resolve()).as_posix()


def resolve_root(folder: Path, manifest: IndexManifest, given: Path | None = None) -> Path | None:
    """The corpus root of the index in ``folder``: ``given`` (the operator's) when set, else the
    recorded relative one if it exists, else the absolute one; None (and one warning naming it)
    when none is a folder any more."""
    tried: list[Path] = []
    if given is not None:
        tried.append(given)
    elif manifest.corpus_root is not None:
        tried.append(folder / manifest.corpus_root)
    if given is None and manifest.corpus_root_absolute is not None:
        tried.append(Path(manifest.corpus_root_absolute))
    for path in tried:
        try:
            if path.is_dir():
                real = path.resolve()
                if real == Path(real.anchor):
                    logger.warning(
                        "index %s names the filesystem root %s as its corpus; its images are "
                        "not used",
                        folder,
                        real,
                    )
                    return None
                return real
        except (OSError, ValueError, RuntimeError):
            continue
    if tried:
        logger.warning(
            "index %s: its corpus root is gone (looked for %s); answers keep their text, but "
            "images have no file (keep the corpus next to the index, or rebuild the index)",
            folder,
            " and ".join(str(p) for p in tried),
        )
    return None


def is_relative(stored: str) -> bool:
    """Whether a stored path is relative on every platform (no root, no drive)."""
    return not (
        PurePosixPath(stored).is_absolute()
        or PureWindowsPath(stored).drive
        or PureWindowsPath(stored).root
    )


def open_path(stored: str | None, root: Path | None) -> tuple[str | None, bool]:
    """``(usable path or None, refused)`` for an ``images.jsonl`` path.

    ``refused`` is True for a path that is absolute or resolves outside ``root``; a row without a
    path, or any row when the root is gone, gives ``(None, False)``.
    """
    if stored is None or root is None:
        return None, False
    if not stored or not is_relative(stored):
        return None, True
    real = confine(stored, root)
    if real is None:
        return None, True
    return str(real), False
