"""Add documents to a built index without rebuilding it.

:func:`add_documents` takes Markdown/HTML documents with their images (as an HTTP upload gives
them), stores them inside the index folder, in ``added/<slot>/`` (the document file, and each
image at the path the document references it by), and appends their chunks and images to the
index. Nothing already in the index is embedded again: only the new chunks and images are; the
stored vectors and rows are kept, and the lexical index, near-duplicate documents and decorative
images are recomputed over the whole index (they are cheap and depend on every document).

Like a build (see ``docs/design.md``, "The index"), an update holds the index's build lock, writes
a complete new folder beside the index and swaps it in, so a reader that has the index open keeps
its copy, and a crash half-way leaves the previous index in place. Because the added files live in
the index folder, a read-only corpus is never written to, and the documents survive a restart and
a later ``m2io index`` into the same folder (which carries ``added/`` over).

Everything in a request is hostile input (``docs/design.md``, "Hostile input"): a document name
must be a plain file name (no folder, no ``..``, no control characters, at most
:data:`MAX_NAME_CHARS` characters, a Markdown/HTML/text suffix); each image must be a raster
image by its first bytes (:func:`m2io.safety.image_kind`) and is written only inside its
document's slot; every image path the index stores for it is confined to ``added/`` when read.
A document or image that fails a check is skipped and named in :attr:`AddResult.problems`; a
request that adds no document is a :class:`ValueError`.

A name already in the index is not an error: the document gets a fresh slot and id
(``added/guide.md``, then ``added/guide-2.md``), so an upload never replaces another one.

Example::

    result = add_documents(
        "gimp.index",
        [NewDocument("fog.md", "# Fog\\n\\n![The fog dialog](img/fog.png)\\n", {"img/fog.png": png})],
    )
    result.doc_ids, result.problems  # (('added/fog.md',), ())
"""

from __future__ import annotations

import logging
import os
import shutil
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

from m2io.corpus.folder import PARSERS
from m2io.embed.image import ImageEmbedder
from m2io.embed.text import TextEmbedder
from m2io.index.ann import write_store_vectors
from m2io.index.build import (
    PIXEL_KEYS,
    _attach_sources,
    _confine_images,
    _link_chunks,
    _occurrences,
    _swap_in,
    chunk_embedding_text,
    copy_added,
    file_key,
    image_embedding_text,
    load_slot,
    read_keys,
    write_keys,
)
from m2io.index.decorative import find_decorative
from m2io.index.dedup import find_duplicates
from m2io.index.lexical import LexicalIndex
from m2io.index.lock import build_lock, building_path, clean_leftovers
from m2io.index.manifest import ADDED, ROW_BASE, IndexManifest
from m2io.index.records import candidate_row, chunk_row, read_jsonl, write_jsonl
from m2io.index.sentences import index_sentences, sentence_key, write_sentence_vectors
from m2io.index.store import CHUNKS, IMAGES, Index
from m2io.index.vectors import normalise, write_vectors
from m2io.safety import confine, image_kind, read_regular
from m2io.types import Candidate, Chunk, Document

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 200
"""Longest document name accepted (file systems allow 255 bytes; a slot may add a suffix)."""
MAX_NAME_BYTES = 240
"""...and its UTF-8 bytes (a file name holds at most 255)."""
MAX_IMAGE_PATH_CHARS = 1024
MAX_TEXT_CHARS = 10_000_000
MAX_IMAGE_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class NewDocument:
    """A document to add, as uploaded.

    Attributes:
        name: File name, ``"guide.md"`` or ``"page.html"`` (no folders); its suffix picks the
            parser (``.md``, ``.markdown``, ``.html``, ``.htm``, ``.txt``).
        text: The Markdown or HTML source.
        images: Image path exactly as the text references it (``"img/a.png"``) -> file bytes.
    """

    name: str
    text: str
    images: Mapping[str, bytes]


@dataclass(frozen=True)
class AddResult:
    """What :func:`add_documents` did.

    Attributes:
        doc_ids: Ids of the documents added, in request order (``"added/<slot>"``); retrieval
            finds their chunks from now on.
        chunks: Chunks added.
        images: Image occurrences added.
        problems: One readable line per thing skipped, ``"guide.md: images/x.png: missing"``.
    """

    doc_ids: tuple[str, ...]
    chunks: int
    images: int
    problems: tuple[str, ...]


