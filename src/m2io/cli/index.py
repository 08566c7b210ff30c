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
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from m2io.cli.common import add_set_argument, apply_flag_overrides, default_index_dir, muted

if TYPE_CHECKING:
    from m2io.corpus import Corpus
    from m2io.corpus.folder import ParseMap
    from m2io.embed.text import TextEmbedder
    from m2io.index.ann import VectorStore

# Its grouped warning says what ``run`` prints itself at the end.
CORPUS_REPORT_LOGGER = "m2io.corpus.report"
# ``--set index.KEY=VALUE`` → the flag it sets (the same options, the pipeline commands' syntax)
SET_KEYS = {
    "out": "out",
    "format": "format",
    "subset": "subset",
    "embedder": "embedder",
    "clip": "clip",
    "max_words": "max_words",
    "rebuild": "rebuild",
    "store": "store",
    "milvus_uri": "milvus_uri",
    "vector_index": "vector_index",
    "ray": "ray",
}
STORES = ("embedded", "milvus")
VECTOR_INDEXES = ("auto", "exact", "ivf", "hnsw")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="corpus folder (MRAMG layout or Markdown/HTML files)")
    p.add_argument("--out", help="index folder (default: $M2IO_INDEX or .m2io/index)")
    p.add_argument(
        "--format",
        choices=["auto", "mramg", "folder"],
        default="auto",
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
        default="all-MiniLM-L6-v2",
        help="sentence-transformers model id or path (default: offline all-MiniLM-L6-v2; "
        "the paper uses BAAI/bge-m3)",
    )
    p.add_argument("--clip", metavar="MODEL", help="also embed pixels with a CLIP model id/path")
    p.add_argument("--max-words", type=int, default=180, help="chunk size limit in words")
    p.add_argument(
        "--rebuild",
        action="store_true",
        help="embed everything again instead of reusing the vectors of the index in --out",
    )
    p.add_argument(
        "--store",
        choices=STORES,
        default="embedded",
        help="where vectors go: the index folder (faiss, default) or Milvus (milvus.db inside "
        "the index folder, or the server given by --milvus-uri)",
    )
    p.add_argument("--milvus-uri", metavar="URI", help="Milvus server, e.g. http://host:19530")
    p.add_argument(
        "--vector-index",
        choices=VECTOR_INDEXES,
        default="auto",
        help="embedded store: exact search, or approximate IVF/HNSW (auto: exact below 100k "
        "vectors, IVF from there)",
    )
    p.add_argument(
        "--no-sentence-vectors",
        dest="sentence_vectors",
        action="store_false",
        help="do not embed the chunks' sentences (a smaller index and a faster build; answers "
        "whose images are placed by similarity then embed their sentences: docs/design.md)",
    )
    p.add_argument(
        "--ray",
        metavar="local|auto|ADDRESS",
        help="embed on Ray workers: a local Ray instance, the running cluster, or its address",
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


def run(args: argparse.Namespace) -> int:
    from m2io.embed.text import load_text_embedder

    apply_flag_overrides(args, args.set, "index", SET_KEYS)
    if args.format not in ("auto", "mramg", "folder"):
        raise ValueError(f"index.format must be auto, mramg or folder, got {args.format!r}")
    if not isinstance(args.max_words, int) or isinstance(args.max_words, bool):
        raise ValueError(f"index.max_words must be a whole number, got {args.max_words!r}")
    store = getattr(args, "store", "embedded")
    kind = getattr(args, "vector_index", "auto")
    if store not in STORES:
        raise ValueError(f"index.store must be {' or '.join(STORES)}, got {store!r}")
    if kind not in VECTOR_INDEXES:
        raise ValueError(f"index.vector_index must be one of {', '.join(VECTOR_INDEXES)}")
    if getattr(args, "milvus_uri", None) and store != "milvus":
        raise ValueError("--milvus-uri needs --store milvus")
    quiet = getattr(args, "quiet", False)
    out = args.out or default_index_dir()
    t0 = time.perf_counter()
    vectors = vector_store(store, kind, getattr(args, "milvus_uri", None))
    if getattr(args, "ray", None):
        from m2io.embed.distributed import RayTextEmbedder, ray_advice

        advice = ray_advice(args.ray, os.cpu_count())
        if advice:  # the user asked for it: do it, but say it will not pay here
            print(f"warning: {advice}", file=sys.stderr)
        embedder = RayTextEmbedder(args.embedder, address=args.ray)
    else:  # an unknown name fails before the corpus loads
        embedder = load_text_embedder(args.embedder)
    try:
        return _build(args, embedder, out, quiet, t0, vectors)
    finally:
        if hasattr(embedder, "shutdown"):
            embedder.shutdown()


def vector_store(store: str, kind: str, milvus_uri: str | None) -> VectorStore:
    """The vector store the flags ask for; ``$M2IO_VECTOR_INDEX`` and ``$M2IO_MILVUS_URI`` fill
    what they leave open. The environment is read here, at the edge, and never written: the
    build takes the :class:`~m2io.index.ann.VectorStore`, and documents added later follow the
    index (:meth:`~m2io.index.store.Index.vector_store`)."""
    from m2io.index.ann import KIND_ENV, VectorStore
    from m2io.index.milvus import URI_ENV

    if store == "milvus":
        return VectorStore("milvus", milvus_uri or os.environ.get(URI_ENV) or None)
    if kind == "auto":
        kind = os.environ.get(KIND_ENV, "").strip().lower() or "auto"
    return VectorStore(kind)


def _build(
    args: argparse.Namespace,
    embedder: TextEmbedder,
    out: str,
    quiet: bool,
    t0: float,
    vectors: VectorStore,
) -> int:
    from m2io.corpus.report import format_problems, problems_headline
    from m2io.index.build import update_index

    parse_map = None
    if getattr(args, "ray", None):  # the embedder started or joined Ray: parse there too
        from m2io.embed.distributed import RayMap

        parse_map = RayMap().map
    with muted(CORPUS_REPORT_LOGGER):
        corpus = load_source(
            args.source,
            args.format,
            args.subset,
            parse_map,
            include=getattr(args, "include", None) or (),
            exclude=getattr(args, "exclude", None) or (),
        )
    if not quiet:
        n_images = sum(len(d.images) for d in corpus.documents)
        print(
            f"loaded {len(corpus.documents)} documents, {n_images} images from {args.source} "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
    image_embedder = None
    if args.clip:
        from m2io.embed.image import CLIPImageEmbedder

        image_embedder = CLIPImageEmbedder(args.clip)
    report = update_index(
        corpus.documents,
        out,
        embedder=embedder,
        image_embedder=image_embedder,
        max_words=args.max_words,
        progress=not quiet,
        corpus_root=corpus.root or None,
        rebuild=getattr(args, "rebuild", False),
        store=vectors,
        sentence_vectors=getattr(args, "sentence_vectors", True),
    )
    manifest = report.manifest
    from m2io.learned.profile import index_profile

    try:  # kept for the learned inserter, so a cold start does not reload the corpus
        index_profile(out, corpus.documents)
    except (OSError, ValueError) as e:
        print(f"warning: corpus profile not kept: {e}", file=sys.stderr)
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
