"""Answer, image, source and health routes.

``POST /v1/answer`` returns the structured answer (:class:`~m2io.serve.schemas.AnswerOut`);
``POST /v1/answer/stream`` sends the same as server-sent events (``text``, ``image`` …,
``done``); ``GET /v1/images/{image_id}`` sends an image of the index and ``GET
/v1/sources/{doc_id}`` a document as a page rendered from the index's rows, both found by id only
(docs/design.md, "Hostile input").
"""

from __future__ import annotations

import json
import logging
import os
from base64 import b64encode
from collections.abc import Iterator
from hashlib import sha256

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from m2io.index.source_page import PAGE_STYLE, render_source
from m2io.pipeline import Pipeline
from m2io.serve.answer import answer_out, run, staged_events
from m2io.serve.deps import (
    Service,
    ServiceDep,
    error_body,
    require_key,
    require_key_or_signature,
)
from m2io.serve.files import FileBody, is_source_document, open_image
from m2io.serve.limits import Holding
from m2io.serve.schemas import AnswerOut, AnswerRequest, ErrorOut, HealthOut
from m2io.serve.state import BackendNotAllowed, index_of
from m2io.serve.streaming import KEEPALIVE, KEEPALIVE_LINE
from m2io.singleshot import SingleShotPipeline

log = logging.getLogger(__name__)

ERRORS = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    413: {"model": ErrorOut},
    422: {"model": ErrorOut},
}

router = APIRouter()
v1 = APIRouter(prefix="/v1", responses=ERRORS)


def _pipeline(svc: Service, req: AnswerRequest):
    snapshot = svc.state.snapshot
    try:
        pipe = svc.state.pipeline_for(snapshot, generator=req.generator, inserter=req.inserter)
    except BackendNotAllowed as err:
        raise HTTPException(status_code=400, detail=str(err)) from err
    except ValueError as err:
        raise HTTPException(status_code=422, detail=str(err)) from err
    if req.top_k is not None and not isinstance(pipe, Pipeline | SingleShotPipeline):
        raise HTTPException(status_code=422, detail="top_k can only be chosen for m2io's pipelines")
    return snapshot, pipe


def _question(req: AnswerRequest) -> str:
    if not req.question.strip():
        raise HTTPException(status_code=422, detail="question is empty")
    return req.question


@v1.post("/answer", response_model=AnswerOut, dependencies=[Depends(require_key)])
def answer(req: AnswerRequest, request: Request, svc: ServiceDep) -> dict:
    """Answer a question: text segments with their sources, images where they belong."""
    question = _question(req)
    snapshot, pipe = _pipeline(svc, req)
    with svc.slot_for(pipe):
        result = run(pipe, question, req.top_k)
    return answer_out(result, svc.links(request, snapshot))


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@v1.post(
    "/answer/stream",
    dependencies=[Depends(require_key)],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def answer_stream(req: AnswerRequest, request: Request, svc: ServiceDep):
    """The answer as server-sent events: ``delta`` (``{"text": ...}``) per piece of text as an
    LLM generator writes it, ``text`` (all text segments and sources) as soon as the text
    exists, then one ``image`` event per placed image (``image_id``, ``url``, ``caption``,
    ``after_sentence``), then ``done`` with the whole answer (as ``/v1/answer``); a
    ``: keep-alive`` comment line after 10 s without an event. A failure after the stream
    started is an ``error`` event."""
    question = _question(req)
    snapshot, pipe = _pipeline(svc, req)
    links = svc.links(request, snapshot)

    def events() -> Iterator[str]:
        try:
            for event, data in staged_events(pipe, question, links, req.top_k):
                yield KEEPALIVE_LINE if event == KEEPALIVE else _sse(event, data)
        except Exception as err:  # the status line is gone: report in the stream
            log.exception("streamed answer failed")
            yield _sse("error", error_body(500, f"answer failed: {type(err).__name__}"))

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    stream = Holding(svc.slot_for(pipe), events())
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


def _cache_headers(etag: str, max_age: int) -> dict[str, str]:
    return {
        "ETag": etag,
        "Cache-Control": f"private, max-age={max_age}",
        "X-Content-Type-Options": "nosniff",
    }


def _file_response(body: FileBody, request: Request, max_age: int) -> Response:
    headers = _cache_headers(body.etag, max_age)
    if body.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body.data, media_type=body.media_type, headers=headers)