def add_documents(
    index_dir: str | os.PathLike[str],
    docs: Sequence[NewDocument],
    *,
    text_embedder: TextEmbedder | None = None,
    image_embedder: ImageEmbedder | None = None,
    lock_timeout: float = 600.0,
) -> AddResult:
    """Add ``docs`` to the index in ``index_dir``, embedding only what they bring.

    Args:
        index_dir: A folder written by :func:`~m2io.index.build_index`.
        docs: The documents; bad ones are skipped and reported (see the module docstring).
        text_embedder: Embedder for the new chunks and images; default: the model the index
            was built with (its manifest names it). Another model is refused.
        image_embedder: Pixel embedder, used only if the index holds pixel vectors; default:
            the manifest's one.
        lock_timeout: Seconds to wait for a build or another update of the same index.

    Returns:
        The ids of the added documents, what they added, and every problem skipped over.

    Raises:
        ValueError: Nothing could be added (the message lists why), or an embedder does not
            match the index.
        IndexFormatError: ``index_dir`` is not a readable index.
        IndexBusyError: Another build or update held the index past ``lock_timeout``.
    """
    if isinstance(docs, NewDocument):
        docs = [docs]
    docs = list(docs)
    if not docs:
        raise ValueError("add_documents got no documents: nothing to add")
    out = Path(index_dir).absolute()
    IndexManifest.read(out)  # not an index: a clear error before any lock file is made
    with build_lock(out, lock_timeout):
        clean_leftovers(out)
        return _add(out, docs, text_embedder, image_embedder)


def _add(
    out: Path,
    docs: list[NewDocument],
    text_embedder: TextEmbedder | None,
    image_embedder: ImageEmbedder | None,
) -> AddResult:
    """:func:`add_documents` under the lock."""
    from m2io.corpus.chunking import chunk_document

    index = Index.open(out)
    manifest = index.manifest
    problems: list[str] = []
    tmp = building_path(out, uuid.uuid4().hex[:8])
    tmp.mkdir()
    try:
        copy_added(out / ADDED, tmp / ADDED)
        taken = set(index.doc_rows) | {c.doc_id for c in index.candidates if c.doc_id}
        new_docs: list[Document] = []
        for doc in docs:
            loaded = _store_document(doc, tmp / ADDED, taken, problems)
            if loaded is not None:
                new_docs.append(loaded)
                taken.add(loaded.doc_id)
        if not new_docs:
            raise ValueError(
                "nothing was added: "
                + ("; ".join(problems) if problems else "the request held no usable document")
            )
        chunks = [
            c
            for d in new_docs
            for c in chunk_document(
                d, max_words=manifest.max_words, overlap_sentences=manifest.overlap_sentences
            )
        ]
        candidates, rows_of_doc = _occurrences(new_docs, manifest.context_chars)
        links = _link_chunks(chunks, new_docs, candidates, rows_of_doc)
        chunks, spans = _attach_sources(new_docs, chunks, None)  # no corpus file to link to
        local, stored = _confine_images(candidates, tmp / ADDED)
        emb = _text_embedder(index, text_embedder)
        pix = _image_embedder(index, image_embedder)
        _write(tmp, index, manifest, new_docs, chunks, links, spans, local, stored, emb, pix)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info(
        "added %d documents (%d chunks, %d images) to %s",
        len(new_docs),
        len(chunks),
        len(candidates),
        out,
    )
    return AddResult(
        tuple(d.doc_id for d in new_docs), len(chunks), len(candidates), tuple(problems)
    )


