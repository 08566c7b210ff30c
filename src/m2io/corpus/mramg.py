"""Read the MRAMG-Bench layout: documents, questions and the image collection.

Layout of one subset ``<subset>`` in a folder::

    doc_<subset>.jsonl                      [doc_id, content, images_list] per line
    <subset>_mqa.jsonl                      {"id", "question", "ground_truth", "provenance",
                                             "images_list"} per line
    IMAGE/images/<SUBSET>/<file>            the image files
    IMAGE/images_info/<subset>_imgs_collection.json
                                            {image_id: {"image_url", "image_path", "image_caption"}}

The k-th ``<PIC>`` in ``content`` is ``images_list[k]``. Loaded documents hold the content with the
markers removed (nothing else changes, so writing them back is lossless) and one
:class:`~m2io.types.ImageAnchor` per marker at its character offset in that text.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2io.corpus.report import Corpus, CorpusError, ImageChecker, decode, read_lines
from m2io.text import PIC
from m2io.types import Document, ImageAnchor, ImageRef

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QAItem:
    """One MRAMG question with its reference answer.

    Attributes:
        qid: Question id.
        question: The question.
        ground_truth: Reference answer with one ``<PIC>`` per gold image, in ``image_ids`` order.
        provenance: Ids of the documents the answer comes from.
        image_ids: Gold image ids in the order of the ``<PIC>`` markers.
    """

    qid: str
    question: str
    ground_truth: str
    provenance: tuple[str, ...] = ()
    image_ids: tuple[str, ...] = ()


def find_subsets(root: str | Path) -> list[str]:
    """Subset names of every ``doc_<subset>.jsonl`` in ``root``, sorted."""
    return sorted(p.name[len("doc_") : -len(".jsonl")] for p in Path(root).glob("doc_*.jsonl"))


def resolve_subset(root: Path, subset: str | None) -> str:
    """``subset`` if given and present, else the only subset in ``root``.

    Raises:
        CorpusError: No ``doc_*.jsonl``, several and none chosen, or the chosen one is absent.
    """
    found = find_subsets(root)
    if subset is not None:
        if subset not in found:
            raise CorpusError(
                f"{root}: no doc_{subset}.jsonl (subsets found: {', '.join(found) or 'none'})"
            )
        return subset
    if not found:
        raise CorpusError(f"{root}: no doc_<subset>.jsonl file, so not an MRAMG-Bench folder")
    if len(found) > 1:
        raise CorpusError(f"{root}: several subsets ({', '.join(found)}); pass subset=...")
    return found[0]


def image_dirs(root: Path, subset: str) -> list[Path]:
    """Folders a relative ``image_path`` may be relative to, most likely first."""
    images = root / "IMAGE" / "images"
    dirs = [images / subset.upper(), images / subset]
    if images.is_dir():
        dirs += [
            d for d in sorted(images.iterdir()) if d.is_dir() and d.name.lower() == subset.lower()
        ]
    dirs += [images, root / "IMAGE", root]
    unique: list[Path] = []
    for d in dirs:
        if d not in unique and d.is_dir():
            unique.append(d)
    return unique or [images / subset.upper()]


def _find_file(
    image_path: str, image_id: str, dirs: list[Path], by_stem: Callable[[Path], dict[str, Path]]
) -> tuple[Path, bool]:
    """Where ``image_path`` (or, if empty, a file named after the id) is; ``(guess, found)``.

    A path is tried as given (absolute), then relative to each of ``dirs``, then by its bare file
    name in each of them: collections written on another machine keep working.
    """
    if not image_path:
        for d in dirs:
            hit = by_stem(d).get(image_id)
            if hit is not None:
                return hit, True
        return dirs[0] / image_id, False
    p = Path(image_path.replace("\\", "/") if "/" not in image_path else image_path)
    if p.is_absolute() and p.is_file():
        return p, True
    if not p.is_absolute():
        for d in dirs:
            if (d / p).is_file():
                return d / p, True
    for d in dirs:
        if (d / p.name).is_file():
            return d / p.name, True
    return (p if p.is_absolute() else dirs[0] / p), False


def _load_collection(root: Path, subset: str, warnings: list[str]) -> dict[str, dict[str, Any]]:
    path = root / "IMAGE" / "images_info" / f"{subset}_imgs_collection.json"
    if not path.is_file():
        warnings.append(
            f"{path.relative_to(root)}: not found; images are looked up by id "
            f"in IMAGE/images/{subset.upper()} and have no captions"
        )
        return {}
    text = decode(path.read_bytes(), path.name, warnings)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CorpusError(
            f"{path}:{exc.lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{path}:1: expected an object keyed by image id")
    out: dict[str, dict[str, Any]] = {}
    for key, info in data.items():
        if isinstance(info, dict):
            out[str(key)] = info
        else:
            warnings.append(f"{path.name}: entry {key!r} is not an object; ignored")
    return out


def _as_id(value: Any) -> str | None:
    """An id from JSON: a string or an integer (never a bool)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _parse_doc_line(line: str, path: Path, lineno: int) -> tuple[str, str, list[str]]:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(
            f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    shape = f"{path}:{lineno}: expected a JSON array [doc_id, content, images_list]"
    if not isinstance(rec, list) or len(rec) != 3:
        got = f"an array of {len(rec)}" if isinstance(rec, list) else type(rec).__name__
        raise CorpusError(f"{shape}, got {got}")
    doc_id, content, images = rec
    if _as_id(doc_id) is None:
        raise CorpusError(f"{shape}; doc_id must be a string or integer, got {doc_id!r}")
    if not isinstance(content, str):
        raise CorpusError(f"{shape}; content must be a string, got {type(content).__name__}")
    if not isinstance(images, list) or any(_as_id(i) is None for i in images):
        raise CorpusError(f"{shape}; images_list must be a list of string or integer ids")
    return str(_as_id(doc_id)), content, [str(_as_id(i)) for i in images]


class _ImageResolver:
    """Turns image ids into checked :class:`ImageRef` records, once per id."""

    def __init__(self, root: Path, subset: str, collection: dict, checker: ImageChecker) -> None:
        self.root = root
        self.dirs = image_dirs(root, subset)
        self.collection = collection
        self.checker = checker
        self._cache: dict[str, tuple[ImageRef | None, str]] = {}
        self._stems: dict[Path, dict[str, Path]] = {}

    def _by_stem(self, folder: Path) -> dict[str, Path]:
        """File stem -> file in ``folder``, listed once (for collections without paths)."""
        if folder not in self._stems:
            files = sorted(f for f in folder.iterdir() if f.is_file())
            self._stems[folder] = {}
            for f in files:
                self._stems[folder].setdefault(f.stem, f)
        return self._stems[folder]

    def get(self, image_id: str) -> tuple[ImageRef | None, str]:
        """``(image, "")`` when usable, else ``(None, problem)``."""
        if image_id not in self._cache:
            self._cache[image_id] = self._resolve(image_id)
        return self._cache[image_id]

    def _resolve(self, image_id: str) -> tuple[ImageRef | None, str]:
        info = self.collection.get(image_id)
        if info is None and self.collection:
            return None, f"unknown image {image_id} (not in the image collection)"
        info = info or {}
        image_path = str(info.get("image_path") or "")
        url = str(info.get("image_url") or "") or None
        caption = " ".join(str(info.get("image_caption") or "").split())
        if not image_path and url:
            return ImageRef(image_id, None, url, caption), ""  # known only by its URL
        path, found = _find_file(image_path, image_id, self.dirs, self._by_stem)
        if not found:
            return None, f"missing image {image_id} ({path})"
        status = self.checker.check(path)
        if not status.ok:
            return None, f"corrupt image {image_id} ({path}: {status.reason})"
        # root is absolute already; normpath (not resolve) spares a syscall per path component
        return ImageRef(image_id, os.path.normpath(path), url, caption), ""


def _build_document(
    doc_id: str, content: str, ids: list[str], where: str, corpus: Corpus, images: _ImageResolver
) -> Document:
    parts = content.split(PIC)
    n_markers = len(parts) - 1
    if n_markers != len(ids):
        fix = (
            f"the last {n_markers - len(ids)} markers removed"
            if n_markers > len(ids)
            else f"images {', '.join(ids[n_markers:])} have no position and are dropped"
        )
        corpus.warn(
            f"{where}: doc {doc_id} has {n_markers} {PIC} markers "
            f"but {len(ids)} images in images_list; {fix}"
        )
    text_parts: list[str] = []
    anchors: list[ImageAnchor] = []
    offset = 0
    for k, part in enumerate(parts):
        text_parts.append(part)
        offset += len(part)
        if k < min(n_markers, len(ids)):
            image, problem = images.get(ids[k])
            if image is None:
                corpus.warn(f"{problem} in doc {doc_id} ({where}); image dropped, text kept")
                continue
            anchors.append(ImageAnchor(image, offset))
            corpus.images.setdefault(image.image_id, image)
    return Document(doc_id, "".join(text_parts), tuple(anchors), "", where)


def load_mramg(root: str | Path, subset: str | None = None, *, verify: bool = True) -> Corpus:
    """Load the documents of one MRAMG-Bench subset.

    Args:
        root: Folder holding ``doc_<subset>.jsonl`` and ``IMAGE/``.
        subset: Subset name; detected when the folder holds exactly one ``doc_*.jsonl``.
        verify: Check every image with Pillow's ``verify()`` (corrupt files are dropped and
            reported); False only checks that the files exist.

    Returns:
        The corpus. ``Document.source`` is ``"doc_<subset>.jsonl:<line>"``; ``title`` is empty
        (the format has none). Images that are missing, corrupt or unknown are dropped from their
        document (its text is kept) and reported in ``warnings``.

    Raises:
        CorpusError: Malformed JSON or a record of the wrong shape (message names file and line),
            no subset to read, or no documents.

    Example:
        >>> corpus = load_mramg("../shared/bench/gimp")  # doctest: +SKIP
        >>> corpus.documents[3].images[0].offset  # doctest: +SKIP
        13
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    subset = resolve_subset(root, subset)
    corpus = Corpus(root=str(root))
    collection = _load_collection(root, subset, corpus.warnings)
    resolver = _ImageResolver(root, subset, collection, ImageChecker(verify=verify))
    doc_path = root / f"doc_{subset}.jsonl"
    seen: set[str] = set()
    for lineno, line in read_lines(doc_path, corpus.warnings):
        where = f"{doc_path.name}:{lineno}"
        doc_id, content, ids = _parse_doc_line(line, doc_path, lineno)
        if doc_id in seen:
            corpus.warn(f"{where}: duplicate doc_id {doc_id}; this record is skipped")
            continue
        seen.add(doc_id)
        corpus.documents.append(_build_document(doc_id, content, ids, where, corpus, resolver))
    if not corpus.documents:
        raise CorpusError(f"{doc_path}: no documents (the file is empty)")
    corpus.log_summary(f"MRAMG subset {subset!r}")
    return corpus


def _parse_question(line: str, path: Path, lineno: int) -> QAItem:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(
            f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    shape = f"{path}:{lineno}: expected an object with id, question, ground_truth"
    if not isinstance(rec, dict):
        raise CorpusError(f"{shape}, got {type(rec).__name__}")
    missing = [k for k in ("id", "question", "ground_truth") if k not in rec]
    if missing:
        raise CorpusError(f"{shape}; missing {', '.join(missing)}")
    qid = _as_id(rec["id"])
    if qid is None or not isinstance(rec["question"], str):
        raise CorpusError(f"{shape}; id must be a string or integer and question a string")
    if not isinstance(rec["ground_truth"], str):
        raise CorpusError(f"{shape}; ground_truth must be a string")
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("provenance", "images_list"):
        value = rec.get(key) or []
        if not isinstance(value, list) or any(_as_id(v) is None for v in value):
            raise CorpusError(f"{path}:{lineno}: {key} must be a list of string or integer ids")
        lists[key] = tuple(str(_as_id(v)) for v in value)
    return QAItem(
        qid, rec["question"], rec["ground_truth"], lists["provenance"], lists["images_list"]
    )


def load_questions(
    root: str | Path, subset: str | None = None, *, warnings: list[str] | None = None
) -> list[QAItem]:
    """Load ``<subset>_mqa.jsonl``.

    Args:
        root: The MRAMG-Bench folder.
        subset: Subset name; detected as in :func:`load_mramg`.
        warnings: If given, problems that were skipped over are appended here (they are always
            logged): undecodable bytes, a ``<PIC>`` count that differs from ``images_list``.

    Raises:
        CorpusError: Missing file, malformed JSON or a record of the wrong shape (with file:line).
    """
    root = Path(root).resolve()
    subset = resolve_subset(root, subset)
    path = root / f"{subset}_mqa.jsonl"
    if not path.is_file():
        raise CorpusError(f"{path}: no questions file for subset {subset!r}")
    found: list[str] = []
    items: list[QAItem] = []
    for lineno, line in read_lines(path, found):
        item = _parse_question(line, path, lineno)
        n_markers = item.ground_truth.count(PIC)
        if n_markers != len(item.image_ids):
            found.append(
                f"{path.name}:{lineno}: question {item.qid} has {n_markers} {PIC} markers "
                f"but {len(item.image_ids)} images in images_list"
            )
        items.append(item)
    for message in found:
        logger.warning("%s", message)
    if warnings is not None:
        warnings.extend(found)
    return items
