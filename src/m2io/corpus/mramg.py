"""Read the MRAMG-Bench layout: documents, questions and the image collection.

Layout of one subset ``<subset>`` in a folder::

    doc_<subset>.jsonl                      [doc_id, content, images_list] per line
    <subset>_mqa.jsonl                      {"id", "question", "ground_truth", "provenance",
                                             "images_list"} per line
    IMAGE/images/<SUBSET>/<file>            the image files
    IMAGE/images_info/<subset>_imgs_collection.json
                                            {image_id: {"image_url", "image_path", "image_caption"}}

``IMAGE/IMAGE/...`` (the dataset's ``IMAGE.zip`` extracted into ``IMAGE/``) is read the same way;
an ``IMAGE.zip`` that was not extracted is named in the error. Every image file must resolve,
symlinks followed, inside the folder loaded (``docs/design.md``, "Hostile input"); only
``http(s)`` image URLs are kept.

The k-th ``<PIC>`` in ``content`` is ``images_list[k]``. Loaded documents hold the content with the
markers removed and one :class:`~m2io.types.ImageAnchor` per marker at its character offset in that
text. Nothing else changes, except that a space setting a marker off from the word before it goes
with the marker ("shown in <PIC>, is" reads "shown in, is"); the writer puts it back, so writing
documents back is lossless.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from m2io.corpus.report import (
    Corpus,
    CorpusError,
    ImageChecker,
    decode,
    read_corpus_file,
    read_lines,
)
from m2io.safety import confine, remote_image_url
from m2io.text import PIC, marker_space_dropped
from m2io.types import Document, ImageAnchor, ImageRef

logger = logging.getLogger(__name__)

DROP_REASONS = (
    "duplicate-id",
    "missing",
    "corrupt",
    "unsupported",
    "unknown",
    "outside-root",
    "unsafe-url",
    "unplaced",
)
"""Why a loader left something out (:attr:`Dropped.reason`)."""


@dataclass(frozen=True)
class Dropped:
    """One record, image or URL a loader left out, for counting by reason.

    Attributes:
        kind: ``"document"``, ``"question"``, ``"image"`` or ``"image_url"``.
        item_id: Id of what was dropped (the image id for an ``image_url``).
        reason: One of :data:`DROP_REASONS`.
        where: ``"file:line"`` of the record, or the file.
        message: The line also appended to the warnings.
    """

    kind: str
    item_id: str
    reason: str
    where: str
    message: str


class _Report:
    """Appends skipped-over problems to a warnings list and, when dropping, a :class:`Dropped`."""

    def __init__(self, warnings: list[str], dropped: list[Dropped] | None) -> None:
        self.warnings = warnings
        self.dropped = dropped

    def warn(self, message: str) -> None:
        logger.debug("%s", message)
        self.warnings.append(message)

    def drop(self, kind: str, item_id: str, reason: str, where: str, message: str) -> None:
        self.warn(message)
        if self.dropped is not None:
            self.dropped.append(Dropped(kind, item_id, reason, where, message))


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


# Where the dataset's IMAGE.zip may have been extracted: at the root, or into IMAGE/.
_HOMES = (Path("IMAGE"), Path("IMAGE", "IMAGE"))


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte
        return False


def image_dirs(root: Path, subset: str) -> list[Path]:
    """Folders a relative ``image_path`` may be relative to, most likely first (existing only)."""
    dirs: list[Path] = []
    for home in (root / h for h in _HOMES):
        images = home / "images"
        dirs += [images / subset.upper(), images / subset]
        if _is_dir(images):
            dirs += [
                d
                for d in sorted(images.iterdir())
                if d.name.lower() == subset.lower() and _is_dir(d)
            ]
        dirs += [images, home]
    dirs.append(root)
    unique: list[Path] = []
    for d in dirs:
        if d not in unique and _is_dir(d):
            unique.append(d)
    return unique


def _short(text: str, limit: int = 120) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters (hostile values can be huge)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _find_file(
    image_path: str,
    image_id: str,
    root: Path,
    dirs: list[Path],
    by_stem: Callable[[Path], dict[str, Path]],
) -> tuple[Path | None, bool]:
    """Where ``image_path`` (or, if empty, a file named after the id) is: ``(file, refused)``.

    A path is tried as given (absolute), then relative to each of ``dirs``, then by its bare file
    name in each of them: collections written on another machine keep working. Only files that
    resolve (symlinks followed) inside ``root`` are returned, as their real path; ``refused``
    says a candidate was turned away for lying outside it.
    """
    refused = False

    def inside(candidate: Path) -> Path | None:
        nonlocal refused
        real = confine(candidate, root)
        if real is None:
            refused = True
            return None
        return real if _is_file(real) else None

    if not image_path:
        for d in dirs:
            hit = by_stem(d).get(image_id)
            if hit is not None and (real := inside(hit)) is not None:
                return real, False
        return None, refused
    p = Path(image_path.replace("\\", "/") if "/" not in image_path else image_path)
    if p.is_absolute():
        if (real := inside(p)) is not None:
            return real, False
    else:
        for d in dirs:
            if (real := inside(d / p)) is not None:
                return real, False
    if p.name not in ("", ".", ".."):
        for d in dirs:
            if (real := inside(d / p.name)) is not None:
                return real, False
    return None, refused


def _loads(
    text: str,
    path: Path,
    lineno: int | None = None,
    hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
) -> Any:
    """``json.loads`` whose every failure is a :class:`CorpusError` naming the file and line
    (``lineno`` for one line of a JSONL file, else the line of the error in the file)."""
    try:
        return json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as exc:
        line = exc.lineno if lineno is None else lineno
        raise CorpusError(
            f"{path}:{line}: malformed JSON ({exc.msg} at column {exc.colno})"
        ) from exc
    except RecursionError as exc:  # "[[[[..." a hundred thousand deep
        where = path if lineno is None else f"{path}:{lineno}"
        raise CorpusError(f"{where}: JSON nested too deeply to read") from exc


def _caption(value: Any, image_id: str, name: str, report: _Report) -> str:
    """The caption as one line of text; a list of strings is joined, anything else reported."""
    if value is None or isinstance(value, str):
        return " ".join((value or "").split())
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        report.warn(f"{name}: image {image_id}: image_caption is a list; its items are joined")
        return " ".join(" ".join(value).split())
    report.warn(
        f"{name}: image {image_id}: image_caption is a {type(value).__name__}, not text; ignored"
    )
    return ""


def _entry(info: dict[str, Any], image_id: str, name: str, report: _Report) -> dict[str, Any]:
    """A collection entry with ``image_path`` and ``image_caption`` as text and ``image_url`` an
    ``http(s)`` URL or None; whatever else it held is reported."""
    path = info.get("image_path")
    if path is not None and not isinstance(path, str):
        report.warn(f"{name}: image {image_id}: image_path is a {type(path).__name__}; ignored")
        path = None
    url = info.get("image_url")
    if url is not None and not isinstance(url, str):
        report.warn(f"{name}: image {image_id}: image_url is a {type(url).__name__}; ignored")
        url = None
    if url and remote_image_url(url) is None:
        report.drop(
            "image_url",
            image_id,
            "unsafe-url",
            name,
            f"{name}: image {image_id}: image_url {_short(url, 60)} is not an http(s) URL; dropped",
        )
    return {
        "image_path": path or "",
        "image_url": remote_image_url(url) if url else None,
        "image_caption": _caption(info.get("image_caption"), image_id, name, report),
    }


def _collection_path(root: Path, subset: str) -> Path | None:
    for home in _HOMES:
        path = root / home / "images_info" / f"{subset}_imgs_collection.json"
        if _is_file(path):
            return path
    return None


def _load_collection(root: Path, subset: str, report: _Report) -> dict[str, dict[str, Any]]:
    path = _collection_path(root, subset)
    if path is None:
        report.warn(
            f"IMAGE/images_info/{subset}_imgs_collection.json: not found (nor under IMAGE/IMAGE/);"
            f" images are looked up by id in IMAGE/images/{subset.upper()} and have no captions"
        )
        return {}
    if confine(path, root) is None:
        raise CorpusError(f"{path}: lies outside {root} (after following links); refused")
    raw = read_corpus_file(path)  # a FIFO or device is refused, never waited on
    text = decode(raw, path.name, report.warnings)
    repeated: list[tuple[dict[str, Any], str]] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in items:
            if key in obj:
                repeated.append((obj, key))
            obj[key] = value
        return obj

    data = _loads(text, path, hook=pairs)
    if not isinstance(data, dict):
        raise CorpusError(f"{path}:1: expected an object keyed by image id")
    for obj, key in repeated:
        inside = "" if obj is data else " inside an entry"
        report.warn(
            f"{path.name}: duplicate key {_short(key, 60)}{inside}; "
            "the last value is kept (as json.load does)"
        )
    out: dict[str, dict[str, Any]] = {}
    for key, info in data.items():
        if isinstance(info, dict):
            out[str(key)] = _entry(info, str(key), path.name, report)
        else:
            report.warn(f"{path.name}: entry {_short(key, 60)} is not an object; ignored")
    return out


def _as_id(value: Any) -> str | None:
    """An id from JSON: a string or an integer (never a bool)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _parse_doc_line(line: str, path: Path, lineno: int) -> tuple[str, str, list[str]]:
    rec = _loads(line, path, lineno)
    shape = f"{path}:{lineno}: expected a JSON array [doc_id, content, images_list]"
    if not isinstance(rec, list) or len(rec) != 3:
        got = f"an array of {len(rec)}" if isinstance(rec, list) else type(rec).__name__
        raise CorpusError(f"{shape}, got {got}")
    doc_id, content, images = rec
    if _as_id(doc_id) is None:
        raise CorpusError(
            f"{shape}; doc_id must be a string or integer, got {type(doc_id).__name__}"
        )
    if not isinstance(content, str):
        raise CorpusError(f"{shape}; content must be a string, got {type(content).__name__}")
    if not isinstance(images, list):
        raise CorpusError(f"{shape}; images_list must be a list, got {type(images).__name__}")
    bad = [i for i in images if _as_id(i) is None]
    if bad:
        raise CorpusError(
            f"{shape}; images_list must be a list of string or integer ids, "
            f"got a {type(bad[0]).__name__}"
        )
    return str(_as_id(doc_id)), content, [str(_as_id(i)) for i in images]