def _write(
    tmp: Path,
    index: Index,
    manifest: IndexManifest,
    new_docs: list[Document],
    chunks: list[Chunk],
    links: list[list[tuple[int, int]]],
    spans: list[tuple[int, int]],
    local: list[Candidate],
    stored: list[Candidate],
    emb: TextEmbedder,
    pix: ImageEmbedder | None,
) -> None:
    """Write the updated index into ``tmp``: the old rows and vectors, then the new ones."""
    n_old = len(index.candidates)
    n_docs = manifest.n_documents + len(new_docs)
    all_local = list(index.candidates) + local
    decorative = set(index.decorative) | set(find_decorative(all_local, n_docs).rows)
    old_rows = [row for _, row in read_jsonl(index.folder / IMAGES)]
    for i, row in enumerate(old_rows):
        row["decorative"] = i in decorative
    new_rows = []
    for i, c in enumerate(stored):
        row = candidate_row(c, n_old + i in decorative)
        row[ROW_BASE] = ADDED
        new_rows.append(row)
    write_jsonl(tmp / IMAGES, old_rows + new_rows)
    old_chunk_rows = [row for _, row in read_jsonl(index.folder / CHUNKS)]
    shifted = [[(n_old + r, off) for r, off in ln] for ln in links]
    write_jsonl(
        tmp / CHUNKS,
        old_chunk_rows
        + [chunk_row(c, ln, sp) for c, ln, sp in zip(chunks, shifted, spans, strict=True)],
    )
    texts = [chunk_embedding_text(c) for c in chunks]
    new_chunk_vecs = _encode(emb, texts, 64, False)
    store = index.vector_store()  # the documents added go where the others are
    write_store_vectors(
        tmp / "chunks.faiss",
        np.concatenate([index.stored_vectors("chunks"), new_chunk_vecs]),
        store,
    )
    all_texts = [chunk_embedding_text(c) for c in index.chunks] + texts
    LexicalIndex.build(all_texts).save(tmp / "bm25")
    image_vecs = _encode(emb, [image_embedding_text(c) for c in local], 64, False)
    write_store_vectors(
        tmp / "images.faiss", np.concatenate([index.stored_vectors("images"), image_vecs]), store
    )
    if pix is not None:
        pixel_vecs = normalise(_pixel_vectors(pix, local))
        write_vectors(
            tmp / "images_pixels.faiss",
            np.concatenate([index.stored_vectors("pixels"), pixel_vecs]),
        )
        old_keys = read_keys(index.folder / PIXEL_KEYS, n_old) or [None] * n_old
        write_keys(tmp / PIXEL_KEYS, old_keys + [file_key(c.image.path) for c in local])
    _write_sentences(tmp, index, chunks, emb)
    duplicates = _duplicates(index, new_docs)
    replace(
        manifest,
        n_documents=n_docs,
        n_chunks=len(index.chunks) + len(chunks),
        n_images=n_old + len(stored),
        near_duplicates=duplicates,
        n_decorative=len(decorative),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    ).write(tmp)


def _write_sentences(tmp: Path, index: Index, chunks: list[Chunk], emb: TextEmbedder) -> None:
    """The index's stored sentence vectors and those of the new chunks' sentences (only the
    ones not stored yet are embedded). An index without them, or with an empty table, stays
    so."""
    table = index.sentence_vectors
    if table is None:
        return
    if len(table) == 0:  # built without them (the default): the table stays empty
        write_sentence_vectors(tmp, [], np.zeros((0, table.vectors.shape[1]), np.float32))
        return
    keys = [k.tobytes() for k in table.keys]
    stored = set(keys)
    texts = [t for t in index_sentences(chunks) if sentence_key(t) not in stored]
    new = _encode(emb, texts, 64, False) if texts else np.zeros((0, table.vectors.shape[1]))
    write_sentence_vectors(
        tmp,
        keys + [sentence_key(t) for t in texts],
        np.concatenate([np.asarray(table.vectors, np.float32), new.astype(np.float32)]),
    )


def _encode(
    embedder: TextEmbedder, texts: list[str], batch_size: int, progress: bool
) -> np.ndarray:
    """Unit vectors for ``texts``, each distinct text embedded once."""
    unique = list(dict.fromkeys(texts))
    vecs = np.asarray(embedder.encode(unique, batch_size=batch_size, progress=progress), np.float32)
    if vecs.shape != (len(unique), embedder.dim):
        raise ValueError(
            f"embedder {embedder.name!r} returned shape {vecs.shape}, "
            f"expected {(len(unique), embedder.dim)}"
        )
    row = {t: i for i, t in enumerate(unique)}
    return normalise(vecs[[row[t] for t in texts]].reshape(len(texts), embedder.dim))


