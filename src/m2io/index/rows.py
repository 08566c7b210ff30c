"""An index's JSONL rows read from a memory-mapped file on access, not held parsed in memory.

``chunks.jsonl`` and ``images.jsonl`` hold most of an index's bytes after its vectors. Parsed
into Python objects they cost several times their size, and every process that opens the index
(each ``m2io serve`` worker that reopens it after an upload) held its own copy. A
:class:`RowFile` instead maps the file read-only (pages the kernel shares between every process
that maps it) and keeps only the byte offset of each row; ``rows[i]`` parses row ``i`` when asked,
and a small LRU keeps the rows read last (a question reads a few dozen).

Opening still reads every row once (:func:`scan_rows`): each is checked as hostile input, so a
bad row is an :class:`~m2io.index.manifest.IndexFormatError` naming its file and line at open,
not a failure in the middle of an answer, and the caller keeps what it needs of each row in
compact arrays (a chunk's image rows and section span, see :class:`Ragged` and :class:`Spans`).
The offsets are found in the same pass, so an index needs no extra file and every index, old or
new, opens the same way. The files are never written in place: a build or an update writes a new
folder and swaps it in (:mod:`m2io.index.lock`), so a mapping of the old file stays valid for as
long as a reader holds it.

Example::

    rows, offsets = scan_rows(path, check)  # check(value, row) raises RowError on a bad row
    chunks = RowFile(path, rows, offsets, lambda value: chunk_from_row(value, images)[0])
    chunks[12].text
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import numpy as np

from m2io.index.manifest import REBUILD_HINT, IndexFormatError
from m2io.index.records import RowError
from m2io.safety import open_regular

T = TypeVar("T")

MAP_FILES = os.name == "posix"
"""Whether index files are mapped (POSIX); elsewhere a mapped file could not be renamed away by
the swap of a build or an update, so its bytes are read into memory instead (rows still parsed
on access)."""
CACHE_ROWS = 2048
"""Parsed rows a :class:`RowFile` keeps (least recently read dropped first)."""

Buffer = mmap.mmap | bytes


def map_file(path: Path) -> Buffer:
    """``path`` mapped read-only (an empty file, or any without :data:`MAP_FILES`: its bytes).

    Raises:
        NotRegularFile: It is a FIFO, device or socket (never waited on).
        OSError: It cannot be read.
    """
    with open_regular(path) as f:
        if not MAP_FILES:
            return f.read()
        if f.seek(0, 2) == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


def _line_end(buf: Buffer, start: int) -> int:
    end = buf.find(b"\n", start)
    return len(buf) if end < 0 else end


def scan_rows(path: Path, check: Callable[[Any, int], None]) -> tuple[Buffer, np.ndarray]:
    """Map ``path`` and parse each non-blank line once: ``check(value, row)`` sees every row in
    order (and raises :class:`RowError` for a bad one). Returns the mapping and each row's byte
    offset.

    Raises:
        IndexFormatError: A line is not UTF-8 or JSON, ``check`` refused it (the message names
            the file and line), or the file cannot be read.
    """
    try:
        buf = map_file(path)
    except OSError as err:
        raise IndexFormatError(
            f"{path.parent}: incomplete or corrupt index: {err}; {REBUILD_HINT}"
        ) from err
    starts: list[int] = []
    pos, line = 0, 0
    try:
        while pos < len(buf):
            line += 1
            end = _line_end(buf, pos)
            text = buf[pos:end].decode("utf-8")
            if text.strip():
                try:
                    value = json.loads(text)
                except (json.JSONDecodeError, RecursionError) as err:
                    raise RowError(f"invalid JSON ({err})", line=line) from err
                check(value, len(starts))
                starts.append(pos)
            pos = end + 1
    except RowError as err:
        raise IndexFormatError(f"{path} line {err.line or line}: {err}; {REBUILD_HINT}") from err
    except UnicodeDecodeError as err:
        raise IndexFormatError(
            f"{path.parent}: incomplete or corrupt index: {path.name} line {line}: {err}; "
            f"{REBUILD_HINT}"
        ) from err
    return buf, np.asarray(starts, dtype=np.int64)


class RowFile(Sequence[T], Generic[T]):
    """The rows of a mapped JSONL file as a read-only sequence, each parsed when read.

    ``rows[i]``, ``rows[-1]``, ``rows[a:b]`` (a list), ``len``, iteration (rows parsed in order,
    not cached) and ``==`` against any sequence behave as on the list of parsed rows.
    """

    def __init__(
        self,
        path: Path,
        buf: Buffer,
        starts: np.ndarray,
        parse: Callable[[Any], T],
        cache: int = CACHE_ROWS,
    ) -> None:
        self.path = path
        self._buf = buf
        self._starts = starts
        self._parse = parse
        self._cached = lru_cache(maxsize=cache)(self._read)

    def _read(self, row: int) -> T:
        start = int(self._starts[row])
        try:
            return self._parse(json.loads(self._buf[start : _line_end(self._buf, start)]))
        except (RowError, ValueError, RecursionError) as err:  # the file changed under its map
            raise IndexFormatError(f"{self.path} row {row}: {err}; {REBUILD_HINT}") from err

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, row: int) -> T: ...
    @overload
    def __getitem__(self, row: slice) -> list[T]: ...
    def __getitem__(self, row: int | slice) -> T | list[T]:
        if isinstance(row, slice):
            return [self._cached(r) for r in range(*row.indices(len(self)))]
        r = int(row)  # numpy integers too
        if r < 0:
            r += len(self)
        if not 0 <= r < len(self):
            raise IndexError(f"row {row} out of range ({len(self)} rows)")
        return self._cached(r)

    def __iter__(self) -> Iterator[T]:
        for r in range(len(self)):
            yield self._read(r)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RowFile({str(self.path)!r}, {len(self)} rows)"


class Ragged(Sequence[list[int]]):
    """Lists of ints, one per row, held as two arrays (where each row's items start, then the
    items): a chunk's image rows, without a Python list per chunk."""

    def __init__(self, ptr: np.ndarray, items: np.ndarray) -> None:
        self._ptr, self._items = ptr, items

    def __len__(self) -> int:
        return len(self._ptr) - 1

    @overload
    def __getitem__(self, row: int) -> list[int]: ...
    @overload
    def __getitem__(self, row: slice) -> list[list[int]]: ...
    def __getitem__(self, row: int | slice) -> list[int] | list[list[int]]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        r = int(row) + (len(self) if row < 0 else 0)
        if not 0 <= r < len(self):
            raise IndexError(f"row {row} out of range ({len(self)} rows)")
        return self._items[self._ptr[r] : self._ptr[r + 1]].tolist()


class Spans(Sequence[tuple[int, int]]):
    """``(start, end)`` pairs, one per row, held as one ``(n, 2)`` array: each chunk's section."""

    def __init__(self, pairs: np.ndarray) -> None:
        self._pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self._pairs)

    @overload
    def __getitem__(self, row: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, row: slice) -> list[tuple[int, int]]: ...
    def __getitem__(self, row: int | slice) -> tuple[int, int] | list[tuple[int, int]]:
        if isinstance(row, slice):
            return [self[r] for r in range(*row.indices(len(self)))]
        start, end = self._pairs[row].tolist()
        return start, end
