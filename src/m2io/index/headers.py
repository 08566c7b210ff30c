"""Binary files of an index checked against their own size before anything is read into memory.

A faiss or ``.npy`` file says in its header how much it holds, and the library that reads it
allocates that much before it finds the bytes are not there: a 78 KB faiss file declaring 750 M
floats made ``Index.open`` allocate 3 GB before it failed. Every binary file an index holds
(``*.faiss``, the BM25 ``*.npy`` arrays, the ``*.npz`` parts of an unfinished build) goes through
:func:`check_faiss_file` or :func:`check_npy_file` first: each size the header declares must fit
in the bytes the file has, else :class:`HeaderError` (a ``ValueError``, which the index reader
reports as "incomplete or corrupt index", see ``docs/design.md``, "Hostile input").

The faiss walk covers the kinds m2io writes (flat inner product, IVF-flat, HNSW-flat; see
:mod:`m2io.index.ann`): it reads the small fields and skips over each array after checking its
declared length against what is left, so it costs a few reads however large the file.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from m2io.safety import open_regular

MAX_DIM = 1 << 16
"""Widest vector a header may declare."""


class HeaderError(ValueError):
    """A binary file whose header declares more than the file holds, or makes no sense."""


class _Walk:
    """Reads a faiss file's fields in order, checking every declared length against the size."""

    def __init__(self, f: BinaryIO, size: int, name: str) -> None:
        self.f, self.size, self.name = f, size, name

    def fail(self, what: str) -> HeaderError:
        return HeaderError(f"{self.name}: {what} (the file holds {self.size} bytes)")

    def left(self) -> int:
        return self.size - self.f.tell()

    def read(self, fmt: str) -> tuple:
        n = struct.calcsize(fmt)
        data = self.f.read(n)
        if len(data) != n:
            raise self.fail("ends inside its header")
        return struct.unpack(fmt, data)

    def skip(self, nbytes: int, what: str) -> None:
        if nbytes < 0 or nbytes > self.left():
            raise self.fail(f"{what} declares {nbytes} bytes where {self.left()} are left")
        self.f.seek(nbytes, os.SEEK_CUR)

    def vector(self, itemsize: int, what: str) -> int:
        (n,) = self.read("<Q")
        if n > self.left() // itemsize:
            raise self.fail(f"{what} declares {n} items of {itemsize} bytes")
        self.f.seek(n * itemsize, os.SEEK_CUR)
        return n

    def index(self) -> None:
        (fourcc,) = self.read("<4s")
        d, ntotal, _, _, _, metric = self.read("<iqqqBi")
        if metric > 1:
            self.read("<f")
        if not 0 < d <= MAX_DIM or ntotal < 0:
            raise self.fail(f"header declares {ntotal} vectors of {d} dimensions")
        if ntotal * d * 4 > self.size:
            raise self.fail(f"header declares {ntotal} vectors of {d} floats")
        if fourcc in (b"IxFI", b"IxF2"):
            if self.vector(4, "vector data") != ntotal * d:
                raise self.fail(f"vector data is not {ntotal} x {d} floats")
        elif fourcc == b"IwFl":
            nlist, _ = self.read("<QQ")
            if nlist > self.size:
                raise self.fail(f"header declares {nlist} cells")
            self.index()  # the quantizer
            (map_type,) = self.read("<b")
            self.vector(8, "direct map")
            if map_type == 2:
                self.vector(16, "direct map table")
            self.lists(nlist, d * 4)
        elif fourcc == b"IHNf":
            for itemsize, what in ((8, "level probabilities"), (4, "neighbours per level")):
                self.vector(itemsize, what)
            self.vector(4, "levels")
            self.vector(8, "offsets")
            self.vector(4, "neighbours")
            self.read("<iiiii")
            self.index()  # the stored vectors
        else:
            raise self.fail(f"not a vector index m2io writes (type {fourcc!r})")

    def lists(self, nlist: int, code_size: int) -> None:
        (fourcc,) = self.read("<4s")
        if fourcc == b"il00":
            return
        if fourcc != b"ilar":
            raise self.fail(f"unknown inverted lists {fourcc!r}")
        n, size = self.read("<QQ")
        if n != nlist or size != code_size:
            raise self.fail(f"inverted lists of {n} cells x {size} bytes, expected {nlist}")
        (kind,) = self.read("<4s")
        if kind == b"full":
            (count,) = self.read("<Q")
            if count != nlist or count > self.left() // 8:
                raise self.fail(f"list sizes declare {count} cells")
            sizes = np.frombuffer(self.f.read(8 * count), dtype="<u8")
        elif kind == b"sprs":
            (count,) = self.read("<Q")
            if count > self.left() // 8:
                raise self.fail(f"list sizes declare {count} entries")
            sizes = np.frombuffer(self.f.read(8 * count), dtype="<u8")[1::2]
        else:
            raise self.fail(f"unknown list sizes {kind!r}")
        entries = int(sizes.sum(dtype=np.float64)) if len(sizes) else 0
        self.skip(entries * (code_size + 8), f"inverted lists of {entries} vectors")


def check_faiss_file(path: Path) -> None:
    """Raise :class:`HeaderError` unless every size ``path``'s faiss header declares fits in it.

    Raises:
        HeaderError: The file declares more than it holds, or is not a kind m2io writes.
        OSError: It cannot be read.
    """
    with open_regular(path) as f:  # a FIFO or device is refused, not waited on
        size = os.fstat(f.fileno()).st_size
        walk = _Walk(f, size, path.name)
        walk.index()
        if walk.left() < 0:
            raise walk.fail("ends early")


def read_npy_header(f: BinaryIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """A ``.npy`` file's magic and header from ``f``'s start: ``(shape, fortran_order, dtype)``,
    ``f`` left at the first byte of data. Raises what numpy's parser raises on a bad header."""
    version = np.lib.format.read_magic(f)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    return read_header(f)


def _npy_fits(f: BinaryIO, size: int, name: str) -> None:
    try:
        shape, _, dtype = read_npy_header(f)
    except (ValueError, SyntaxError, struct.error) as err:
        raise HeaderError(f"{name}: not a numpy array ({err})") from err
    if dtype.hasobject:
        raise HeaderError(f"{name}: holds Python objects, not numbers")
    need = dtype.itemsize
    for n in shape:
        need *= int(n)
    if need > size - f.tell():
        raise HeaderError(
            f"{name}: header declares an array of shape {shape} ({need} bytes) "
            f"(the file holds {size} bytes)"
        )


def check_npy_file(path: Path) -> None:
    """Raise :class:`HeaderError` unless the array a ``.npy`` file (or every array of a
    ``.npz``) declares fits in the bytes it has."""
    if path.suffix == ".npz":
        try:
            with open_regular(path) as raw, zipfile.ZipFile(raw) as z:
                for info in z.infolist():
                    with z.open(info) as f:
                        _npy_fits(f, info.file_size, f"{path.name}:{info.filename}")  # type: ignore[arg-type]
        except zipfile.BadZipFile as err:
            raise HeaderError(f"{path.name}: not a numpy archive ({err})") from err
        return
    with open_regular(path) as f:
        _npy_fits(f, os.fstat(f.fileno()).st_size, path.name)


def check_npy_folder(folder: Path) -> None:
    """:func:`check_npy_file` on every ``*.npy`` in ``folder``."""
    for path in sorted(folder.glob("*.npy")):
        check_npy_file(path)