# How a :class:`_Problem` reason reads in a grouped summary (``Corpus.problems``).
_PROBLEM_KINDS = {
    "unknown": "not in the image collection",
    "outside-root": "refused (outside the corpus folder)",
}


@dataclass(frozen=True)
class _Problem:
    """Why an image id gave no usable image: a :data:`DROP_REASONS` code and a sentence."""

    reason: str
    message: str


class _ImageResolver:
    """Turns image ids into checked :class:`ImageRef` records, once per id."""

    def __init__(self, root: Path, subset: str, collection: dict, checker: ImageChecker) -> None:
        self.root = root
        self.dirs = image_dirs(root, subset)
        self.collection = collection
        self.checker = checker
        self._cache: dict[str, ImageRef | _Problem] = {}
        self.not_on_disk = 0  # ids whose file was missing or outside the root
        self.first_problem = ""
        self._stems: dict[Path, dict[str, Path]] = {}

    def _by_stem(self, folder: Path) -> dict[str, Path]:
        """File stem -> file in ``folder``, listed once (for collections without paths)."""
        if folder not in self._stems:
            try:
                files = sorted(f for f in folder.iterdir() if _is_file(f))
            except OSError:
                files = []
            self._stems[folder] = {}
            for f in files:
                self._stems[folder].setdefault(f.stem, f)
        return self._stems[folder]

    def get(self, image_id: str) -> ImageRef | _Problem:
        """The image when usable, else what is wrong with it."""
        if image_id not in self._cache:
            found = self._cache[image_id] = self._resolve(image_id)
            if isinstance(found, _Problem) and found.reason in ("missing", "outside-root"):
                self.not_on_disk += 1
                self.first_problem = self.first_problem or found.message
        return self._cache[image_id]

    def _resolve(self, image_id: str) -> ImageRef | _Problem:
        info = self.collection.get(image_id)
        if info is None and self.collection:
            return _Problem("unknown", f"unknown image {image_id} (not in the image collection)")
        info = info or {}
        image_path = info.get("image_path", "")
        url, caption = info.get("image_url"), info.get("image_caption", "")
        if not image_path and url:
            return ImageRef(image_id, None, url, caption)  # known only by its URL
        path, refused = _find_file(image_path, image_id, self.root, self.dirs, self._by_stem)
        if path is None:
            shown = _short(image_path) if image_path else f"a file named {image_id}.*"
            if refused:
                return _Problem(
                    "outside-root",
                    f"refused image {image_id} ({shown} lies outside {self.root} "
                    "after following links)",
                )
            guess = (self.dirs[0] if self.dirs else self.root) / (Path(image_path).name or image_id)
            return _Problem("missing", f"missing image {image_id} ({guess})")
        status = self.checker.check(path)
        if not status.ok and status.problem == "unsupported":
            return _Problem(
                "unsupported", f"unsupported format ({status.reason}) image {image_id} ({path})"
            )
        if not status.ok and status.problem == "missing":
            why = f": {status.reason}" if status.reason else ""
            return _Problem("missing", f"missing image {image_id} ({path}{why})")
        if not status.ok:
            return _Problem("corrupt", f"corrupt image {image_id} ({path}: {status.reason})")
        return ImageRef(image_id, str(path), url, caption)