_NO_IMAGE = "no such image in the index"


@v1.get(
    "/images/{image_id:path}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}, 404: {"model": ErrorOut}},
)
def image(image_id: str, request: Request, svc: ServiceDep) -> Response:
    """An image of the index by its id; only ids the index holds, type from the file's bytes,
    streamed from the file."""
    require_key_or_signature(request, image_id)
    snapshot = svc.state.snapshot
    found = snapshot.images.get(image_id)
    opened = open_image(*found) if found is not None else None
    if opened is None:
        raise HTTPException(status_code=404, detail=_NO_IMAGE)
    headers = _cache_headers(opened.etag, max_age=3600)
    if opened.etag in request.headers.get("if-none-match", ""):
        opened.close()
        return Response(status_code=304, headers=headers)
    headers["Content-Length"] = str(opened.size)
    return StreamingResponse(opened.chunks(), media_type=opened.media_type, headers=headers)


@v1.get(
    "/sources/{doc_id:path}",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, 404: {"model": ErrorOut}},
)
def source(doc_id: str, request: Request, svc: ServiceDep) -> Response:
    """A source document of the index by its id, as a readable HTML page rebuilt from the
    index's own rows: every text escaped, no script, its images through ``/v1/images``, each
    heading with the id a source link's fragment names (a PDF section: ``page=N``). With a key,
    a signed URL the server wrote (source links in answers) opens it too."""
    require_key_or_signature(request, doc_id, "sources")
    snapshot = svc.state.snapshot
    location = snapshot.sources.get(doc_id)
    index = index_of(snapshot.pipeline)
    rows = index.doc_rows.get(doc_id) if index is not None else None
    if location is None or not rows or not is_source_document(location, snapshot.root):
        raise HTTPException(status_code=404, detail="no such source document in the index")
    chunks = [index.chunks[r] for r in rows]
    first = chunks[0].source
    title = (first.title if first is not None else "") or doc_id
    links = svc.links(request, snapshot)
    page = render_source(
        title,
        chunks,
        links.image,
        language=first.language if first is not None else "",
        top_id=first.anchor if first is not None and first.anchor.startswith("page=") else "",
    ).encode()
    body = FileBody(page, "text/html; charset=utf-8", '"' + sha256(page).hexdigest()[:32] + '"')
    response = _file_response(body, request, max_age=60)
    response.headers["Content-Security-Policy"] = SOURCE_CSP
    return response


SOURCE_CSP = (
    "sandbox; default-src 'none'; img-src 'self'; "
    f"style-src 'sha256-{b64encode(sha256(PAGE_STYLE.encode()).digest()).decode()}'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""A source page: no script at all (sandboxed), this server's images, its one style."""


@router.get("/health", response_model=HealthOut)
async def health(svc: ServiceDep) -> dict:
    """Liveness and what the index holds (no key needed); answered on the event loop, so it
    answers while every worker thread is busy. ``worker`` is the answering process's id (with
    ``--workers N``, the index it reports is reopened by that process's next request)."""
    snapshot = svc.state.current
    docs, chunks, images = snapshot.counts()
    index = index_of(snapshot.pipeline)
    embedder = index.manifest.embedder if index is not None else None
    return {
        "status": "ok",
        "documents": docs,
        "chunks": chunks,
        "images": images,
        "embedder": embedder,
        "worker": os.getpid(),
    }


router.include_router(v1)
