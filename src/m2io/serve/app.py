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
``/v1`` (401), and bad input is a 422 with a message.

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
from importlib import resources
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from m2io import __version__
from m2io.serve import api, chat, documents
from m2io.serve.deps import Service, error_body
from m2io.serve.state import ServiceState

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
) -> FastAPI:
    """A FastAPI app answering from ``pipeline`` (loaded once, shared by every request).

    Args:
        pipeline: A :class:`~m2io.pipeline.Pipeline` (or anything with ``run(question)``);
            images and sources are served from its retriever's index.
        index_dir: The index folder, needed by ``POST /v1/documents`` (None: read-only).
        api_key: When set, ``/v1`` routes want ``Authorization: Bearer <api_key>``.
        max_request_bytes: Largest request body (413 above), uploads excepted.
        max_upload_bytes: Largest ``POST /v1/documents`` body.
        public_url: The root URL clients reach this server by (default: from each request's
            ``Host``), used in image and source URLs.
        model_name: The model id ``/v1/models`` and chat replies give.
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
    app.state.m2io = Service(ServiceState(pipeline, index_dir), api_key, public_url, model_name)
    app.include_router(api.router)
    app.include_router(chat.router)
    app.include_router(documents.router)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return JSONResponse(
            error_body(exc.status_code, detail), exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(422, _validation_message(exc)), 422)

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    def page(name: str) -> Response:
        return Response(_page(name), media_type=_PAGE_FILES[name])

    @app.get("/", include_in_schema=False)
    def index_page() -> Response:
        return page("index.html")

    @app.get("/docs", include_in_schema=False)
    def docs_page() -> Response:
        return page("docs.html")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _PAGE_FILES:  # a fixed list: no request path reaches the file system
            raise HTTPException(status_code=404, detail="not found")
        return page(name)

    app.add_middleware(BodyLimit, default=max_request_bytes, uploads=max_upload_bytes)
    return app