def _build_document(
    doc_id: str,
    content: str,
    ids: list[str],
    where: str,
    corpus: Corpus,
    images: _ImageResolver,
    report: _Report,
) -> Document:
    parts = content.split(PIC)
    n_markers = len(parts) - 1
    if n_markers > len(ids):
        report.warn(
            f"{where}: doc {doc_id} has {n_markers} {PIC} markers but {len(ids)} images in "
            f"images_list; the last {n_markers - len(ids)} markers removed"
        )
    elif n_markers < len(ids):
        message = (
            f"{where}: doc {doc_id} has {n_markers} {PIC} markers but {len(ids)} images in "
            f"images_list; images {', '.join(ids[n_markers:])} have no position and are dropped"
        )
        report.warn(message)
        if report.dropped is not None:
            report.dropped += [
                Dropped("image", i, "unplaced", where, message) for i in ids[n_markers:]
            ]
    # the text after each marker, past adjacent markers (one pass, however many markers)
    after = [""] * len(parts)
    for k in range(len(parts) - 2, -1, -1):
        after[k] = parts[k + 1] or after[k + 1]
    text_parts: list[str] = []
    anchors: list[ImageAnchor] = []
    offset = 0
    for k, part in enumerate(parts):
        if k < n_markers and part:
            # the space that only set the marker off from the word before it goes with it
            part = marker_space_dropped(part, after[k])
        text_parts.append(part)
        offset += len(part)
        if k < min(n_markers, len(ids)):
            image = images.get(ids[k])
            if isinstance(image, _Problem):
                message = f"{image.message} in doc {doc_id} ({where}); image dropped, text kept"
                report.drop("image", ids[k], image.reason, where, message)
                kind = _PROBLEM_KINDS.get(image.reason, image.reason)
                corpus.file_under(message, subject=ids[k], problem=kind, document=f"doc {doc_id}")
                continue
            anchors.append(ImageAnchor(image, offset))
            corpus.images.setdefault(image.image_id, image)
    return Document(doc_id, "".join(text_parts), tuple(anchors), "", where)


