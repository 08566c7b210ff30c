"""Decorative images, recognised at index time so retrievers never offer them as figures.

An image is decorative when it is

* **repeated and plain**: the same image id, or the same file content, appears in at least
  ``max(REPEAT_MIN, REPEAT_SHARE * documents)`` documents (a logo, a navigation arrow, an app
  icon in every page header) *and* it is small (at most :data:`ICON_PX` on its longer side), a
  banner (at most :data:`BANNER_PX` high and :data:`BANNER_RATIO` times as wide: a site logo in
  every page header, whatever its alt text says) or has no caption of its own (none, an icon word such as "Note", or a file name). A captioned,
  full-size figure that many pages share (the GIMP manual shows one photo as the "original image"
  on 98 filter pages, and it is gold for 53 questions) is content, not decoration; or
* **tiny**: its file (a local path inside the corpus root) is at most :data:`TINY_PX` pixels on
  both sides, read from the file header with Pillow (bullets, inline icons).

Files that cannot be read are not decorative on size grounds; they are only counted.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import defaultdict
from dataclasses import dataclass

from m2io.corpus.parsed import is_icon_word, looks_like_file_name
from m2io.safety import open_regular
from m2io.types import Candidate

logger = logging.getLogger(__name__)

REPEAT_MIN = 3
REPEAT_SHARE = 0.05
TINY_PX = 32
ICON_PX = 128
BANNER_PX = 64
BANNER_RATIO = 4.0


@dataclass(frozen=True)
class Decorative:
    """Rows (of ``images.jsonl``) found decorative, and why.

    Attributes:
        rows: Candidate rows that are decorative.
        repeated: Distinct images (ids or files) repeated across many documents.
        tiny: Distinct image files at most ``TINY_PX`` pixels on both sides.
    """

    rows: frozenset[int]
    repeated: tuple[str, ...] = ()
    tiny: tuple[str, ...] = ()

    def summary(self) -> str:
        def names(items: tuple[str, ...]) -> str:
            shown = ", ".join(items[:5])
            return shown + (f", ... {len(items) - 5} more" if len(items) > 5 else "")

        parts = []
        if self.repeated:
            parts.append(f"{len(self.repeated)} repeated on many pages ({names(self.repeated)})")
        if self.tiny:
            parts.append(f"{len(self.tiny)} tiny ({names(self.tiny)})")
        return (
            f"{len(self.rows)} image occurrences are decorative and never offered as figures: "
            + "; ".join(parts)
        )


def _file_facts(path: str) -> tuple[str | None, tuple[int, int] | None]:
    """``(content hash, (width, height))`` of an image file; None for what cannot be read."""
    try:
        with open_regular(path) as f:  # a FIFO swapped in is refused, not waited on
            digest = hashlib.sha1(f.read(), usedforsecurity=False).hexdigest()
    except OSError:
        return None, None
    try:
        from PIL import Image

        with open_regular(path) as f, Image.open(f) as im:
            return digest, (int(im.size[0]), int(im.size[1]))
    except Exception:  # noqa: BLE001 - any unreadable or unsupported file: size unknown
        return digest, None


def _plain_caption(caption: str) -> bool:
    """No caption of its own: empty, an icon's label ("Note", "Prev") or a file name."""
    text = caption.strip()
    return not text or is_icon_word(text) or looks_like_file_name(text)


def find_decorative(candidates: list[Candidate], n_documents: int) -> Decorative:
    """Decorative rows among ``candidates`` (one per image occurrence, with confined real paths).

    Args:
        candidates: Image occurrences; ``image.path`` must already be confined to the corpus.
        n_documents: Documents in the corpus (the repeat threshold scales with it).
    """
    threshold = max(REPEAT_MIN, math.ceil(REPEAT_SHARE * n_documents))
    facts = {p: _file_facts(p) for p in sorted({c.image.path for c in candidates if c.image.path})}
    docs_of: dict[str, set[str]] = defaultdict(set)
    for c in candidates:
        docs_of["id:" + c.image.image_id].add(c.doc_id or "")
        digest = facts[c.image.path][0] if c.image.path else None
        if digest is not None:
            docs_of["file:" + digest].add(c.doc_id or "")
    rows: set[int] = set()
    repeated: dict[str, None] = {}
    tiny: dict[str, None] = {}
    for i, c in enumerate(candidates):
        digest, size = facts[c.image.path] if c.image.path else (None, None)
        shared = len(docs_of["id:" + c.image.image_id]) >= threshold or (
            digest is not None and len(docs_of["file:" + digest]) >= threshold
        )
        small = size is not None and max(size) <= ICON_PX
        banner = size is not None and size[1] <= BANNER_PX and size[0] >= BANNER_RATIO * size[1]
        if shared and (small or banner or _plain_caption(c.image.caption)):
            rows.add(i)
            repeated[c.image.image_id] = None
        elif size is not None and size[0] <= TINY_PX and size[1] <= TINY_PX:
            rows.add(i)
            tiny[c.image.image_id] = None
    return Decorative(frozenset(rows), tuple(repeated), tuple(tiny))
