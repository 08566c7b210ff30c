"""``m2io serve --index DIR``: the HTTP API and web page, models and index loaded once.

Open http://127.0.0.1:8000/ for the page, /docs for the API. ``--api-key`` (or
``$M2IO_API_KEY``) makes every ``/v1`` route want ``Authorization: Bearer KEY``. The server
listens on loopback unless ``--host`` says otherwise. See docs/serve.md.
"""

from __future__ import annotations

import argparse
import logging
import os

from m2io.cli.common import add_pipeline_arguments, index_config

log = logging.getLogger(__name__)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_pipeline_arguments(p)
    net = p.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    net.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    net.add_argument(
        "--api-key",
        default=None,
        help="require 'Authorization: Bearer KEY' on /v1 routes (default: $M2IO_API_KEY; none)",
    )
    net.add_argument(
        "--public-url", help="root URL clients reach the server by, for image links (default: Host)"
    )
    net.add_argument(
        "--read-only",
        action="store_true",
        help="refuse POST /v1/documents (do not write the index)",
    )


def run(args: argparse.Namespace) -> int:
    from m2io.registry import require

    cfg = index_config(args)
    if cfg is None:  # --dump-config printed the recipe
        return 0
    require("fastapi", "serve")
    uvicorn = require("uvicorn", "serve")
    from m2io.factory import build_pipeline
    from m2io.serve import create_app

    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    api_key = args.api_key if args.api_key is not None else os.environ.get("M2IO_API_KEY") or None
    pipeline = build_pipeline(cfg)
    # load the query embedder now, not on the first request
    index = getattr(getattr(pipeline, "retriever", None), "index", None)
    if index is not None:
        index.embed_query("warm up")
    app = create_app(
        pipeline,
        index_dir=None if args.read_only else cfg.index,
        api_key=api_key,
        public_url=args.public_url,
    )
    if not getattr(args, "quiet", False):
        key = " (API key required)" if api_key else ""
        print(f"m2io serving {cfg.index} on http://{args.host}:{args.port}/{key}", flush=True)
    level = "info" if args.verbose else "warning"
    uvicorn.run(app, host=args.host, port=args.port, log_level=level)
    return 0