def _pixel_vectors(embedder: ImageEmbedder, candidates: list[Candidate]) -> np.ndarray:
    """Embed each distinct image file once; images without a local path get zero vectors."""
    paths = sorted({c.image.path for c in candidates if c.image.path})
    vecs = embedder.encode_images(paths) if paths else np.zeros((0, embedder.dim), np.float32)
    row_of = {p: i for i, p in enumerate(paths)}
    out = np.zeros((len(candidates), embedder.dim), dtype=np.float32)
    for i, c in enumerate(candidates):
        if c.image.path:
            out[i] = vecs[row_of[c.image.path]]
    return out


def _text_embedder(index: Index, given: TextEmbedder | None) -> TextEmbedder:
    m = index.manifest
    if given is None:
        return index.embedder  # loaded by the manifest's name, dimension checked
    if given.name != m.embedder or int(given.dim) != m.dim:
        raise ValueError(
            f"index {index.folder} was built with {m.embedder!r} ({m.dim}-d); adding with "
            f"{given.name!r} ({given.dim}-d) would mix two models' vectors"
        )
    return given


def _image_embedder(index: Index, given: ImageEmbedder | None) -> ImageEmbedder | None:
    m = index.manifest
    if m.image_embedder is None:
        return None  # the index keeps no pixel vectors; nothing to embed
    if given is None:
        return index.image_embedder
    if given.name != m.image_embedder or int(given.dim) != m.image_dim:
        raise ValueError(
            f"index {index.folder} holds pixel vectors of {m.image_embedder!r} "
            f"({m.image_dim}-d); got {given.name!r} ({given.dim}-d)"
        )
    return given


def _duplicates(index: Index, new_docs: list[Document]) -> dict[str, dict[str, Any]]:
    """Near-duplicates with the new documents: the old flags stay; a new document may be a copy
    or an aggregate, and an old one may become an aggregate of new ones. Old documents are
    compared by the text their chunks hold (the index keeps no document text)."""
    old_docs = [
        Document(doc_id, _text_of([index.chunks[r] for r in rows]))
        for doc_id, rows in index.doc_rows.items()
    ]
    found = find_duplicates(old_docs + new_docs).flagged
    new_ids = {d.doc_id for d in new_docs}
    merged = dict(index.near_duplicates)
    for doc_id, info in found.items():
        if doc_id not in merged and (doc_id in new_ids or info["kind"] == "aggregate"):
            merged[doc_id] = info
    return merged


def _text_of(chunks: list[Chunk]) -> str:
    """A document's text as far as its chunks cover it (overlaps counted once)."""
    parts: list[str] = []
    end = 0
    for c in sorted(chunks, key=lambda c: c.start):
        stop = c.start + len(c.text)
        if stop <= end:
            continue
        parts.append(c.text[max(end - c.start, 0) :] if c.start < end else " " + c.text)
        end = stop
    return "".join(parts)


# --- storing an uploaded document ----------------------------------------------------------------


def check_name(name: Any) -> str | None:
    """Why ``name`` cannot be a document's file name, or None when it can."""
    if not isinstance(name, str) or not name:
        return "the document has no name"
    if len(name) > MAX_NAME_CHARS:
        return f"the name is longer than {MAX_NAME_CHARS} characters"
    try:
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            return f"the name is longer than {MAX_NAME_BYTES} bytes in UTF-8"
    except UnicodeEncodeError:
        return "the name is not valid UTF-8"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp") for ch in name):
        return "the name holds control characters"
    if "/" in name or "\\" in name or name in (".", ".."):
        return "the name must be a file name, without folders"
    if name.startswith(".") or name != name.strip():
        return "the name must not start with a dot or with or end in spaces"
    if PurePosixPath(name).suffix.lower() not in PARSERS:
        return f"unsupported file type (use one of {', '.join(sorted(PARSERS))})"
    return None


def _slot(name: str, folder: Path, taken: set[str]) -> str:
    """A folder name under ``added/`` for ``name`` that no document uses yet."""
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    slot, k = name, 1
    while f"{ADDED}/{slot}" in taken or os.path.lexists(folder / slot):
        k += 1
        slot = f"{stem}-{k}{suffix}"
    return slot


