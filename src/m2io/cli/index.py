"""``m2io index SOURCE [--out INDEX_DIR]``: build a persistent index from a corpus folder.

SOURCE is an MRAMG-Bench folder (``doc_<subset>.jsonl`` + ``IMAGE/``) or a folder of Markdown /
HTML files with relative images. The index is built in a temporary folder and swapped in only
when complete, so an interrupted build leaves the previous index usable.

Builds are incremental: when INDEX_DIR already holds an index made with the same embedder, only
new and changed chunks and images are embedded, deleted documents are removed, and a build that
was killed resumes from its checkpoints (``--rebuild`` embeds everything again). It ends with
"N documents unchanged, M re-embedded, K removed".

Vectors go to the index folder (faiss: exact below 100k rows, IVF above; ``--vector-index``
overrides) or to Milvus (``--store milvus``: a milvus-lite file inside the index folder, or a
server with ``--milvus-uri``). ``--ray local|auto|ADDRESS`` spreads parsing (folder corpora) and
embedding over Ray workers; the index written is the same. See docs/scaling.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from m2io.cli import environment
from m2io.cli.common import add_set_argument, default_index_dir, muted
from m2io.config import INDEX_FORMATS, STORES, VECTOR_INDEXES, IndexOptions

if TYPE_CHECKING:
    from m2io.corpus import Corpus
    from m2io.corpus.folder import ParseMap
    from m2io.embed.text import TextEmbedder
    from m2io.index.ann import VectorStore

# Its grouped warning says what ``run`` prints itself at the end.
CORPUS_REPORT_LOGGER = "m2io.corpus.report"
# ``--set index.KEY=VALUE``: every field of the options record (the flags, by their own names)
SET_KEYS = tuple(f.name for f in dataclasses.fields(IndexOptions))
DEFAULTS = IndexOptions()


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "source",
        help="corpus folder (MRAMG layout, or Markdown/HTML/PDF/EPUB/DOCX files, or GNOME help: "
        "Mallard .page, DocBook .xml)",
    )
    p.add_argument("--out", help="index folder (default: $M2IO_INDEX or .m2io/index)")
    p.add_argument(
        "--format",
        choices=INDEX_FORMATS,
        default=DEFAULTS.format,
        help="corpus layout; auto = mramg when SOURCE holds doc_*.jsonl, else folder",
    )
    p.add_argument("--subset", help="MRAMG subset name when SOURCE holds several")
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="GLOB",
        help="folder corpus: read only files matching GLOB (path relative to SOURCE, or file "
        "name); repeatable",
    )
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="folder corpus: leave out files matching GLOB; repeatable",
    )
    p.add_argument(
        "--embedder",
        default=DEFAULTS.embedder,
        help="sentence-transformers model id or path (default: offline all-MiniLM-L6-v2; "
        "the paper uses BAAI/bge-m3)",
    )
    p.add_argument(
        "--embed-backend",
        choices=("onnx", "torch"),
        help="run the embedder with ONNX Runtime or torch (default: $M2IO_EMBED_BACKEND, else "
        "onnx for the default model when installed, else torch)",
    )
    p.add_argument("--clip", metavar="MODEL", help="also embed pixels with a CLIP model id/path")
    p.add_argument(
        "--max-words", type=int, default=DEFAULTS.max_words, help="chunk size limit in words"
    )
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="embed everything again instead of reusing the vectors of the index in --out",
    )
    p.add_argument(
        "--store",
        choices=STORES,
        default=DEFAULTS.store,
        help="where vectors go: the index folder (faiss, default) or Milvus (milvus.db inside "
        "the index folder, or the server given by --milvus-uri)",
    )
    p.add_argument("--milvus-uri", metavar="URI", help="Milvus server, e.g. http://host:19530")
    p.add_argument(
        "--vector-index",
        choices=VECTOR_INDEXES,
        default=DEFAULTS.vector_index,
        help="embedded store: exact search, or approximate IVF/HNSW (auto: exact below 100k "
        "vectors, IVF from there)",
    )
    p.add_argument(
        "--sentence-vectors",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also embed every sentence of the chunks, so inserters never embed an extractive "
        "answer's sentences (learned insert p95 116 -> 11 ms on GIMP) at about 2.6-3x the build "
        "time and 2.7x the index size; default: keep what the index has (none for a new one)",
    )
    p.add_argument(
        "--ray",
        metavar="local|auto|ADDRESS|off",
        help="embed on Ray workers: a local Ray instance, the running cluster, or its address; "
        "off: in process. Not given: in process unless a local Ray is predicted clearly faster "
        "for this corpus on this machine's cores (docs/scaling.md, 'Embedding on Ray')",
    )
    add_set_argument(p, "index.max_words=120 (index.KEY: " + ", ".join(SET_KEYS) + ")")


def load_source(
    source: str,
    fmt: str,
    subset: str | None,
    parse_map: ParseMap | None = None,
    *,
    include: list[str] | tuple[str, ...] = (),
    exclude: list[str] | tuple[str, ...] = (),
) -> Corpus:
    """Load a corpus for indexing (shared with ``m2io eval``); ``parse_map`` parses a folder
    corpus's files elsewhere (Ray), an MRAMG file is read here; ``include``/``exclude`` globs
    choose a folder corpus's files."""
    from m2io.corpus import find_subsets, load_corpus, load_mramg

    if subset:
        return load_mramg(source, subset)
    folder = fmt == "folder" or (fmt == "auto" and not find_subsets(Path(source)))
    globs = {"include": tuple(include), "exclude": tuple(exclude)} if folder else {}
    if parse_map is not None and folder and Path(source).is_dir():
        return load_corpus(source, format="folder", parse_map=parse_map, **globs)
    return load_corpus(source, format=fmt, **globs)


