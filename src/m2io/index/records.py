"""JSONL rows of an index: one per chunk (``chunks.jsonl``), one per image occurrence
(``images.jsonl``).

A chunk row names its images by row number in ``images.jsonl`` (``[row, offset]`` pairs), so an
image's caption and context are stored once, with the occurrence, and every chunk that holds it
shares the same :class:`~m2io.types.ImageRef`. An image row's ``path`` is relative to the corpus
root (POSIX); the reader resolves and confines it (:mod:`m2io.index.store`). A row of a
document added after the build (:mod:`m2io.index.update`) carries ``"base": "added"``: its path is
relative to the index's own ``added/`` folder instead, and is confined there.

A chunk that crosses into later sections lists them under ``"sections"``: ``[offset in the
chunk text, title]`` pairs, offsets increasing (:attr:`~m2io.types.Chunk.sections`); at most
:data:`MAX_SECTIONS` of them, titles at most :data:`MAX_SECTION_TITLE` characters. A row without
the key (every row of an index built before it existed) is a chunk in one section.

Rows are read as hostile input: every key and type is checked, and a bad row raises
:class:`RowError` whose message says what is wrong; the reader adds the file and line.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from m2io.safety import open_regular
from m2io.types import Candidate, Chunk, ImageAnchor, ImageRef, SectionSpan, Source

MAX_SECTIONS = 32
"""Most sections a chunk row lists past its first (a 180-word chunk rarely crosses five)."""
MAX_SECTION_TITLE = 200
"""Longest section title a chunk row holds (headings are at most 100 characters)."""


class RowError(ValueError):
    """A row of ``chunks.jsonl`` or ``images.jsonl`` that is not what the index writes.

    Attributes:
        line: The 1-based line it was read from, when the raiser knows it.
    """

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def candidate_row(c: Candidate, decorative: bool = False) -> dict[str, Any]:
    """The ``images.jsonl`` row of ``c``; its ``image.path`` must already be root-relative.

    ``decorative`` marks an image retrievers never offer (see :mod:`m2io.index.decorative`).
    """
    return {
        "image_id": c.image.image_id,
        "path": c.image.path,
        "url": c.image.url,
        "caption": c.image.caption,
        "context_before": c.context_before,
        "context_after": c.context_after,
        "doc_id": c.doc_id,
        "chunk_id": c.chunk_id,
        "doc_position": c.doc_position,
        "decorative": decorative,
    }


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_CANDIDATE_KEYS: dict[str, Callable[[Any], bool]] = {
    "image_id": _is_str,
    "path": _is_opt_str,
    "url": _is_opt_str,
    "caption": _is_str,
    "context_before": _is_str,
    "context_after": _is_str,
    "doc_id": _is_str,
    "chunk_id": _is_opt_str,
    "doc_position": _is_number,
    "decorative": lambda v: isinstance(v, bool),
}

_SOURCE_KEYS: dict[str, Callable[[Any], bool]] = {
    "title": _is_str,
    "location": _is_str,
    "section": _is_str,
    "anchor": _is_str,
}


def _is_span(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_is_int(x) and x >= 0 for x in v)


_CHUNK_KEYS: dict[str, Callable[[Any], bool]] = {
    "chunk_id": _is_str,
    "doc_id": _is_str,
    "title": _is_str,
    "start": _is_int,
    "text": _is_str,
    "images": lambda v: isinstance(v, list),
    "source": lambda v: isinstance(v, dict),
    "section": _is_span,
}


def _check(row: Any, keys: dict[str, Callable[[Any], bool]]) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise RowError(f"row is a {type(row).__name__}, not an object")
    missing = [k for k in keys if k not in row]
    if missing:
        raise RowError(f"row lacks {missing}")
    for key, ok in keys.items():
        if not ok(row[key]):
            raise RowError(f"{key!r} has the wrong type: {row[key]!r:.60}")
    return row


def candidate_from_row(row: Any, path: str | None = None) -> Candidate:
    """The candidate of an ``images.jsonl`` row, with ``path`` (already resolved and confined by
    the caller) in place of the stored relative one.

    Raises:
        RowError: The row is not an object, lacks a key, or a value has the wrong type.
    """
    row = _check(row, _CANDIDATE_KEYS)
    image = ImageRef(row["image_id"], path, row["url"], row["caption"])
    return Candidate(
        image=image,
        context_before=row["context_before"],
        context_after=row["context_after"],
        doc_id=row["doc_id"],
        chunk_id=row["chunk_id"],
        doc_position=float(row["doc_position"]),
    )


def chunk_row(
    chunk: Chunk, image_rows: list[tuple[int, int]], section: tuple[int, int] = (0, 0)
) -> dict[str, Any]:
    """``image_rows``: ``(row in images.jsonl, offset in chunk text)`` per image of the chunk;
    ``section``: the document span ``(start, end)`` of the section the chunk belongs to. The
    chunk's :class:`~m2io.types.Source` is stored without its ``doc_id`` (the row has it)."""
    src = chunk.source or Source(chunk.doc_id, chunk.title)
    return {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "start": chunk.start,
        "text": chunk.text,
        "images": [[row, offset] for row, offset in image_rows],
        "source": {
            "title": src.title,
            "location": src.location,
            "section": src.section,
            "anchor": src.anchor,
            **({"language": src.language} if src.language else {}),
        },
        "section": [section[0], section[1]],
        **({"sections": _section_pairs(chunk)} if chunk.sections else {}),
    }