def _image_target(ref: Any) -> tuple[str | None, str]:
    """``(path inside the document's slot, "")`` for an image reference, or ``(None, why)``.

    Mirrors how the folder loader resolves a reference: the URL path, percent-decoded, relative
    to the document, ``/x`` meaning the slot's ``x``.
    """
    if not isinstance(ref, str) or not ref.strip():
        return None, "empty image path"
    if len(ref) > MAX_IMAGE_PATH_CHARS:
        return None, f"image path longer than {MAX_IMAGE_PATH_CHARS} characters"
    try:
        ref.encode("utf-8")
        parts = urlsplit(ref)
    except (UnicodeEncodeError, ValueError):
        return None, "not a valid path"
    if parts.scheme or parts.netloc or ref.startswith("//"):
        return None, "not a local path"
    rel = unquote(parts.path)
    if any(unicodedata.category(ch) == "Cc" for ch in rel):
        return None, "the path holds control characters"
    norm = os.path.normpath(rel.lstrip("/"))
    if norm in (".", "") or norm == ".." or norm.startswith("../"):
        return None, "the path leads outside the document's folder"
    if PurePosixPath(norm).suffix.lower() in PARSERS:
        return None, "an image path may not end like a document (.md, .html, .txt)"
    return norm, ""


def _store_document(
    doc: NewDocument, folder: Path, taken: set[str], problems: list[str]
) -> Document | None:
    """Write ``doc`` and its images into a new slot of ``folder`` and load it back as the folder
    loader would; None (and the reasons in ``problems``) when nothing of it can be indexed."""
    why = check_name(doc.name)
    label = doc.name if why is None else repr(doc.name)[:80]
    if why is None and not isinstance(doc.text, str):
        why = "the text is not a string"
    if why is None and len(doc.text) > MAX_TEXT_CHARS:
        why = f"the text is longer than {MAX_TEXT_CHARS} characters"
    if why is not None:
        problems.append(f"{label}: {why}; not added")
        return None
    raw = doc.text.encode("utf-8", "replace")
    if raw.decode("utf-8") != doc.text:
        problems.append(f"{label}: text was not valid UTF-8; bad characters replaced")
    folder.mkdir(exist_ok=True)
    slot = _slot(doc.name, folder, taken)
    root = folder / slot
    root.mkdir()
    (root / doc.name).write_bytes(raw)
    written = _store_images(doc, root, label, problems)
    loaded, corpus = load_slot(root, slot)
    for p in corpus.problems() if corpus is not None else []:
        problems.append(f"{label}: {p.subject}: {p.kind}" if p.kind else f"{label}: {p.subject}")
    if loaded is None:
        problems.append(f"{label}: no text or images to index; not added")
        shutil.rmtree(root, ignore_errors=True)
        return None
    used = {a.image.path for a in loaded.images}
    for ref, path in written.items():
        if str(path) not in used:
            problems.append(
                f"{label}: {ref[:200]}: not used by the document (not referenced, "
                "or too small to be a figure); ignored"
            )
            path.unlink(missing_ok=True)
    return loaded


def _store_images(doc: NewDocument, root: Path, label: str, problems: list[str]) -> dict[str, Path]:
    """Write each acceptable image of ``doc`` under ``root``: ``{reference: real path}``."""
    written: dict[str, Path] = {}
    images = doc.images if isinstance(doc.images, Mapping) else {}
    for ref, data in images.items():
        shown = ref[:200] if isinstance(ref, str) else repr(ref)[:200]
        target, why = _image_target(ref)
        if target is None:
            problems.append(f"{label}: {shown}: {why}; ignored")
            continue
        if not isinstance(data, bytes | bytearray) or len(data) > MAX_IMAGE_BYTES:
            problems.append(
                f"{label}: {shown}: not image bytes or larger than "
                f"{MAX_IMAGE_BYTES // 2**20} MiB; ignored"
            )
            continue
        if image_kind(bytes(data[:16])) is None:
            problems.append(
                f"{label}: {shown}: not an image (PNG, JPEG, GIF, BMP, TIFF or WebP); ignored"
            )
            continue
        path = confine(root / target, root)
        if path is None or path == (root / doc.name).resolve():
            problems.append(
                f"{label}: {shown}: the path leads outside the document's folder; ignored"
            )
            continue
        if path.is_file() and read_regular(path) != bytes(data):
            problems.append(
                f"{label}: {shown}: a different image was given for the same file; ignored"
            )
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes(data))
        except OSError as err:
            problems.append(f"{label}: {shown}: cannot be stored ({err.strerror}); ignored")
            continue
        written[ref] = path
    return written