def index_options(args: argparse.Namespace) -> IndexOptions:
    """The options the flags give (typed by argparse, taken as they are), then each ``--set
    index.KEY=VALUE`` (:meth:`~m2io.config.IndexOptions.override`), then the environment for
    what none of them names (read here, never written): ``$M2IO_INDEX``,
    ``$M2IO_EMBED_BACKEND``, ``$M2IO_VECTOR_INDEX`` (for ``auto``) and, with the Milvus store,
    ``$M2IO_MILVUS_URI``."""
    given = {k: getattr(args, k) for k in SET_KEYS if getattr(args, k, None) is not None}
    opts = IndexOptions(**given)
    for item in getattr(args, "set", None) or ():
        opts = opts.override(item)
    if opts.milvus_uri and opts.store != "milvus":
        raise ValueError("--milvus-uri needs --store milvus")
    kind = opts.vector_index
    return dataclasses.replace(
        opts,
        out=opts.out or default_index_dir(),
        embed_backend=opts.embed_backend or environment.embed_backend(),
        vector_index=(environment.vector_index() or kind) if kind == "auto" else kind,
        milvus_uri=opts.milvus_uri
        or (environment.milvus_uri() if opts.store == "milvus" else None),
    )


def run(args: argparse.Namespace) -> int:
    from m2io.embed.text import load_text_embedder

    opts = index_options(args)
    quiet = getattr(args, "quiet", False)
    t0 = time.perf_counter()
    vectors = vector_store(opts.store, opts.vector_index, opts.milvus_uri)
    if (
        opts.ray and opts.ray != "off"
    ):  # started before the corpus loads: a folder corpus parses there
        from m2io.embed.distributed import RayTextEmbedder

        embedder = RayTextEmbedder(opts.embedder, backend=opts.embed_backend, address=opts.ray)
    else:  # an unknown name fails before the corpus loads
        embedder = load_text_embedder(opts.embedder, backend=opts.embed_backend)
    try:
        return _build(args.source, opts, embedder, quiet, t0, vectors)
    finally:
        if hasattr(embedder, "shutdown"):
            embedder.shutdown()


