"""Write documents (and questions) in the MRAMG-Bench layout that :func:`load_mramg` reads.

Any corpus m2io can load (a folder of Markdown/HTML, another MRAMG subset) can be written out
this way and then used by MRAMG-format tools: benchmark scripts, inserter training data builders.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from m2io.corpus.mramg import QAItem
from m2io.corpus.report import CorpusError
from m2io.safety import is_inside
from m2io.text import PIC, marker_space
from m2io.types import Document, ImageRef

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _json_id(value: str) -> str | int:
    """MRAMG-Bench stores numeric ids as JSON integers; keep that where it is lossless."""
    return int(value) if value.isdigit() and str(int(value)) == value else value


def _content(doc: Document) -> str:
    """The document text with one ``<PIC>`` at each anchor's offset.

    A marker right after a word and before a space or punctuation gets the space in front of it
    that :func:`~m2io.corpus.load_mramg` takes away with it ("shown in <PIC>, is").
    """
    if PIC in doc.text:
        raise CorpusError(f"doc {doc.doc_id}: its text contains a literal {PIC}")
    pieces: list[str] = []
    last = 0
    for anchor in sorted(doc.images, key=lambda a: a.offset):
        if not 0 <= anchor.offset <= len(doc.text):
            raise CorpusError(
                f"doc {doc.doc_id}: image {anchor.image.image_id} at offset {anchor.offset} "
                f"is outside its text (length {len(doc.text)})"
            )
        if anchor.offset != last or not pieces:
            pieces += [doc.text[last : anchor.offset], marker_space(doc.text, anchor.offset)]
        pieces.append(PIC)
        last = anchor.offset
    pieces.append(doc.text[last:])
    return "".join(pieces)


def _file_name(image: ImageRef, taken: set[str]) -> str:
    """A file name for ``image`` in the subset folder: its id made safe, plus its extension."""
    suffix = Path(image.path or "").suffix.lower() or ".png"
    stem = _UNSAFE.sub("_", image.image_id).strip("._") or "image"
    if stem.lower().endswith(suffix):
        stem = stem[: -len(suffix)]
    name, n = f"{stem}{suffix}", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}{suffix}"
    taken.add(name)
    return name


def _collection_entry(image: ImageRef, image_dir: Path, taken: set[str], copy: bool) -> dict:
    entry: dict[str, Any] = {"image_url": image.url or "", "image_caption": image.caption}
    if image.path is None:
        entry["image_path"] = ""
    elif copy:
        name = _file_name(image, taken)
        src, dst = Path(image.path), image_dir / name
        if src.is_file():
            if not (dst.exists() and dst.samefile(src)):
                shutil.copy2(src, dst)
        else:
            logger.warning("image %s: %s does not exist; not copied", image.image_id, src)
        entry["image_path"] = name
    else:
        entry["image_path"] = str(Path(image.path).resolve())
        out = image_dir.parents[2]  # image_dir is out/IMAGE/images/<SUBSET>
        if not is_inside(entry["image_path"], out):
            logger.warning(
                "image %s: %s lies outside %s; loading that folder will refuse it "
                "(write with copy_images=True, or into a folder that holds the images)",
                image.image_id,
                entry["image_path"],
                out,
            )
    return entry


def _write_jsonl(path: Path, records: Iterable[Any]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


def write_mramg(
    out_dir: str | Path,
    subset: str,
    documents: Iterable[Document],
    questions: Iterable[QAItem] = (),
    *,
    copy_images: bool = True,
) -> Path:
    """Write documents, their images and optional questions as one MRAMG-Bench subset.

    Args:
        out_dir: Folder to write into (created if needed; existing files of this subset are
            overwritten).
        subset: Subset name; files are ``doc_<subset>.jsonl``, ``<subset>_mqa.jsonl`` (only when
            questions are given), ``IMAGE/images/<SUBSET>/`` and
            ``IMAGE/images_info/<subset>_imgs_collection.json``.
        documents: Documents to write; every image they anchor goes into the collection (the
            first record seen for an id wins).
        questions: Questions to write.
        copy_images: Copy image files into ``IMAGE/images/<SUBSET>/`` (named after their ids);
            when False the collection references the original files by absolute path, which
            :func:`~m2io.corpus.load_mramg` accepts only for files inside ``out_dir`` (a warning
            is logged for any other).

    Returns:
        The output folder. Loading it back with :func:`load_mramg` gives the same documents
        except ``title`` (the format has none), ``source``, and image paths when copied.

    Raises:
        CorpusError: A document's text contains a literal ``<PIC>`` or an anchor lies outside it.
    """
    if not subset or _UNSAFE.search(subset):
        raise ValueError(f"subset must be a plain name (letters, digits, . _ -), got {subset!r}")
    out = Path(out_dir)
    image_dir = out / "IMAGE" / "images" / subset.upper()
    info_dir = out / "IMAGE" / "images_info"
    image_dir.mkdir(parents=True, exist_ok=True)
    info_dir.mkdir(parents=True, exist_ok=True)

    docs = list(documents)
    rows = [
        [
            _json_id(d.doc_id),
            _content(d),
            [_json_id(a.image.image_id) for a in sorted(d.images, key=lambda a: a.offset)],
        ]
        for d in docs
    ]
    images: dict[str, ImageRef] = {}
    for doc in docs:
        for anchor in doc.images:
            images.setdefault(anchor.image.image_id, anchor.image)
    taken: set[str] = set()
    collection = {
        image_id: _collection_entry(image, image_dir, taken, copy_images)
        for image_id, image in images.items()
    }
    _write_jsonl(out / f"doc_{subset}.jsonl", rows)
    with (info_dir / f"{subset}_imgs_collection.json").open("w", encoding="utf-8") as fh:
        json.dump(collection, fh, ensure_ascii=False, indent=1)
    qs = list(questions)
    if qs:
        _write_jsonl(
            out / f"{subset}_mqa.jsonl",
            (
                {
                    "id": _json_id(q.qid),
                    "question": q.question,
                    "ground_truth": q.ground_truth,
                    "provenance": [_json_id(p) for p in q.provenance],
                    "images_list": [_json_id(i) for i in q.image_ids],
                }
                for q in qs
            ),
        )
    logger.info(
        "wrote %d documents, %d images, %d questions to %s", len(docs), len(images), len(qs), out
    )
    return out
