"""``m2io serve --index DIR``: the HTTP API and web page, models and index loaded once.

Open http://127.0.0.1:8000/ for the page, /docs for the API. ``--api-key`` (or
``$M2IO_API_KEY``) makes every ``/v1`` route want ``Authorization: Bearer KEY``. The server
listens on loopback unless ``--host`` says otherwise, answers only to the host names of
``--host``/``--public-url``/``--allowed-host``, writes to the index only with a key or
``--allow-writes``, serves corpus files only from beside the index or ``--corpus-root``, and lets
a request choose only the backends ``--allow-generator``/``--allow-inserter`` name. See
docs/serve.md, "Threat model".

``--workers N`` (default: the cores this process may use) answers from N processes forked after
the index and models are loaded, sharing them in memory and splitting the limits between them
(:mod:`m2io.serve.workers`).
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

from m2io.cli import environment
from m2io.cli.common import add_pipeline_arguments, index_config

MAX_MODEL_CALLS = 8
"""As :data:`m2io.serve.limits.MAX_MODEL_CALLS` (not imported: fastapi loads only to serve)."""

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
        help="refuse POST /v1/documents (do not write the index), whatever else is set",
    )
    net.add_argument(
        "--allow-writes",
        action="store_true",
        help="accept POST /v1/documents without an API key (writes need a key by default)",
    )
    net.add_argument(
        "--corpus-root",
        help="serve corpus files only from this folder (default: the index's corpus, if it lies "
        "in the folder that holds the index)",
    )
    net.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another host name clients reach the server by (repeatable; IP addresses, "
        "--host, --public-url and, on loopback, localhost are always allowed)",
    )
    for kind in ("generator", "inserter"):
        net.add_argument(
            f"--allow-{kind}",
            action="append",
            default=[],
            metavar="NAME",
            help=f"a {kind} a request may choose besides the served one (repeatable; "
            "default: none)",
        )
    net.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="processes answering (default: the CPU cores this process may use); the index "
        "is loaded once and shared, and the limits below are totals split between them",
    )
    net.add_argument(
        "--max-model-calls",
        type=int,
        default=MAX_MODEL_CALLS,
        help=f"questions answered at once; more get 503 ({MAX_MODEL_CALLS})",
    )
    net.add_argument(
        "--max-connections",
        type=int,
        default=512,
        help="open connections in all (uvicorn's limit_concurrency; 503 past it) (512)",
    )
    net.add_argument(
        "--no-sentence-fill",
        action="store_true",
        help="do not embed the index's missing sentence vectors in the background after start "
        "(by default the server fills them at low priority and writes them beside the index, "
        "so the inserters stop embedding answers' sentences: docs/serve.md)",
    )
    net.add_argument(
        "--max-client-connections",
        type=int,
        default=64,
        help="open connections per client address; more are closed (64)",
    )


def app_options(args: argparse.Namespace, index: str, api_key: str | None) -> dict[str, Any]:
    """The keyword arguments of :func:`~m2io.serve.create_app` the flags ask for: writes only
    with a key or ``--allow-writes`` (never with ``--read-only``), the Host allowlist, the
    operator's corpus root and backends."""
    from m2io.serve.gate import allowed_hosts

    writes = (api_key is not None or args.allow_writes) and not args.read_only
    backends = {
        kind: list(getattr(args, f"allow_{kind}"))
        for kind in ("generator", "inserter")
        if getattr(args, f"allow_{kind}")
    }
    if args.read_only:
        backends = {}
    return {
        "index_dir": index if writes else None,
        "api_key": api_key,
        "public_url": args.public_url,
        "corpus_root": args.corpus_root,
        "backends": backends,
        "allowed_hosts": allowed_hosts(args.host, args.public_url, args.allowed_host),
        "max_model_calls": args.max_model_calls,
        "max_client_requests": args.max_client_connections,
    }


def worker_count(args: argparse.Namespace) -> int:
    """``--workers``, or the cores this process may use."""
    from m2io.serve.workers import cores

    n = args.workers if args.workers is not None else cores()
    if n < 1:
        raise ValueError(f"--workers must be at least 1, got {n}")
    return n


def run(args: argparse.Namespace) -> int:
    from m2io.registry import require

    cfg = index_config(args)
    if cfg is None:  # --dump-config printed the recipe
        return 0
    require("fastapi", "serve")
    uvicorn = require("uvicorn", "serve")
    from m2io.factory import build_pipeline
    from m2io.serve import create_app
    from m2io.serve.runtime import cap_log_lines, limited_protocol
    from m2io.serve.state import reopen_pipeline
    from m2io.serve.workers import bind, per_worker, serve_forked

    if not 0 < args.port < 65536:
        raise ValueError(f"--port must be 1..65535, got {args.port}")
    if args.corpus_root is not None and not os.path.isdir(args.corpus_root):
        raise ValueError(f"--corpus-root {args.corpus_root}: not a folder")
    api_key = args.api_key if args.api_key is not None else environment.serve_api_key()
    options = app_options(args, cfg.index, api_key)
    workers = worker_count(args)
    pipeline = build_pipeline(cfg)
    if args.corpus_root is not None:  # image paths resolved against the operator's root
        pipeline = reopen_pipeline(pipeline, cfg.index, args.corpus_root)
    # load the query embedder now, not on the first request
    index = getattr(getattr(pipeline, "retriever", None), "index", None)
    if index is not None:
        index.embed_query("warm up")
    prepare = getattr(getattr(pipeline, "retriever", None), "prepare", None)
    if prepare is not None:  # before the workers fork: they share what it computes
        prepare()
    if not getattr(args, "quiet", False):
        key = " (API key required)" if api_key else ""
        mode = "read-only" if options["index_dir"] is None else "uploads allowed"
        procs = f", {workers} workers" if workers > 1 else ""
        print(
            f"m2io serving {cfg.index} on http://{args.host}:{args.port}/{key} ({mode}{procs})",
            flush=True,
        )
    level = "info" if args.verbose else "warning"
    share = (lambda total: per_worker(total, workers)) if workers > 1 else (lambda total: total)
    options["max_model_calls"] = share(args.max_model_calls)
    options["max_client_requests"] = share(args.max_client_connections)

    def serve(forked: bool = False) -> None:
        if not args.no_sentence_fill and hasattr(pipeline, "fill_sentence_vectors"):
            pipeline.fill_sentence_vectors()  # in each worker: one fills, the others follow
        app = create_app(pipeline, recipe=cfg, follow_index=workers > 1, **options)
        config = uvicorn.Config(
            app,
            host=args.host,
            port=args.port,
            log_level=level,
            http=limited_protocol(per_client=share(args.max_client_connections)),
            limit_concurrency=share(args.max_connections),
            timeout_keep_alive=5,
            timeout_graceful_shutdown=10,  # requests still waiting on a model do not hold shutdown
        )
        cap_log_lines()
        server = uvicorn.Server(config)
        if forked:  # each worker its own socket on the shared port
            server.run(sockets=[bind(args.host, args.port, reuse_port=True)])
        else:
            server.run()

    if workers == 1:
        serve()
        return 0
    bind(args.host, args.port).close()  # a port in use fails here, not in every worker
    return serve_forked(lambda: serve(forked=True), workers)
