"""Build an index folder from documents, atomically.

Layout of a finished folder::

    manifest.json        IndexManifest (written last)
    chunks.jsonl         one row per chunk, in chunk order (= vector and BM25 row order)
    images.jsonl         one row per image occurrence: image, context, doc, chunk, doc position
    chunks.faiss         text vectors of the chunks (title + text)
    images.faiss         text vectors of the images (caption + nearest words above and below)
    images_pixels.faiss  image-embedder vectors of the images (only with an image embedder)
    bm25/                bm25s index of the chunks

The folder is written under a temporary sibling name and swapped in only when complete (old folder
renamed away, new one renamed in, old one deleted), so a build that fails or is killed half-way
leaves the previous index in place and usable. A build holds a lock on the folder for its whole
run (a second build into it waits) and first removes what killed builds left (:mod:`.lock`).

Image paths are stored relative to the corpus root, which the manifest records (:mod:`.paths`);
an image file that resolves outside the root is not stored (its occurrence keeps no path).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from m2io.embed.image import ImageEmbedder
from m2io.embed.text import IMAGE_CONTEXT_WORDS, TextEmbedder, image_text, load_text_embedder
from m2io.index.decorative import find_decorative
from m2io.index.dedup import find_duplicates
from m2io.index.lexical import LexicalIndex
from m2io.index.lock import build_lock, building_path, clean_leftovers, old_path
from m2io.index.manifest import FORMAT_VERSION, MANIFEST, IndexManifest, corpus_hash
from m2io.index.paths import infer_root, record_root, relative_path
from m2io.index.records import candidate_row, chunk_row, write_jsonl
from m2io.index.sections import chunk_sources
from m2io.index.vectors import normalise, write_vectors
from m2io.types import Candidate, Chunk, Document

logger = logging.getLogger(__name__)

CONTEXT_CHARS = 300


def chunk_embedding_text(chunk: Chunk) -> str:
    """What is embedded and BM25-indexed for a chunk: its title (unless the text starts with it)
    and its text."""
    if chunk.title and not chunk.text.lstrip().startswith(chunk.title):
        return f"{chunk.title}\n{chunk.text}"
    return chunk.text


def image_embedding_text(c: Candidate, words: int = IMAGE_CONTEXT_WORDS) -> str:
    """What is embedded for an image: see :func:`m2io.embed.text.image_text`."""
    return image_text(c, words)


def _occurrences(
    documents: list[Document], context_chars: int
) -> tuple[list[Candidate], dict[str, list[int]]]:
    """One candidate per image occurrence, and each document's candidate rows."""
    from m2io.corpus.chunking import image_context

    candidates: list[Candidate] = []
    rows_of_doc: dict[str, list[int]] = {}
    for doc in documents:
        rows = rows_of_doc.setdefault(doc.doc_id, [])
        for k, anchor in enumerate(doc.images):
            before, after = image_context(doc, k, chars=context_chars)
            rows.append(len(candidates))
            candidates.append(
                Candidate(
                    image=anchor.image,
                    context_before=before,
                    context_after=after,
                    doc_id=doc.doc_id,
                    doc_position=anchor.offset / max(len(doc.text), 1),
                )
            )
    return candidates, rows_of_doc


def _link_chunks(
    chunks: list[Chunk],
    documents: list[Document],
    candidates: list[Candidate],
    rows_of_doc: dict[str, list[int]],
) -> list[list[tuple[int, int]]]:
    """Map each chunk image to its occurrence row: same document, same image id, nearest offset.

    Sets each occurrence's ``chunk_id`` to the first chunk that holds it.
    """
    offset_of = {}
    for doc in documents:
        for row, anchor in zip(rows_of_doc[doc.doc_id], doc.images, strict=True):
            offset_of[row] = anchor.offset
    links: list[list[tuple[int, int]]] = []
    for chunk in chunks:
        free: dict[str, list[int]] = defaultdict(list)
        for row in rows_of_doc.get(chunk.doc_id, []):
            free[candidates[row].image.image_id].append(row)
        linked = []
        for anchor in chunk.images:
            pool = free.get(anchor.image.image_id)
            if not pool:
                logger.warning(
                    "chunk %s holds image %s that its document %s does not; skipped",
                    chunk.chunk_id,
                    anchor.image.image_id,
                    chunk.doc_id,
                )
                continue
            target = chunk.start + anchor.offset
            row = min(pool, key=lambda r: (abs(offset_of[r] - target), r))
            pool.remove(row)
            linked.append((row, anchor.offset))
            if candidates[row].chunk_id is None:
                candidates[row] = replace(candidates[row], chunk_id=chunk.chunk_id)
        links.append(linked)
    return links