def _section_pairs(chunk: Chunk) -> list[list[Any]]:
    """The chunk's later sections as row pairs, capped in count and title length, offsets
    inside the text and increasing (anything else is dropped)."""
    pairs: list[list[Any]] = []
    last = 0
    for span in chunk.sections[:MAX_SECTIONS]:
        if last < span.offset <= len(chunk.text):
            pairs.append([span.offset, span.title[:MAX_SECTION_TITLE]])
            last = span.offset
    return pairs


def _check_sections(value: Any, text: str) -> tuple[SectionSpan, ...]:
    """The ``"sections"`` of a chunk row, checked: a list of at most :data:`MAX_SECTIONS`
    ``[offset, title]`` pairs, offsets increasing and inside the chunk text, titles strings of
    at most :data:`MAX_SECTION_TITLE` characters.

    Raises:
        RowError: Any of that is not so.
    """
    if not isinstance(value, list) or len(value) > MAX_SECTIONS:
        raise RowError(f"'sections' is not a list of at most {MAX_SECTIONS}: {value!r:.60}")
    out: list[SectionSpan] = []
    last = 0
    for pair in value:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and _is_int(pair[0])
            and isinstance(pair[1], str)
            and len(pair[1]) <= MAX_SECTION_TITLE
        ):
            raise RowError(f"'sections' entry {pair!r:.60} is not an [int, title] pair")
        if not last < pair[0] <= len(text):
            raise RowError(
                f"'sections' offset {pair[0]} is not past {last} and inside the chunk text"
            )
        last = pair[0]
        out.append(SectionSpan(pair[0], _shared(pair[1])))
    return tuple(out)


def _shared(text: str) -> str:
    """``text`` interned, so equal values across rows are one object in memory."""
    return sys.intern(text)


@lru_cache(maxsize=4096)
def _source(
    doc_id: str, title: str, location: str, section: str, anchor: str, language: str = ""
) -> Source:
    """One (immutable) :class:`Source` for all the chunks of one section read together (an
    index parses its rows a few at a time, :mod:`m2io.index.rows`)."""
    return Source(
        doc_id, _shared(title), _shared(location), _shared(section), _shared(anchor), language
    )


def check_chunk_row(row: Any, n_images: int) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    """The checks of :func:`chunk_from_row` alone, against ``n_images`` image rows: the row's
    source and its ``(image row, offset)`` pairs.

    Raises:
        RowError: As :func:`chunk_from_row`.
    """
    row = _check(row, _CHUNK_KEYS)
    src = _check(row["source"], _SOURCE_KEYS)
    pairs: list[tuple[int, int]] = []
    for pair in row["images"]:
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_int(v) for v in pair)):
            raise RowError(f"'images' entry {pair!r:.60} is not an [int, int] pair")
        i, off = pair
        if not 0 <= i < n_images:
            raise RowError(f"image row {i} is out of range (images.jsonl has {n_images})")
        if not 0 <= off <= len(row["text"]):
            raise RowError(f"image offset {off} lies outside the chunk text")
        pairs.append((i, off))
    language = src.get("language", "")  # optional: written only when known
    if not isinstance(language, str) or len(language) > 16:
        raise RowError(f"'language' has the wrong type: {language!r:.60}")
    if "sections" in row:  # optional: written only for a chunk that crosses into a section
        _check_sections(row["sections"], row["text"])
    return src, pairs


def chunk_from_row(
    row: Any, candidates: Sequence[Candidate], *, checked: bool = False
) -> tuple[Chunk, list[int], tuple[int, int]]:
    """The chunk (with its source), the rows of its images in chunk order, and its section's
    document span. ``checked``: the same bytes passed :func:`check_chunk_row` already (an index
    checks every row at open and parses it again when read), so the checks are not repeated.

    Raises:
        RowError: A key is missing or mistyped, an image entry is not an ``[int, int]`` pair, its
            row is not a row of ``candidates`` or its offset lies outside the chunk text, or
            ``"sections"`` is not what :func:`chunk_row` writes.
    """
    if checked:
        src, pairs = row["source"], [(i, off) for i, off in row["images"]]
    else:
        src, pairs = check_chunk_row(row, len(candidates))
    anchors = tuple(ImageAnchor(candidates[i].image, off) for i, off in pairs)
    # a document's chunks repeat its id, title, location and sections: one string each, shared
    # (a million rows hold far fewer distinct values than fields)
    doc_id, title = _shared(row["doc_id"]), _shared(row["title"])
    language = src.get("language", "")
    source = _source(doc_id, src["title"], src["location"], src["section"], src["anchor"], language)
    crossed = _check_sections(row["sections"], row["text"]) if "sections" in row else ()
    chunk = Chunk(
        row["chunk_id"], doc_id, row["text"], anchors, title, row["start"], source, crossed
    )
    start, end = row["section"]
    return chunk, [i for i, _ in pairs], (start, end)


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed value)`` for each non-blank line of ``path``.

    Raises:
        RowError: A line is not valid JSON (the message names the line).
        OSError, UnicodeDecodeError: The file cannot be read.
    """
    with io.TextIOWrapper(open_regular(path), encoding="utf-8") as f:  # a FIFO: refused
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except (json.JSONDecodeError, RecursionError) as err:
                raise RowError(f"invalid JSON ({err})", line=n) from err
