"""``m2io ask [--index DIR] QUESTION``: answer with images placed in the text.

Prints Markdown by default, each paragraph followed by the numbers of its sources (``[1]``) and
a numbered "Sources:" list at the end linking to the source files; ``--json`` prints the
MultimodalAnswer (segments with type text/image; image segments carry image_id, path/url, caption
and after_sentence, text segments the number of their source in ``sources``); ``--html FILE``
writes a self-contained page. Local images are embedded only from the index's corpus folder;
remote image URLs are written only with ``--allow-remote-images``. On a terminal, an LLM
generator's text is printed as the model writes it (:mod:`m2io.cli.ask_stream`).
"""

from __future__ import annotations

import argparse
import json
import sys

from m2io.cli.common import (
    REMOTE_IMAGES_HELP,
    add_pipeline_arguments,
    check_output_file,
    index_config,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("question", nargs="?", help="the question to answer")
    add_pipeline_arguments(p)
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the answer as JSON")
    out.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    out.add_argument("--markdown", metavar="FILE", help="also write Markdown to FILE")
    out.add_argument("--allow-remote-images", action="store_true", help=REMOTE_IMAGES_HELP)


def run(args: argparse.Namespace) -> int:
    from m2io.factory import build_pipeline
    from m2io.mergers.render import to_html, to_markdown

    # output files are checked before the pipeline runs, not after it has done all the work
    html_path = check_output_file(args.html, "--html") if args.html is not None else None
    md_path = check_output_file(args.markdown, "--markdown") if args.markdown is not None else None
    remote = args.allow_remote_images
    if not args.question and not args.dump_config:
        raise ValueError("give the question to answer (or --dump-config)")
    cfg = index_config(args)
    if cfg is None:  # --dump-config printed the recipe
        return 0
    from m2io.cli.ask_stream import ask_streaming, can_stream

    pipeline = build_pipeline(cfg)
    live = not args.json and can_stream(pipeline, sys.stdout)
    if live:  # a terminal: the text as the model writes it, then the images and sources
        answer = ask_streaming(pipeline, args.question, sys.stdout, allow_remote_images=remote)
    else:
        answer = pipeline.run(args.question)
    if html_path is not None:
        page = to_html(answer, allow_remote_images=remote, relative_to=html_path.parent)
        html_path.write_text(page, encoding="utf-8")
    if md_path is not None:
        md = to_markdown(answer, relative_to=md_path.parent, allow_remote_images=remote)
        md_path.write_text(md, encoding="utf-8")
    if args.json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    elif not live:
        print(to_markdown(answer, allow_remote_images=remote), end="")
    if args.verbose or getattr(args, "timings", False):
        timings = "  ".join(f"{k} {v:.1f} ms" for k, v in answer.timings_ms.items())
        print(f"timings: {timings}", file=sys.stderr)
    if html_path is not None and not getattr(args, "quiet", False):
        print(f"wrote {html_path}", file=sys.stderr)
    return 0