def _attach_sources(
    documents: list[Document], chunks: list[Chunk], root: Path | None
) -> tuple[list[Chunk], list[tuple[int, int]]]:
    """Each chunk with its :class:`~m2io.types.Source`, and its section's document span."""
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(chunks):
        by_doc[c.doc_id].append(i)
    out = list(chunks)
    spans: list[tuple[int, int]] = [(0, 0)] * len(chunks)
    for doc in documents:
        rows = by_doc.get(doc.doc_id, [])
        for i, (src, sec) in zip(
            rows, chunk_sources(doc, [chunks[i] for i in rows], root), strict=True
        ):
            out[i] = replace(chunks[i], source=src)
            spans[i] = (sec.start, sec.end)
    return out, spans


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


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"cannot build an index at {out}: it is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ValueError(
            f"refusing to replace {out}: it is a non-empty folder that is not an m2io index"
        )


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace ``out`` by ``tmp`` with two renames; ``out`` is never missing for long."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = old_path(out, uuid.uuid4().hex[:8])
    os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        os.replace(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _confine_images(
    candidates: list[Candidate], root: Path | None
) -> tuple[list[Candidate], list[Candidate]]:
    """``(candidates with real paths, candidates with root-relative paths)``; an image whose file
    resolves outside ``root`` loses its path in both (one warning counts them)."""
    local, stored, refused = [], [], []
    base = root.resolve() if root is not None else None
    for c in candidates:
        rel = relative_path(c.image.path, root) if c.image.path and root is not None else None
        if c.image.path and rel is None:
            refused.append(c.image.path)
        real = str(base / rel) if rel is not None and base is not None else None
        local.append(replace(c, image=replace(c.image, path=real)))
        stored.append(replace(c, image=replace(c.image, path=rel)))
    if refused:
        logger.warning(
            "%d image files outside the corpus root %s not indexed as files (first: %s)",
            len(refused),
            root,
            refused[0],
        )
    return local, stored


def build_index(
    documents: list[Document],
    out_dir: str | os.PathLike[str],
    *,
    embedder: TextEmbedder | None = None,
    image_embedder: ImageEmbedder | None = None,
    max_words: int = 180,
    overlap_sentences: int = 1,
    context_chars: int = CONTEXT_CHARS,
    batch_size: int = 64,
    progress: bool = True,
    corpus_root: str | os.PathLike[str] | None = None,
    lock_timeout: float = 600.0,
) -> IndexManifest:
    """Chunk, embed and index ``documents`` into the folder ``out_dir``.

    Args:
        documents: The corpus; doc ids and chunk ids must be unique.
        out_dir: Index folder; an existing index there is replaced only once the new one is
            complete. A non-empty folder that is not an index is refused.
        embedder: Text embedder for chunks, images (caption + context) and, later, queries;
            default all-MiniLM-L6-v2 (:func:`~m2io.embed.text.load_text_embedder`).
        image_embedder: Optional CLIP-style embedder; adds a pixel vector per image.
        max_words: Chunk size limit passed to the chunker.
        overlap_sentences: Sentences shared by consecutive chunks.
        context_chars: Characters of text kept above and below each image.
        batch_size: Texts per embedding batch.
        progress: Show embedding progress bars.
        corpus_root: The folder the corpus was loaded from (``Corpus.root``); recorded in the
            manifest, and image paths are stored relative to it. Default: the deepest folder
            holding every local image.
        lock_timeout: Seconds to wait for another build into ``out_dir`` to finish.

    Raises:
        IndexBusyError: Another build into ``out_dir`` ran past ``lock_timeout``.

    Returns:
        The manifest written to ``out_dir/manifest.json``.

    Example:
        >>> corpus = load_corpus("bench/gimp")
        >>> manifest = build_index(corpus.documents, "gimp.index", corpus_root=corpus.root)
        >>> index = Index.open("gimp.index")
    """
    documents = list(documents)
    if not documents:
        raise ValueError("build_index needs at least one document; got an empty list")
    if max_words < 1 or overlap_sentences < 0 or context_chars < 0:
        raise ValueError(
            f"need max_words >= 1, overlap_sentences >= 0, context_chars >= 0; got "
            f"{max_words}, {overlap_sentences}, {context_chars}"
        )
    doc_ids = [d.doc_id for d in documents]
    if len(set(doc_ids)) != len(doc_ids):
        dupes = sorted({d for d in doc_ids if doc_ids.count(d) > 1})[:5]
        raise ValueError(f"document ids must be unique; repeated: {dupes}")
    out = Path(out_dir).absolute()
    if corpus_root is not None:
        real = Path(corpus_root).resolve()
        if not real.is_dir() or real == Path(real.anchor):
            raise ValueError(
                f"corpus root {corpus_root} must be a folder below the filesystem root"
            )
    out.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(out, lock_timeout):
        clean_leftovers(out)
        _check_target(out)
        return _build(
            documents,
            out,
            Path(corpus_root).absolute() if corpus_root is not None else None,
            embedder=embedder,
            image_embedder=image_embedder,
            max_words=max_words,
            overlap_sentences=overlap_sentences,
            context_chars=context_chars,
            batch_size=batch_size,
            progress=progress,
        )


def _build(
    documents: list[Document],
    out: Path,
    corpus_root: Path | None,
    *,
    embedder: TextEmbedder | None,
    image_embedder: ImageEmbedder | None,
    max_words: int,
    overlap_sentences: int,
    context_chars: int,
    batch_size: int,
    progress: bool,
) -> IndexManifest:
    """:func:`build_index` once its arguments are checked and the lock is held."""
    from m2io.corpus.chunking import chunk_document

    t0 = time.perf_counter()
    chunks = [
        c
        for d in documents
        for c in chunk_document(d, max_words=max_words, overlap_sentences=overlap_sentences)
    ]
    if not chunks:
        raise ValueError("the documents hold no text to index (every chunk came out empty)")
    if len({c.chunk_id for c in chunks}) != len(chunks):
        raise ValueError("the chunker produced repeated chunk ids")
    candidates, rows_of_doc = _occurrences(documents, context_chars)
    links = _link_chunks(chunks, documents, candidates, rows_of_doc)
    content_hash = corpus_hash(documents, corpus_root)  # the root as given, not as inferred
    if corpus_root is None:
        corpus_root = infer_root([c.image.path for c in candidates if c.image.path])
        if corpus_root is not None and corpus_root == Path(corpus_root.anchor):
            logger.warning(
                "the images share no folder below %s; pass corpus_root to keep their files",
                corpus_root,
            )
            corpus_root = None
    local, stored = _confine_images(candidates, corpus_root)
    chunks, spans = _attach_sources(documents, chunks, corpus_root)
    duplicates = find_duplicates(documents)
    if duplicates.flagged:
        logger.warning("%s", duplicates.summary())
    decorative = find_decorative(local, len(documents))
    if decorative.rows:
        logger.warning("%s", decorative.summary())
    root_rel, root_abs = record_root(corpus_root, out)
    logger.info(
        "%d documents -> %d chunks, %d image occurrences",
        len(documents),
        len(chunks),
        len(candidates),
    )

    embedder = embedder or load_text_embedder()
    tmp = building_path(out, uuid.uuid4().hex[:8])
    tmp.mkdir()
    try:
        write_jsonl(
            tmp / "chunks.jsonl",
            (chunk_row(c, ln, sp) for c, ln, sp in zip(chunks, links, spans, strict=True)),
        )
        write_jsonl(
            tmp / "images.jsonl",
            (candidate_row(c, i in decorative.rows) for i, c in enumerate(stored)),
        )
        texts = [chunk_embedding_text(c) for c in chunks]
        write_vectors(tmp / "chunks.faiss", _encode(embedder, texts, batch_size, progress))
        LexicalIndex.build(texts).save(tmp / "bm25")
        image_texts = [image_embedding_text(c) for c in candidates]
        write_vectors(tmp / "images.faiss", _encode(embedder, image_texts, batch_size, progress))
        if image_embedder is not None:
            write_vectors(
                tmp / "images_pixels.faiss", normalise(_pixel_vectors(image_embedder, local))
            )
        manifest = IndexManifest(
            format_version=FORMAT_VERSION,
            embedder=embedder.name,
            dim=int(embedder.dim),
            image_embedder=image_embedder.name if image_embedder is not None else None,
            image_dim=int(image_embedder.dim) if image_embedder is not None else None,
            max_words=max_words,
            overlap_sentences=overlap_sentences,
            context_chars=context_chars,
            n_documents=len(documents),
            n_chunks=len(chunks),
            n_images=len(candidates),
            content_hash=content_hash,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            corpus_root=root_rel,
            corpus_root_absolute=root_abs,
            near_duplicates=duplicates.flagged,
            n_decorative=len(decorative.rows),
        )
        manifest.write(tmp)
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("index built at %s in %.1f s", out, time.perf_counter() - t0)
    return manifest


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
