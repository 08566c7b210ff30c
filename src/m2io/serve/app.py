"""The HTTP service: ``create_app(pipeline)`` returns a FastAPI app serving it.

Routes (docs/serve.md has examples):

* ``POST /v1/answer`` and ``POST /v1/answer/stream`` (server-sent events): the structured answer;
* ``POST /v1/chat/completions`` and ``GET /v1/models``: OpenAI-compatible;
* ``GET /v1/images/{image_id}``, ``GET /v1/sources/{doc_id}``: files of the index, by id only;
* ``POST /v1/documents``: add documents without a rebuild (needs ``index_dir``);
* ``GET /health``, ``GET /openapi.json``, ``GET /docs`` (an offline API page), ``GET /`` (the web
  page: ask, see the answer with its figures in place).

Every response carries a Content-Security-Policy that lets pages load only this server's own
script, style and images; the page inserts all document and model text as text, never as HTML
(docs/design.md, "Hostile input", rule 4). Bodies are capped (413), an API key may be required on
``/v1`` (401, checked before a body is read), and bad input is a 422 with a message. What the
server trusts and what not (hosts, origins, backends, writes, files) is in docs/serve.md, "Threat
model"; :mod:`m2io.serve.gate` holds the checks made before a route runs.

Example::

    from m2io.config import PipelineConfig
    from m2io.factory import build_pipeline

    app = create_app(build_pipeline(PipelineConfig(index="my.index")), index_dir="my.index")
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from m2io import __version__
from m2io.config import PipelineConfig
from m2io.serve import api, chat, documents
from m2io.serve.deps import Service, error_body
from m2io.serve.gate import Gate
from m2io.serve.limits import MAX_MODEL_CALLS, ModelSlots
from m2io.serve.state import ServiceState
from m2io.serve.uploads import UploadLimits

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 1024 * 1024
"""Largest request body outside uploads (a question is small)."""
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
"""Largest ``POST /v1/documents`` body."""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The pages' policy: only this server's own script, style, images and API; no inline script."""

_PAGE_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "docs.html": "text/html; charset=utf-8",
    "docs.js": "text/javascript; charset=utf-8",
}


_SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeaders:
    """ASGI middleware: the page policy and the no-sniff and no-referrer headers on every
    response that does not set its own (plain ASGI: a ``@app.middleware("http")`` function
    costs a task and a stream per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                have = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in have]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: a body over the limit of its route is refused with 413, whether its
    ``Content-Length`` says so or it streams past the limit."""

    def __init__(self, app: ASGIApp, default: int, uploads: int) -> None:
        self.app, self.default, self.uploads = app, default, uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.uploads if scope["path"].rstrip("/") == "/v1/documents" else self.default
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await self._refuse(send, limit)
            return
        seen = 0
        started = over = False

        async def counted() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _TooLarge
            return message

        async def watched(message: Message) -> None:
            # the app may catch _TooLarge and answer 400: whatever it answers becomes the 413
            nonlocal started
            if over:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send, limit)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _TooLarge:
            if not started:
                await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = json.dumps(error_body(413, f"request body larger than {limit} bytes")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][^\s'\"\\/:,;()\[\]]+){2,}[\\/]?")
MAX_MESSAGE_CHARS = 400


def public_message(message: str) -> str:
    """``message`` as a client may see it: each file path cut to its last part, the whole capped
    (the full message is in the log)."""
    cut = _PATH.sub(lambda m: "…/" + re.split(r"[\\/]", m.group(0).rstrip("/\\"))[-1], message)
    return cut if len(cut) <= MAX_MESSAGE_CHARS else cut[: MAX_MESSAGE_CHARS - 1] + "…"


def _validation_message(err: RequestValidationError) -> str:
    parts = []
    for e in err.errors()[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _page(name: str) -> bytes:
    return resources.files("m2io.serve").joinpath("page", name).read_bytes()


def create_app(
    pipeline: Any,
    *,
    index_dir: str | os.PathLike[str] | None = None,
    api_key: str | None = None,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    public_url: str | None = None,
    model_name: str = "m2io",
    corpus_root: str | os.PathLike[str] | None = None,
    backends: Mapping[str, Collection[str]] | None = None,
    allowed_hosts: Collection[str] | None = None,
    max_model_calls: int = MAX_MODEL_CALLS,
    max_client_requests: int = 32,
    upload_limits: UploadLimits | None = None,
    recipe: PipelineConfig | None = None,
    follow_index: bool = False,
) -> FastAPI:
    """A FastAPI app answering from ``pipeline`` (loaded once, shared by every request).

    Args:
        pipeline: A :class:`~m2io.pipeline.Pipeline` (or anything with ``run(question)``);
            images and sources are served from its retriever's index.
        index_dir: The index folder, where ``POST /v1/documents`` writes (None: read-only).
            Without ``api_key``, an upload must also carry ``X-M2IO-Write: 1``.
        api_key: When set, ``/v1`` routes want ``Authorization: Bearer <api_key>``.
        max_request_bytes: Largest request body (413 above), uploads excepted.
        max_upload_bytes: Largest ``POST /v1/documents`` body.
        public_url: The root URL clients reach this server by (default: from each request's
            ``Host``), used in image and source URLs.
        model_name: The model id ``/v1/models`` and chat replies give.
        corpus_root: The folder corpus files are served from; the index's recorded root is used
            only inside it (None: only inside the folder that holds the index folder).
        backends: ``{"generator": [...], "inserter": [...]}``: the backends a request may
            choose besides the served pipeline's own (None: none).
        allowed_hosts: Host names answered, besides any IP address (None: every name; the CLI
            always passes its own).
        max_model_calls: Requests that may run the pipeline at once (then 503).
        max_client_requests: Requests one client address may have in flight (then 429).
        upload_limits: Pixels, disk quota and CPU budget of uploads.
        recipe: The recipe ``pipeline`` was built from: a backend a request chooses is built
            from it with that stage swapped (None: the pipeline's own ``to_config()``).
        follow_index: Reopen the index when another process swaps in a new one (set for each
            process of ``m2io serve --workers N``; see :mod:`m2io.serve.workers`).
    """
    if api_key is not None and not api_key.strip():
        raise ValueError("api_key is empty; pass None for no key")
    app = FastAPI(
        title="m2io",
        summary="Answers with retrieved images placed at the right sentences.",
        version=__version__,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN; /docs is served offline
        redoc_url=None,
    )
    state = ServiceState(
        pipeline,
        index_dir,
        corpus_root=corpus_root,
        backends=backends,
        recipe=recipe,
        follow=follow_index,
    )
    svc = Service(
        state,
        api_key,
        public_url,
        model_name,
        allowed_hosts=frozenset(allowed_hosts) if allowed_hosts is not None else None,
        slots=ModelSlots(max_model_calls),
        max_client_requests=max_client_requests,
        upload_limits=upload_limits or UploadLimits(),
    )
    app.state.m2io = svc
    app.include_router(api.router)
    app.include_router(chat.router)
    app.include_router(documents.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code >= 400:
            log.info("%s %s: %d %.2000s", request.method, request.url.path, exc.status_code, detail)
        return JSONResponse(
            error_body(exc.status_code, public_message(detail)),
            exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body(500, "internal error; the server log has the details"), 500)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(422, public_message(_validation_message(exc))), 422)

    def page(name: str) -> Response:
        return Response(_page(name), media_type=_PAGE_FILES[name])

    # the page routes are async: they answer on the event loop even when every worker is busy
    @app.get("/", include_in_schema=False)
    async def index_page() -> Response:
        return page("index.html")

    @app.get("/docs", include_in_schema=False)
    async def docs_page() -> Response:
        return page("docs.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in _PAGE_FILES:  # a fixed list: no request path reaches the file system
            raise HTTPException(status_code=404, detail="not found")
        return page(name)

    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, default=max_request_bytes, uploads=max_upload_bytes)
    app.add_middleware(Gate, service=svc)  # outermost: before any body is read
    return app