def _no_images_error(root: Path, subset: str, wanted: int, resolver: _ImageResolver) -> str:
    """Why documents that place images got none, and where they were looked for."""
    searched = [str(d.relative_to(root)) or "." for d in resolver.dirs] or ["(no such folder)"]
    layouts = ", ".join(f"{h.as_posix()}/images/{subset.upper()}/" for h in _HOMES)
    message = (
        f"{root}: the documents of subset {subset!r} place {wanted} images but not one could be "
        f"loaded. Searched: {', '.join(searched)} (expected layout: {layouts}; collection in "
        f"IMAGE/images_info/ or IMAGE/IMAGE/images_info/)."
    )
    if resolver.first_problem:
        message += f" First problem: {resolver.first_problem}."
    if _is_file(root / "IMAGE.zip"):
        message += f" IMAGE.zip is not extracted: run `unzip IMAGE.zip` in {root}."
    return message


def _confined_file(path: Path, root: Path) -> Path:
    """``path`` if it is a file inside ``root`` (symlinks followed), else a CorpusError."""
    if confine(path, root) is None:
        raise CorpusError(f"{path}: lies outside {root} (after following links); refused")
    return path


def load_mramg(
    root: str | Path,
    subset: str | None = None,
    *,
    verify: bool = True,
    dropped: list[Dropped] | None = None,
) -> Corpus:
    """Load the documents of one MRAMG-Bench subset.

    Args:
        root: Folder holding ``doc_<subset>.jsonl`` and ``IMAGE/`` (or ``IMAGE/IMAGE/``).
        subset: Subset name; detected when the folder holds exactly one ``doc_*.jsonl``.
        verify: Check every image with Pillow's ``verify()`` (corrupt files are dropped and
            reported); False only checks that the files exist.
        dropped: If given, one :class:`Dropped` per document, image or image URL left out is
            appended here (reasons in :data:`DROP_REASONS`), for counting by reason.

    Returns:
        The corpus. ``Document.source`` is ``"doc_<subset>.jsonl:<line>"``; ``title`` is empty
        (the format has none). Images that are missing, corrupt, unknown or outside ``root`` are
        dropped from their document (its text is kept) and reported in ``warnings``, as are
        image URLs that are not ``http(s)``, duplicate doc ids (the first record is kept) and
        duplicate keys in the image collection (the last value is kept).

    Raises:
        CorpusError: Malformed JSON or a record of the wrong shape (message names file and line),
            no subset to read, no documents, or documents that place images none of which could
            be loaded (the message lists the folders searched, and names an unextracted
            ``IMAGE.zip``).

    Example::

        corpus = load_mramg("../shared/bench/gimp")
        corpus.documents[3].images[0].offset  # 13: the first image sits after 13 characters
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise CorpusError(f"{root}: not a folder")
    subset = resolve_subset(root, subset)
    corpus = Corpus(root=str(root))
    report = _Report(corpus.warnings, dropped)
    collection = _load_collection(root, subset, report)
    resolver = _ImageResolver(root, subset, collection, ImageChecker(verify=verify))
    doc_path = _confined_file(root / f"doc_{subset}.jsonl", root)
    first_line: dict[str, int] = {}
    wanted = 0
    for lineno, line in read_lines(doc_path, corpus.warnings):
        where = f"{doc_path.name}:{lineno}"
        doc_id, content, ids = _parse_doc_line(line, doc_path, lineno)
        if doc_id in first_line:
            report.drop(
                "document",
                doc_id,
                "duplicate-id",
                where,
                f"{where}: duplicate doc_id {doc_id} (first at line {first_line[doc_id]}); "
                "this record is skipped",
            )
            continue
        first_line[doc_id] = lineno
        wanted += min(content.count(PIC), len(ids))
        doc = _build_document(doc_id, content, ids, where, corpus, resolver, report)
        corpus.documents.append(doc)
    if not corpus.documents:
        raise CorpusError(f"{doc_path}: no documents (the file is empty)")
    if wanted and not corpus.images and resolver.not_on_disk:
        raise CorpusError(_no_images_error(root, subset, wanted, resolver))
    corpus.log_summary(f"MRAMG subset {subset!r}")
    return corpus


def _parse_question(line: str, path: Path, lineno: int) -> QAItem:
    rec = _loads(line, path, lineno)
    shape = f"{path}:{lineno}: expected an object with id, question, ground_truth"
    if not isinstance(rec, dict):
        raise CorpusError(f"{shape}, got {type(rec).__name__}")
    missing = [k for k in ("id", "question", "ground_truth") if k not in rec]
    if missing:
        raise CorpusError(f"{shape}; missing {', '.join(missing)}")
    qid = _as_id(rec["id"])
    if qid is None:
        raise CorpusError(
            f"{shape}; id must be a string or integer, got {type(rec['id']).__name__}"
        )
    for key in ("question", "ground_truth"):
        if not isinstance(rec[key], str):
            raise CorpusError(f"{shape}; {key} must be a string, got {type(rec[key]).__name__}")
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
    root: str | Path,
    subset: str | None = None,
    *,
    warnings: list[str] | None = None,
    dropped: list[Dropped] | None = None,
) -> list[QAItem]:
    """Load ``<subset>_mqa.jsonl``.

    Args:
        root: The MRAMG-Bench folder.
        subset: Subset name; detected as in :func:`load_mramg`.
        warnings: If given, problems that were skipped over are appended here (they are always
            logged): undecodable bytes, a ``<PIC>`` count that differs from ``images_list``, a
            duplicate question id.
        dropped: If given, one :class:`Dropped` per question left out is appended here (a
            repeated id: the first question with it is kept).

    Raises:
        CorpusError: Missing file, malformed JSON or a record of the wrong shape (with file:line).
    """
    root = Path(root).resolve()
    subset = resolve_subset(root, subset)
    path = root / f"{subset}_mqa.jsonl"
    if not path.is_file():
        raise CorpusError(f"{path}: no questions file for subset {subset!r}")
    _confined_file(path, root)
    found: list[str] = []
    report = _Report(found, dropped)
    first_line: dict[str, int] = {}
    items: list[QAItem] = []
    for lineno, line in read_lines(path, found):
        where = f"{path.name}:{lineno}"
        item = _parse_question(line, path, lineno)
        if item.qid in first_line:
            report.drop(
                "question",
                item.qid,
                "duplicate-id",
                where,
                f"{where}: duplicate question id {item.qid} (first at line "
                f"{first_line[item.qid]}); this question is skipped, the first is kept",
            )
            continue
        first_line[item.qid] = lineno
        n_markers = item.ground_truth.count(PIC)
        if n_markers != len(item.image_ids):
            found.append(
                f"{where}: question {item.qid} has {n_markers} {PIC} markers "
                f"but {len(item.image_ids)} images in images_list"
            )
        items.append(item)
    for message in found:
        logger.warning("%s", message)
    if warnings is not None:
        warnings.extend(found)
    return items
