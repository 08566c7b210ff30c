"""The index manifest: what an index folder holds and how it was built.

``manifest.json`` is written last into the build folder, so a folder without one is not an index.
``content_hash`` covers the documents only (not the build time), so two builds of one corpus
share it and a caller can tell whether an index is stale with :func:`corpus_hash`.

Format version 2 records the corpus root (relative to the index folder, and absolute as a
fallback) and stores image paths relative to it, so an index and its corpus can be moved together
and every image path the index hands out is confined to the corpus (see ``docs/design.md``,
"Hostile input"). Version 1 indexes (absolute image paths) must be rebuilt.

Format version 3 stores each chunk's source (document title, location relative to the corpus
root, section) and its section's span, flags decorative images, and records near-duplicate
documents (aggregate pages, repeated copies) that retrievers keep out of answers.

Documents added after the build (:mod:`m2io.index.update`) live inside the index, in
``added/<slot>/`` (the document file and its images); their image rows carry ``"base": "added"``
and paths relative to that folder, which the reader confines them to. ``n_documents``,
``n_chunks`` and ``n_images`` count them; ``content_hash`` covers the corpus documents only, so
it still tells whether the index is current with its corpus.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from m2io.types import Document

FORMAT_VERSION = 3
MANIFEST = "manifest.json"
ADDED = "added"
"""Folder inside an index that holds documents added to it after the build
(:func:`m2io.index.update.add_documents`), one sub-folder per document with its images."""
ROW_BASE = "base"
"""Key of an ``images.jsonl`` row whose ``path`` is relative to the index's :data:`ADDED` folder
instead of the corpus root; its value is :data:`ADDED`. Rows without it are corpus rows, so
indexes written before documents could be added read unchanged."""
REBUILD_HINT = "rebuild the index with: m2io index SOURCE --out DIR"


class IndexFormatError(ValueError):
    """Raised for a folder that is not an m2io index, or one written in another format version,
    or one whose files disagree with its manifest."""


@dataclass(frozen=True)
class IndexManifest:
    """Description of a built index.

    Attributes:
        format_version: On-disk layout version; :meth:`Index.open` refuses any other.
        embedder: Name of the text embedder (a model id or path, loadable by name).
        dim: Text vector size.
        image_embedder: Name of the image embedder whose pixel vectors are stored, or None.
        image_dim: Pixel vector size, or None.
        max_words: Chunk size limit used by the chunker.
        overlap_sentences: Sentences shared by consecutive chunks.
        context_chars: Characters of text kept above and below each image.
        n_documents: Documents indexed.
        n_chunks: Chunks (rows of the chunk vectors and of BM25).
        n_images: Image occurrences (rows of the image vectors); one image used twice counts twice.
        content_hash: sha256 of the documents' content (see :func:`corpus_hash`).
        created: UTC build time, ISO 8601; kept out of ``content_hash``.
        corpus_root: The corpus folder relative to the index folder (POSIX), or None when it has
            no relative form (another drive) or the corpus has no local images.
        corpus_root_absolute: The corpus folder's absolute path at build time: the fallback when
            the relative one does not exist (the index was moved without its corpus).
        near_duplicates: ``{doc_id: {"kind": "aggregate" | "duplicate", "of": [doc ids],
            "reason": text}}`` for documents that repeat others (:mod:`m2io.index.dedup`).
        n_decorative: Image occurrences flagged decorative (never offered as candidates).
    """

    format_version: int
    embedder: str
    dim: int
    image_embedder: str | None
    image_dim: int | None
    max_words: int
    overlap_sentences: int
    context_chars: int
    n_documents: int
    n_chunks: int
    n_images: int
    content_hash: str
    created: str
    corpus_root: str | None = None
    corpus_root_absolute: str | None = None
    near_duplicates: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_decorative: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def read(cls, folder: str | Path) -> IndexManifest:
        """Read ``folder/manifest.json``; :class:`IndexFormatError` names the folder on failure."""
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise IndexFormatError(f"{folder} is not an m2io index (no {MANIFEST})")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise IndexFormatError(f"{folder}: unreadable {MANIFEST}: {err}") from err
        version = data.get("format_version") if isinstance(data, dict) else None
        if version != FORMAT_VERSION:
            raise IndexFormatError(
                f"{folder} holds index format version {version!r}; this m2io reads version "
                f"{FORMAT_VERSION}: {REBUILD_HINT}"
            )
        names = {f.name for f in fields(cls)}
        missing = names - set(data)
        if missing:
            raise IndexFormatError(f"{folder}: {MANIFEST} lacks {sorted(missing)}; {REBUILD_HINT}")
        wrong = [k for k in sorted(names) if not _TYPES[k](data[k])]
        if wrong:
            shown = ", ".join(f"{k}={data[k]!r}" for k in wrong[:3])
            raise IndexFormatError(f"{folder}: {MANIFEST} has wrong types: {shown}; {REBUILD_HINT}")
        return cls(**{k: data[k] for k in names})

    def write(self, folder: Path) -> None:
        text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        (folder / MANIFEST).write_text(text, encoding="utf-8")


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _text(v: Any) -> bool:
    return isinstance(v, str)


def _text_or_none(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _duplicate(v: Any) -> bool:
    return (
        isinstance(v, dict)
        and v.get("kind") in ("aggregate", "duplicate")
        and isinstance(v.get("of"), list)
        and all(isinstance(x, str) for x in v["of"])
        and isinstance(v.get("reason"), str)
    )


_TYPES = {
    "format_version": _count,
    "embedder": _text,
    "dim": _count,
    "image_embedder": _text_or_none,
    "image_dim": lambda v: v is None or _count(v),
    "max_words": _count,
    "overlap_sentences": _count,
    "context_chars": _count,
    "n_documents": _count,
    "n_chunks": _count,
    "n_images": _count,
    "content_hash": _text,
    "created": _text,
    "corpus_root": _text_or_none,
    "corpus_root_absolute": _text_or_none,
    "near_duplicates": lambda v: isinstance(v, dict) and all(_duplicate(x) for x in v.values()),
    "n_decorative": _count,
}
"""What each manifest field must hold; anything else is a corrupt manifest."""


def _portable(path: str | None, root: Path | None) -> str | None:
    """``path`` relative to ``root`` (POSIX) when it lies below it, else as given."""
    if path is None or root is None:
        return path
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


def corpus_hash(documents: list[Document], root: str | Path | None = None) -> str:
    """sha256 over the documents' ids, texts, titles, sources and images, in order.

    With ``root`` (the corpus folder), sources and image paths below it are hashed relative to
    it, so a corpus moved elsewhere keeps its hash and the index built from it stays current.
    """
    base = Path(root).absolute() if root is not None else None
    h = hashlib.sha256()
    for doc in documents:
        record = [
            doc.doc_id,
            doc.text,
            doc.title,
            _portable(doc.source, base),
            [
                [
                    a.offset,
                    a.image.image_id,
                    _portable(a.image.path, base),
                    a.image.url,
                    a.image.caption,
                ]
                for a in doc.images
            ],
        ]
        h.update(json.dumps(record, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()