def _texts_to_embed(corpus: Corpus, max_words: int) -> int:
    """About how many texts a fresh build of ``corpus`` embeds: its chunks (one per
    ``max_words`` words of a document, at least one) and its image occurrences."""
    chunks = sum(max(1, -(-len(d.text.split()) // max(1, max_words))) for d in corpus.documents)
    return chunks + sum(len(d.images) for d in corpus.documents)


def _plan_embedding(
    opts: IndexOptions, corpus: Corpus, out: str, quiet: bool
) -> TextEmbedder | None:
    """Say what the Ray model predicts for this corpus here (``--ray local``: a warning where it
    is expected to be slower); without ``--ray``, return a local-Ray embedder where the model
    predicts one clearly faster, else None (keep ``embedder``)."""
    import importlib.util
    import logging

    from m2io.embed.ray_plan import plan_embedding

    log = logging.getLogger(__name__)
    ray = opts.ray
    if ray == "off":
        return None
    plan = plan_embedding(ray, cores=os.cpu_count(), texts=_texts_to_embed(corpus, opts.max_words))
    if plan.message is None:
        return None
    if plan.warn:  # the user asked for it: do it, but say it will not pay here
        print(f"warning: {plan.message}", file=sys.stderr)
        return None
    update = (Path(out) / "manifest.json").is_file() and not opts.rebuild
    if not plan.use_ray or ray is not None:
        log.info("%s", plan.message)
        return None
    if update or importlib.util.find_spec("ray") is None:
        why = "an update embeds only what changed" if update else "ray is not installed"
        log.info("%s; staying in process: %s", plan.message, why)
        return None
    if not quiet:
        print(plan.message, file=sys.stderr)
    from m2io.embed.distributed import RayTextEmbedder

    return RayTextEmbedder(opts.embedder, backend=opts.embed_backend, address="local")


def vector_store(store: str, kind: str, milvus_uri: str | None) -> VectorStore:
    """The :class:`~m2io.index.ann.VectorStore` of the options (the environment was read by
    :func:`index_options`); documents added later follow the index
    (:meth:`~m2io.index.store.Index.vector_store`)."""
    from m2io.index.ann import VectorStore

    return VectorStore("milvus", milvus_uri) if store == "milvus" else VectorStore(kind)


def _build(
    source: str,
    opts: IndexOptions,
    embedder: TextEmbedder,
    quiet: bool,
    t0: float,
    vectors: VectorStore,
) -> int:
    parse_map = None
    out = str(opts.out)
    if opts.ray not in (None, "off"):  # Ray is up: parse there too
        from m2io.embed.distributed import RayMap

        parse_map = RayMap().map
    with muted(CORPUS_REPORT_LOGGER):
        corpus = load_source(
            source,
            opts.format,
            opts.subset,
            parse_map,
            include=opts.include,
            exclude=opts.exclude,
        )
    if not quiet:
        n_images = sum(len(d.images) for d in corpus.documents)
        print(
            f"loaded {len(corpus.documents)} documents, {n_images} images from {source} "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    on_ray = _plan_embedding(opts, corpus, out, quiet)
    try:
        return _index(opts, corpus, on_ray or embedder, out, quiet, t0, vectors)
    finally:
        if on_ray is not None:
            on_ray.shutdown()


def _index(
    opts: IndexOptions,
    corpus: Corpus,
    embedder: TextEmbedder,
    out: str,
    quiet: bool,
    t0: float,
    vectors: VectorStore,
) -> int:
    from m2io.corpus.report import format_problems, problems_headline
    from m2io.index.build import update_index

    image_embedder = None
    if opts.clip:
        from m2io.embed.image import CLIPImageEmbedder

        image_embedder = CLIPImageEmbedder(opts.clip)
    report = update_index(
        corpus.documents,
        out,
        embedder=embedder,
        image_embedder=image_embedder,
        max_words=opts.max_words,
        progress=not quiet,
        corpus_root=corpus.root or None,
        rebuild=opts.rebuild,
        store=vectors,
        sentence_vectors=opts.sentence_vectors,
    )
    manifest = report.manifest
    from m2io.learned.profile import index_profile

    try:  # kept for the learned inserter, so a cold start does not reload the corpus
        index_profile(out, corpus.documents)
    except (OSError, ValueError) as e:
        print(f"warning: corpus profile not kept: {e}", file=sys.stderr)
    _prepare_retrieval(out, embedder)
    if not quiet:
        print(
            f"indexed {manifest.n_documents} documents → {manifest.n_chunks} chunks, "
            f"{manifest.n_images} image occurrences in {time.perf_counter() - t0:.1f} s → {out}",
            file=sys.stderr,
        )
        print(report.summary(), file=sys.stderr)
        print(report.vectors(), file=sys.stderr)
    if corpus.skipped and not quiet:
        from m2io.corpus.skips import skipped_lines

        for line in skipped_lines(corpus.skipped):
            print(line, file=sys.stderr)
    problems = corpus.problems()
    if problems:
        print(problems_headline(problems), file=sys.stderr)
        for line in format_problems(problems):
            print(f"  {line}", file=sys.stderr)
    return 0


def _prepare_retrieval(out: str, embedder: TextEmbedder) -> None:
    """Embed the index's heading paths now and keep them in it, so that the first question
    asked of a titled index does not wait for them (:meth:`HybridRetriever.prepare`)."""
    from m2io.index import Index
    from m2io.retrievers.hybrid import HybridRetriever

    try:
        HybridRetriever(Index.open(out, embedder=embedder)).prepare()
    except (OSError, ValueError) as e:  # the index is built; only the head start is lost
        print(f"warning: heading vectors not kept: {e}", file=sys.stderr)
