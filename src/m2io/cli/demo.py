"""``m2io demo``: index the bundled demo corpus (once) and answer questions from it, offline.

The demo corpus is a short field guide to image processing written for this project, illustrated
with scikit-image sample images that are CC0 or public domain (see the corpus's
LICENSE-images.md). No server, key, GPU or download is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from m2io.cli.common import (
    REMOTE_IMAGES_HELP,
    add_set_argument,
    check_output_file,
    fill_from_environment,
    recipe_of,
)
from m2io.config import PipelineConfig, StageConfig, apply_override

DEFAULT_QUESTION = "What is the difference between erosion and dilation?"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", nargs="?", default=DEFAULT_QUESTION, help="question to ask")
    p.add_argument(
        "--index", default=str(Path(".m2io") / "demo-index"), help="where to keep the demo index"
    )
    p.add_argument("--html", default="m2io-demo.html", help="HTML page to write ('' to skip)")
    p.add_argument(
        "--inserter",
        default="learned",
        help="image inserter backend (learned, anchored, rule, ...)",
    )
    p.add_argument("--all", action="store_true", help="answer every bundled demo question")
    p.add_argument("--allow-remote-images", action="store_true", help=REMOTE_IMAGES_HELP)
    add_set_argument(p, "inserter.threshold=0.3")
    p.add_argument(
        "--dump-config",
        action="store_true",
        help="print the YAML recipe of the demo pipeline (m2io ask --config reads it) and exit",
    )


def run(args: argparse.Namespace) -> int:
    from m2io.corpus import load_corpus
    from m2io.demo import corpus_path
    from m2io.factory import build_pipeline
    from m2io.index import IndexManifest, build_index, corpus_hash
    from m2io.mergers.render import to_html, to_markdown

    html_path = check_output_file(args.html, "--html") if args.html and not args.all else None
    remote = args.allow_remote_images
    corpus = load_corpus(corpus_path(), format="folder", exclude=("LICENSE*",))
    fresh = False
    try:
        fresh = IndexManifest.read(args.index).content_hash == corpus_hash(
            corpus.documents, corpus.root
        )
    except (ValueError, OSError):
        fresh = False
    quiet = getattr(args, "quiet", False)
    if not fresh and not quiet:
        print(f"indexing the demo corpus ({len(corpus.documents)} documents)…", file=sys.stderr)
    cfg = PipelineConfig(index=args.index, inserter=StageConfig(args.inserter))
    for item in args.set:
        apply_override(cfg, item)
    fill_from_environment(cfg, index=False)  # the demo's index is its own
    if not fresh:
        from m2io.embed.text import load_text_embedder
        from m2io.learned.profile import index_profile

        embedder = load_text_embedder(backend=cfg.embed_backend)
        build_index(
            corpus.documents,
            args.index,
            embedder=embedder,
            progress=False,
            corpus_root=corpus.root,
        )
        index_profile(args.index, corpus.documents)  # for the learned inserter
    root = str(corpus_path())
    pipe = build_pipeline(cfg)
    if args.dump_config:
        print(recipe_of(pipe, cfg), end="")
        return 0
    questions = [args.question]
    if args.all:
        qfile = corpus_path().parent / "questions.jsonl"
        questions = [
            json.loads(line)["question"] for line in qfile.read_text().splitlines() if line
        ]
    for q in questions:
        answer = pipe.run(q)
        print(f"# {q}\n")
        # the demo corpus is the image root even for an index that does not record one
        print(to_markdown(answer, image_root=root, allow_remote_images=remote))
        n = len(answer.images)
        timings = ", ".join(f"{k} {v:.0f} ms" for k, v in answer.timings_ms.items())
        if not quiet:
            print(f"[{n} image{'s' if n != 1 else ''} placed · {timings}]\n", file=sys.stderr)
    if html_path is not None:
        page = to_html(
            answer, image_root=root, allow_remote_images=remote, relative_to=html_path.parent
        )
        html_path.write_text(page, encoding="utf-8")
        if not quiet:
            print(f"wrote {html_path} (open it in a browser)", file=sys.stderr)
    return 0
