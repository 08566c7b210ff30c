"""Build an index folder from documents, atomically.

Layout of a finished folder::

    manifest.json        IndexManifest (written last)
    chunks.jsonl         one row per chunk, in chunk order (= vector and BM25 row order)
    images.jsonl         one row per image occurrence: image, context, doc, chunk, doc position
    chunks.faiss         text vectors of the chunks (title + text)
    sentences.npy        text vectors of the chunks' sentences, as answers quote them, and
    sentences.keys.npy   their keys (:mod:`.sentences`: inserters look them up, not embed them)
    images.faiss         text vectors of the images (caption + nearest words above and below)
    images_pixels.faiss  image-embedder vectors of the images (only with an image embedder)
    images_pixels.keys.json  sha256 of each image row's file, for reusing its pixel vector
    bm25/                bm25s index of the chunks
    added/               documents added after the build, with their images (:mod:`.update`)

The folder is written under a temporary sibling name and swapped in only when complete (old folder
renamed away, new one renamed in, old one deleted), so a build that fails or is killed half-way
leaves the previous index in place and usable. A build holds a lock on the folder for its whole
run (a second build into it waits) and first removes what killed builds left (:mod:`.lock`).

Image paths are stored relative to the corpus root, which the manifest records (:mod:`.paths`);
an image file that resolves outside the root is not stored (its occurrence keeps no path).

Builds can be incremental and resume (:func:`update_index`, what ``m2io index`` runs): each
vector is found by the sha256 of what it embeds, among the previous index's vectors and the
checkpoints a killed build left in ``.m2io-work/`` inside the index folder (one ``.npz`` per
embedding call, written whole or not at all); only the rest is embedded. Everything else is
computed from the documents as in a build from scratch, so the result is the same files.
Documents in ``added/`` are carried into every new build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from m2io.corpus.folder import load_folder
from m2io.corpus.report import Corpus, CorpusError
from m2io.embed.image import ImageEmbedder
from m2io.embed.text import IMAGE_CONTEXT_WORDS, TextEmbedder, image_text, load_text_embedder
from m2io.index.ann import VectorStore, write_store_vectors  # exact, or ANN when large
from m2io.index.decorative import find_decorative
from m2io.index.dedup import find_duplicates
from m2io.index.headers import check_npy_file
from m2io.index.lexical import LexicalIndex
from m2io.index.lock import build_lock, building_path, clean_leftovers, old_path
from m2io.index.manifest import (
    ADDED,
    FORMAT_VERSION,
    MANIFEST,
    ROW_BASE,
    IndexManifest,
    corpus_hash,
)
from m2io.index.paths import infer_root, record_root, relative_path
from m2io.index.records import candidate_row, chunk_row, write_jsonl
from m2io.index.sections import chunk_sources
from m2io.index.sentences import index_sentences, keeps_sentences, write_sentence_vectors
from m2io.index.vectors import normalise, write_vectors
from m2io.safety import clip, open_regular
from m2io.types import Candidate, Chunk, Document, ImageAnchor

logger = logging.getLogger(__name__)

CONTEXT_CHARS = 300
CHECKPOINT_EVERY = 256
"""Texts (or image files) per embedding call of a build at most; each call's vectors are
checkpointed, so a killed build loses at most this many (a GIMP-sized manual of 652 chunks
checkpoints three times; at 2048 a kill before the end lost all of it)."""
CHECKPOINT_SECONDS = 15.0
"""Time budget of one embedding call: after a call that took longer, the next ones are made
smaller (down to :data:`MIN_CHECKPOINT`) so a slow embedder loses at most about this much work."""
MIN_CHECKPOINT = 16
WORK = ".m2io-work"
"""Folder inside the index folder where a build keeps its checkpoints until it is swapped in."""
PIXEL_KEYS = "images_pixels.keys.json"


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
                    clip(chunk.chunk_id),
                    clip(anchor.image.image_id),
                    clip(chunk.doc_id),
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
    documents: list[Document],
    chunks: list[Chunk],
    root: Path | None,
    added: frozenset[str] = frozenset(),
) -> tuple[list[Chunk], list[tuple[int, int]]]:
    """Each chunk with its :class:`~m2io.types.Source` and the sections it crosses into, and
    its section's document span.

    Documents in ``added`` (stored inside the index, not in the corpus) get no location."""
    by_doc: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(chunks):
        by_doc[c.doc_id].append(i)
    out = list(chunks)
    spans: list[tuple[int, int]] = [(0, 0)] * len(chunks)
    for doc in documents:
        rows = by_doc.get(doc.doc_id, [])
        for i, (src, sec, crossed) in zip(
            rows,
            chunk_sources(doc, [chunks[i] for i in rows], None if doc.doc_id in added else root),
            strict=True,
        ):
            out[i] = replace(chunks[i], source=src, sections=crossed)
            spans[i] = (sec.start, sec.end)
    return out, spans


def _check_target(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"cannot build an index at {out}: it is a file")
    if (
        out.is_dir()
        and any(p.name != WORK for p in out.iterdir())
        and not (out / MANIFEST).is_file()
    ):
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
    candidates: list[Candidate],
    root: Path | None,
    added_root: Path | None = None,
    added: frozenset[str] = frozenset(),
) -> tuple[list[Candidate], list[Candidate]]:
    """``(candidates with real paths, candidates with root-relative paths)``; an image whose file
    resolves outside ``root`` loses its path in both (one warning counts them). Images of the
    documents in ``added`` are confined to ``added_root`` instead."""
    local, stored, refused = [], [], []
    bases = {
        False: root.resolve() if root is not None else None,
        True: added_root.resolve() if added_root is not None else None,
    }
    for c in candidates:
        mine = c.doc_id in added
        base = bases[mine]
        rel = relative_path(c.image.path, base) if c.image.path and base is not None else None
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
            clip(str(refused[0])),
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
    reuse: bool = False,
    checkpoint_every: int = CHECKPOINT_EVERY,
    store: VectorStore | None = None,
    sentence_vectors: bool | None = None,
) -> IndexManifest:
    """Chunk, embed and index ``documents`` into the folder ``out_dir``.

    Args:
        documents: The corpus; doc ids and chunk ids must be unique.
        out_dir: Index folder; an existing index there is replaced only once the new one is
            complete. A non-empty folder that is not an index is refused. Documents added to
            the index after its build (``out_dir/added``, :mod:`m2io.index.update`) are kept.
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
        reuse: Build incrementally: keep the vectors of the index already in ``out_dir`` (same
            embedder) for every chunk and image whose text (pixels: file content) is unchanged,
            and those a killed build checkpointed, embedding only the rest. The files written
            are the same as a build from scratch gives (see :func:`update_index`). False embeds
            everything again and discards checkpoints.
        checkpoint_every: Texts (or image files) per embedding call; each call's vectors are
            checkpointed in ``out_dir/.m2io-work`` so a killed build resumes there.
        store: Where the vectors go (:class:`~m2io.index.ann.VectorStore`: faiss, exact until
            large then IVF, by default; or Milvus).
        sentence_vectors: Also embed every sentence of every chunk, as an extractive answer
            quotes it (:mod:`m2io.index.sentences`), so that inserters comparing an answer's
            sentences with images look their vectors up instead of embedding them at answer
            time (the learned inserter's p95 116 → 11 ms on GIMP) — at about 2.6-3× the build time
            and 2.7× the index size (docs/RESULTS.md). None (the default) keeps what the index
            in ``out_dir`` has (none for a new index); True adds them, embedding only them;
            False stores none.

    Raises:
        IndexBusyError: Another build into ``out_dir`` ran past ``lock_timeout``.

    Returns:
        The manifest written to ``out_dir/manifest.json``.

    Example::

        corpus = load_corpus("bench/gimp")
        manifest = build_index(corpus.documents, "gimp.index", corpus_root=corpus.root)
        index = Index.open("gimp.index")
    """
    return update_index(
        documents,
        out_dir,
        embedder=embedder,
        image_embedder=image_embedder,
        max_words=max_words,
        overlap_sentences=overlap_sentences,
        context_chars=context_chars,
        batch_size=batch_size,
        progress=progress,
        corpus_root=corpus_root,
        lock_timeout=lock_timeout,
        rebuild=not reuse,
        checkpoint_every=checkpoint_every,
        store=store,
        sentence_vectors=sentence_vectors,
    ).manifest


@dataclass(frozen=True)
class BuildReport:
    """What a build did, by document.

    Attributes:
        manifest: The manifest written.
        unchanged: Documents none of whose chunks or images needed embedding (all vectors came
            from the previous index).
        embedded: Documents, new or changed, with at least one chunk or image embedded by this
            build (or by the killed build it resumed).
        removed: Documents of the previous index that the corpus no longer holds.
        vectors_embedded: Vectors embedded (texts and image files, each distinct one once).
        vectors_reused: Vectors taken from the previous index.
        vectors_resumed: Vectors taken from a killed build's checkpoints.
        checkpoints: Embedding calls this build checkpointed (what a kill could not lose).
    """

    manifest: IndexManifest
    unchanged: int
    embedded: int
    removed: int
    vectors_embedded: int = 0
    vectors_reused: int = 0
    vectors_resumed: int = 0
    checkpoints: int = 0

    def summary(self) -> str:
        """``"5 documents unchanged, 2 re-embedded, 1 removed"``."""
        return (
            f"{self.unchanged} documents unchanged, {self.embedded} re-embedded, "
            f"{self.removed} removed"
        )

    def vectors(self) -> str:
        """``"vectors: 396 embedded (2 checkpoints), 256 resumed, 0 reused"``: where they came
        from, resumed ones being what a killed build had checkpointed."""
        return (
            f"vectors: {self.vectors_embedded} embedded ({self.checkpoints} checkpoints), "
            f"{self.vectors_resumed} resumed from a killed build, {self.vectors_reused} reused"
        )


def update_index(
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
    rebuild: bool = False,
    checkpoint_every: int = CHECKPOINT_EVERY,
    store: VectorStore | None = None,
    sentence_vectors: bool | None = None,
) -> BuildReport:
    """Bring the index in ``out_dir`` up to date with ``documents``, embedding only what changed.

    The incremental build behind ``m2io index SOURCE --out DIR``: the same arguments as
    :func:`build_index`, which it backs. Every vector is looked up by the sha256 of what is
    embedded (a chunk's text, an image's caption and context, an image file's bytes) among the
    previous index's vectors (when it was built with the same embedder) and the checkpoints a
    killed build left; only what is found nowhere is embedded, ``checkpoint_every`` at a time,
    each batch saved before the next starts. Rows, lexical index, near-duplicates and decorative
    images are computed afresh from the documents, so deleted documents are gone and the folder
    is the one a build from scratch writes (with a deterministic embedder, byte for byte). The
    new folder is swapped in as in any build; the checkpoints go with the old one.

    Args:
        rebuild: Embed everything again (``m2io index --rebuild``): no vector of the previous
            index or of checkpoints is used.

    Returns:
        The manifest and how many documents were unchanged, re-embedded and removed.
    """
    documents = list(documents)
    if not documents:
        raise ValueError("build_index needs at least one document; got an empty list")
    if max_words < 1 or overlap_sentences < 0 or context_chars < 0 or checkpoint_every < 1:
        raise ValueError(
            f"need max_words >= 1, overlap_sentences >= 0, context_chars >= 0, "
            f"checkpoint_every >= 1; got {max_words}, {overlap_sentences}, {context_chars}, "
            f"{checkpoint_every}"
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
            _Options(
                max_words=max_words,
                overlap_sentences=overlap_sentences,
                context_chars=context_chars,
                batch_size=batch_size,
                progress=progress,
                rebuild=rebuild,
                checkpoint_every=checkpoint_every,
                store=store or VectorStore(),
                sentence_vectors=keeps_sentences(out)
                if sentence_vectors is None
                else sentence_vectors,
            ),
            embedder=embedder,
            image_embedder=image_embedder,
        )


@dataclass(frozen=True)
class _Options:
    max_words: int
    overlap_sentences: int
    context_chars: int
    batch_size: int
    progress: bool
    rebuild: bool
    checkpoint_every: int
    store: VectorStore
    sentence_vectors: bool = False


def _build(
    corpus_docs: list[Document],
    out: Path,
    corpus_root: Path | None,
    opts: _Options,
    *,
    embedder: TextEmbedder | None,
    image_embedder: ImageEmbedder | None,
) -> BuildReport:
    """:func:`update_index` once its arguments are checked and the lock is held."""
    t0 = time.perf_counter()
    tmp = building_path(out, uuid.uuid4().hex[:8])
    tmp.mkdir()
    try:
        report = _build_into(
            tmp,
            corpus_docs,
            out,
            corpus_root,
            opts,
            embedder=embedder,
            image_embedder=image_embedder,
        )
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("index built at %s in %.1f s: %s", out, time.perf_counter() - t0, report.summary())
    return report


def _build_into(
    tmp: Path,
    corpus_docs: list[Document],
    out: Path,
    corpus_root: Path | None,
    opts: _Options,
    *,
    embedder: TextEmbedder | None,
    image_embedder: ImageEmbedder | None,
) -> BuildReport:
    """Write the complete index into ``tmp`` (the caller swaps it in)."""
    from m2io.corpus.chunking import chunk_document

    copy_added(out / ADDED, tmp / ADDED)
    added_docs = load_added(tmp / ADDED, {d.doc_id for d in corpus_docs})
    documents = corpus_docs + added_docs
    added = frozenset(d.doc_id for d in added_docs)
    chunks = [
        c
        for d in documents
        for c in chunk_document(
            d, max_words=opts.max_words, overlap_sentences=opts.overlap_sentences
        )
    ]
    if not chunks:
        raise ValueError("the documents hold no text to index (every chunk came out empty)")
    if len({c.chunk_id for c in chunks}) != len(chunks):
        raise ValueError("the chunker produced repeated chunk ids")
    candidates, rows_of_doc = _occurrences(documents, opts.context_chars)
    links = _link_chunks(chunks, documents, candidates, rows_of_doc)
    content_hash = corpus_hash(corpus_docs, corpus_root)  # the root as given, not as inferred
    if corpus_root is None:
        corpus_root = infer_root(
            [c.image.path for c in candidates if c.image.path and c.doc_id not in added]
        )
        if corpus_root is not None and corpus_root == Path(corpus_root.anchor):
            logger.warning(
                "the images share no folder below %s; pass corpus_root to keep their files",
                corpus_root,
            )
            corpus_root = None
    local, stored = _confine_images(candidates, corpus_root, tmp / ADDED, added)
    chunks, spans = _attach_sources(documents, chunks, corpus_root, added)
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
    vectors = _Vectors(out, embedder, image_embedder, opts)
    write_jsonl(
        tmp / "chunks.jsonl",
        (chunk_row(c, ln, sp) for c, ln, sp in zip(chunks, links, spans, strict=True)),
    )
    write_jsonl(
        tmp / "images.jsonl",
        (_image_row(c, i in decorative.rows, c.doc_id in added) for i, c in enumerate(stored)),
    )
    texts = [chunk_embedding_text(c) for c in chunks]
    chunk_keys = [text_key(t) for t in texts]
    write_store_vectors(
        tmp / "chunks.faiss", vectors.texts("chunks", texts, chunk_keys), opts.store
    )
    LexicalIndex.build(texts).save(tmp / "bm25")
    image_texts = [image_embedding_text(c) for c in candidates]
    image_keys = [text_key(t) for t in image_texts]
    write_store_vectors(
        tmp / "images.faiss", vectors.texts("images", image_texts, image_keys), opts.store
    )
    sentences = index_sentences(chunks) if opts.sentence_vectors else []
    sentence_keys = [text_key(t) for t in sentences]
    sentence_vecs = vectors.texts("sentences", sentences, sentence_keys)
    write_sentence_vectors(tmp, sentence_keys, sentence_vecs)
    pixel_keys: list[bytes | None] = []
    if image_embedder is not None:
        pixel_keys = [file_key(c.image.path) for c in local]
        write_vectors(tmp / "images_pixels.faiss", vectors.pixels(local, pixel_keys))
        write_keys(tmp / PIXEL_KEYS, pixel_keys)
    manifest = IndexManifest(
        format_version=FORMAT_VERSION,
        embedder=embedder.name,
        dim=int(embedder.dim),
        image_embedder=image_embedder.name if image_embedder is not None else None,
        image_dim=int(image_embedder.dim) if image_embedder is not None else None,
        max_words=opts.max_words,
        overlap_sentences=opts.overlap_sentences,
        context_chars=opts.context_chars,
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
    keys_of: dict[str, list[bytes | None]] = defaultdict(list)
    for c, k in zip(chunks, chunk_keys, strict=True):
        keys_of[c.doc_id].append(k)
    for i, c in enumerate(candidates):
        keys_of[c.doc_id or ""].append(image_keys[i])
        if pixel_keys:
            keys_of[c.doc_id or ""].append(pixel_keys[i])
    embedded = sum(1 for d in documents if any(k in vectors.fresh for k in keys_of[d.doc_id]))
    return BuildReport(
        manifest,
        unchanged=len(documents) - embedded,
        embedded=embedded,
        removed=len(vectors.previous_docs - {d.doc_id for d in documents}),
        vectors_embedded=vectors.n_embedded,
        vectors_reused=vectors.n_reused,
        vectors_resumed=vectors.n_resumed,
        checkpoints=vectors.n_checkpoints,
    )


def _image_row(c: Candidate, decorative: bool, added: bool) -> dict[str, Any]:
    row = candidate_row(c, decorative)
    if added:
        row[ROW_BASE] = ADDED
    return row


# --- vectors by content: reuse and checkpoints -------------------------------------------------


def text_key(text: str) -> bytes:
    """The key a text's vector is stored under: sha256 of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def file_key(path: str | None) -> bytes | None:
    """The key an image file's pixel vector is stored under: sha256 of its bytes (None when
    there is no readable file; its vector is zero)."""
    if not path:
        return None
    try:
        with open_regular(path) as f:  # a FIFO swapped in is refused, not waited on
            return hashlib.file_digest(f, "sha256").digest()
    except OSError:
        return None


def write_keys(path: Path, keys: list[bytes | None]) -> None:
    """Store the pixel keys of an index's image rows (hex, null for no file)."""
    path.write_text(json.dumps([k.hex() if k else None for k in keys]) + "\n", encoding="utf-8")


def read_keys(path: Path, rows: int) -> list[bytes | None] | None:
    """The pixel keys written by :func:`write_keys`, or None when missing or not ``rows`` long."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys = [bytes.fromhex(k) if k is not None else None for k in data]
    except (OSError, ValueError, TypeError):
        return None
    return keys if len(keys) == rows else None


class _Vectors:
    """Unit vectors by content key for one build: the previous index's (when ``reuse``),
    a killed build's checkpoints, and what is embedded now, checkpoint by checkpoint.

    Checkpoints are ``.npz`` files (``keys``, ``vecs``) under ``out/.m2io-work/<kind>-<model>``,
    each written to a temporary name and renamed, so a kill leaves only whole files.
    """

    def __init__(
        self,
        out: Path,
        embedder: TextEmbedder,
        image_embedder: ImageEmbedder | None,
        opts: _Options,
    ) -> None:
        self.out, self.embedder, self.image_embedder, self.opts = (
            out,
            embedder,
            image_embedder,
            opts,
        )
        self.known: dict[str, dict[bytes, np.ndarray]] = defaultdict(dict)
        self.fresh: set[bytes] = set()
        self.checkpointed: set[bytes] = set()
        self.previous_docs: set[str] = set()
        self.n_embedded = self.n_reused = self.n_resumed = self.n_checkpoints = 0
        work = out / WORK
        if opts.rebuild:
            shutil.rmtree(work, ignore_errors=True)
        self._previous()

    def _folder(self, kind: str) -> Path:
        model = self.image_embedder if kind == "pixels" else self.embedder
        assert model is not None
        tag = hashlib.sha256(f"{model.name}\0{int(model.dim)}".encode()).hexdigest()[:16]
        return self.out / WORK / f"{kind}-{tag}"

    def _previous(self) -> None:
        """Seed from the index now in ``out`` (its documents are counted in any case)."""
        if not (self.out / MANIFEST).is_file():
            return
        from m2io.index.sentences import quiet
        from m2io.index.store import Index

        quiet(self.out)  # this build writes them
        try:
            index = Index.open(self.out)
        except (ValueError, OSError) as err:  # IndexFormatError is a ValueError
            logger.info("not reusing the index in %s: %s", self.out, err)
            return
        self.previous_docs = set(index.doc_rows) | {c.doc_id for c in index.candidates if c.doc_id}
        if self.opts.rebuild:
            return
        m = index.manifest
        if (m.embedder, m.dim) != (self.embedder.name, int(self.embedder.dim)):
            logger.info(
                "the index in %s was built with %r (%d-d): every vector is embedded again",
                self.out,
                m.embedder,
                m.dim,
            )
            return
        texts = [chunk_embedding_text(c) for c in index.chunks]
        self._seed("chunks", [text_key(t) for t in texts], index.stored_vectors("chunks"))
        texts = [image_embedding_text(c) for c in index.candidates]
        self._seed("images", [text_key(t) for t in texts], index.stored_vectors("images"))
        if index.sentence_vectors is not None:
            table = index.sentence_vectors
            self._seed("sentences", [k.tobytes() for k in table.keys], np.asarray(table.vectors))
        pix = self.image_embedder
        if pix is not None and (m.image_embedder, m.image_dim) == (pix.name, int(pix.dim)):
            keys = read_keys(self.out / PIXEL_KEYS, m.n_images)
            if keys is not None:
                self._seed("pixels", keys, index.stored_vectors("pixels"))

    def _seed(self, kind: str, keys: list[bytes | None], vecs: np.ndarray) -> None:
        known = self.known[kind]
        for k, v in zip(keys, vecs, strict=True):
            if k is not None:
                known.setdefault(k, v)

    def _resume(self, kind: str) -> None:
        """Add the checkpoints of ``kind`` a killed build left."""
        folder = self._folder(kind)
        dim = self.image_embedder.dim if kind == "pixels" else self.embedder.dim  # type: ignore[union-attr]
        known = self.known[kind]
        for path in sorted(folder.glob("*.npz")) if folder.is_dir() else []:
            try:
                check_npy_file(path)  # a header declaring more than the file holds: no alloc
                with np.load(path, allow_pickle=False) as data:
                    raw, vecs = data["keys"], np.asarray(data["vecs"], np.float32)
                keys = [bytes(row) for row in np.asarray(raw, np.uint8).reshape(-1, 32)]
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
                logger.warning("ignoring the damaged checkpoint %s: %s", path, err)
                continue
            if vecs.shape != (len(keys), int(dim)):
                logger.warning("ignoring the checkpoint %s: shape %s", path, vecs.shape)
                continue
            for k, v in zip(keys, vecs, strict=True):
                if k not in known:
                    known[k] = v
                    self.checkpointed.add(k)

    def _checkpoint(self, kind: str, keys: list[bytes], vecs: np.ndarray) -> None:
        folder = self._folder(kind)
        folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        part = folder / f"{name}.part"
        with part.open("wb") as f:
            raw = np.frombuffer(b"".join(keys), np.uint8).reshape(len(keys), 32)
            np.savez(f, keys=raw, vecs=vecs)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, folder / f"{name}.npz")

    def _fill(
        self,
        kind: str,
        keys: list[bytes | None],
        dim: int,
        embed: Callable[[list[int], str], np.ndarray],
    ) -> np.ndarray:
        """The vector of every key, embedding (``embed(rows, label)``) what no source has."""
        if not self.opts.rebuild:
            self._resume(kind)
        known = self.known[kind]
        for k in dict.fromkeys(keys):
            if k in self.checkpointed:
                self.fresh.add(k)  # embedded by the killed build this one resumes
                self.n_resumed += 1
            elif k in known:
                self.n_reused += 1
        first: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k is not None and k not in known and k not in first:
                first[k] = i
        missing = list(first.values())
        step, start = self.opts.checkpoint_every, 0
        while start < len(missing):
            rows = missing[start : start + step]
            label = f"embedding {kind}" + (
                f" ({start}-{start + len(rows)} of {len(missing)})" if len(missing) > step else ""
            )
            t0 = time.monotonic()
            vecs = normalise(embed(rows, label))
            took = time.monotonic() - t0
            batch_keys = [keys[i] for i in rows]
            self._checkpoint(kind, batch_keys, vecs)  # type: ignore[arg-type]
            for k, v in zip(batch_keys, vecs, strict=True):
                known[k] = v  # type: ignore[index]
                self.fresh.add(k)  # type: ignore[arg-type]
            self.n_embedded += len(rows)
            self.n_checkpoints += 1
            start += len(rows)
            if took > CHECKPOINT_SECONDS:  # a slow embedder: smaller calls, less lost to a kill
                step = max(MIN_CHECKPOINT, min(step, int(len(rows) * CHECKPOINT_SECONDS / took)))
        out = np.zeros((len(keys), dim), dtype=np.float32)
        for i, k in enumerate(keys):
            if k is not None:
                out[i] = known[k]
        return out

    def texts(self, kind: str, texts: list[str], keys: list[bytes]) -> np.ndarray:
        emb, dim = self.embedder, int(self.embedder.dim)

        def embed(rows: list[int], label: str) -> np.ndarray:
            batch = [texts[i] for i in rows]
            progress: bool | str = label if self.opts.progress else False
            vecs = np.asarray(
                emb.encode(batch, batch_size=self.opts.batch_size, progress=progress), np.float32
            )
            if vecs.shape != (len(batch), dim):
                raise ValueError(
                    f"embedder {emb.name!r} returned shape {vecs.shape}, "
                    f"expected {(len(batch), dim)}"
                )
            return vecs

        return self._fill(kind, list(keys), dim, embed)

    def pixels(self, local: list[Candidate], keys: list[bytes | None]) -> np.ndarray:
        pix = self.image_embedder
        assert pix is not None
        dim = int(pix.dim)

        def embed(rows: list[int], label: str) -> np.ndarray:
            paths = [local[i].image.path for i in rows]
            vecs = np.asarray(pix.encode_images(paths), np.float32)
            if vecs.shape != (len(paths), dim):
                raise ValueError(
                    f"image embedder {pix.name!r} returned shape {vecs.shape}, "
                    f"expected {(len(paths), dim)}"
                )
            return vecs

        return self._fill("pixels", keys, dim, embed)


# --- documents added to an index after its build -------------------------------------------------


def load_slot(root: Path, slot: str) -> tuple[Document | None, Corpus | None]:
    """The document stored in ``added/<slot>`` (the folder ``root``), loaded like any Markdown/
    HTML file (images confined to ``root``), with index-wide ids ``added/<slot>`` and
    ``added/<slot>/<image path>``; and the loader's report (None when nothing loaded)."""
    try:
        corpus = load_folder(root, exclude=("*/*",))
    except CorpusError:
        return None, None
    if len(corpus.documents) != 1:
        return None, corpus
    doc = corpus.documents[0]
    prefix = f"{ADDED}/{slot}"
    anchors = tuple(
        ImageAnchor(replace(a.image, image_id=f"{prefix}/{a.image.image_id}"), a.offset)
        if a.image.path
        else a
        for a in doc.images
    )
    return replace(doc, doc_id=prefix, images=anchors), corpus


def load_added(folder: Path, corpus_ids: set[str]) -> list[Document]:
    """Every document stored in the added-documents folder of an index, in slot order. One
    whose id a corpus document also has is left out (with a warning)."""
    if folder.is_symlink() or not folder.is_dir():
        return []
    docs = []
    for slot in sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.is_symlink()):
        doc, _ = load_slot(folder / slot, slot)
        if doc is None:
            logger.warning("%s: no document to index; skipped", folder / slot)
        elif doc.doc_id in corpus_ids:
            logger.warning("added document %s has the id of a corpus document; skipped", doc.doc_id)
        else:
            docs.append(doc)
    return docs


def copy_added(src: Path, dest: Path) -> None:
    """Copy the added-documents folder ``src`` to ``dest`` (hard links where possible). Only
    regular files and folders are copied; a symlink planted in it is left behind."""
    if src.is_symlink() or not src.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(src):
        here = Path(dirpath)
        target = dest / here.relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
        for name in filenames:
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            try:
                os.link(path, target / name)
            except OSError:
                shutil.copy2(path, target / name)
