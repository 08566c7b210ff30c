"""JSONL rows of an index: one per chunk (``chunks.jsonl``), one per image occurrence
(``images.jsonl``).

A chunk row names its images by row number in ``images.jsonl`` (``[row, offset]`` pairs), so an
image's caption and context are stored once, with the occurrence, and every chunk that holds it
shares the same :class:`~m2io.types.ImageRef`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from m2io.types import Candidate, Chunk, ImageAnchor, ImageRef


def candidate_row(c: Candidate) -> dict[str, Any]:
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
    }


def candidate_from_row(row: dict[str, Any]) -> Candidate:
    image = ImageRef(row["image_id"], row["path"], row["url"], row["caption"])
    return Candidate(
        image=image,
        context_before=row["context_before"],
        context_after=row["context_after"],
        doc_id=row["doc_id"],
        chunk_id=row["chunk_id"],
        doc_position=row["doc_position"],
    )


def chunk_row(chunk: Chunk, image_rows: list[tuple[int, int]]) -> dict[str, Any]:
    """``image_rows``: ``(row in images.jsonl, offset in chunk text)`` per image of the chunk."""
    return {
        "chunk_id": chunk.chunk_id,
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "start": chunk.start,
        "text": chunk.text,
        "images": [[row, offset] for row, offset in image_rows],
    }


def chunk_from_row(row: dict[str, Any], candidates: list[Candidate]) -> tuple[Chunk, list[int]]:
    """The chunk and the rows of its images, in chunk order."""
    anchors = tuple(ImageAnchor(candidates[i].image, off) for i, off in row["images"])
    chunk = Chunk(row["chunk_id"], row["doc_id"], row["text"], anchors, row["title"], row["start"])
    return chunk, [i for i, _ in row["images"]]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            f.write("\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
