"""OpenAI-compatible ``POST /v1/chat/completions`` and ``GET /v1/models``.

The last user message is the question; the reply is the answer as Markdown whose images point at
this server (``![caption](http://host/v1/images/…)``), followed by its numbered sources, so chat
front ends and the ``openai`` client can use m2io as a model. ``stream: true`` sends
``chat.completion.chunk`` events: with an LLM generator, its text as the model writes it, then
the placed images, sources and notes as Markdown; otherwise one Markdown block at a time; then
``data: [DONE]``, with ``: keep-alive`` comment lines while nothing else is sent.
Sampling options are accepted and ignored: the answer comes from the corpus.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse

from m2io.serve.answer import images_markdown, markdown, stream_answer
from m2io.serve.deps import ServiceDep, error_body, require_key
from m2io.serve.limits import Holding
from m2io.serve.schemas import MAX_QUESTION_CHARS, ChatMessage, ChatRequest, ErrorOut
from m2io.serve.streaming import KEEPALIVE, KEEPALIVE_LINE, Emit, pumped

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_key)],
    responses={401: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)


def last_question(messages: list[ChatMessage]) -> str:
    """The text of the last user message (text parts of a list content joined).

    Raises:
        HTTPException: 422 when there is no user message with text, or it is too long.
    """
    for msg in reversed(messages):
        if msg.role != "user":
            continue
        content = msg.content
        if isinstance(content, list):
            content = " ".join(
                str(part.get("text", "")) for part in content if part.get("type") == "text"
            )
        text = (content or "").strip()
        if not text:
            break
        if len(text) > MAX_QUESTION_CHARS:
            raise HTTPException(
                status_code=422, detail=f"the question is longer than {MAX_QUESTION_CHARS} chars"
            )
        return text
    raise HTTPException(status_code=422, detail="messages: the last user message has no text")


def _blocks(md: str) -> list[str]:
    """Markdown cut after each blank line, so joining the pieces gives ``md`` back."""
    parts = md.split("\n\n")
    return [p + "\n\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _usage(question: str, md: str) -> dict[str, int]:
    prompt, completion = len(question.split()), len(md.split())  # words, not tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@router.post("/chat/completions", response_model=None)
def chat_completions(
    req: ChatRequest, request: Request, svc: ServiceDep
) -> dict[str, Any] | StreamingResponse:
    """Answer the last user message as an assistant message in Markdown."""
    question = last_question(req.messages)
    snapshot = svc.state.snapshot
    links = svc.links(request, snapshot)
    ident, created, model = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), svc.model_name

    slot = svc.slot_for(snapshot.pipeline)  # 503 when too many model calls run already
    if not req.stream:
        with slot:
            md = markdown(snapshot.pipeline.run(question), links)
        return {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": md},
                    "finish_reason": "stop",
                }
            ],
            "usage": _usage(question, md),
        }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def work(emit: Emit) -> None:
        def forward(event: str, data: dict[str, Any]) -> None:
            if event == "delta":  # the model's text as it comes; the rest waits for the end
                emit(event, data)

        done = stream_answer(snapshot.pipeline, question, links, forward)
        if not done.streamed:  # nothing streamed (the offline default): the whole Markdown
            emit("blocks", {"blocks": _blocks(markdown(done.answer, links))})
        elif done.fell_back:  # the streamed text is not the answer: the answer follows it
            md = markdown(done.answer, links)
            emit("blocks", {"blocks": ["\n\n---\n\n", *_blocks(md)]})
        else:  # the text went out as it came: the images, sources and notes follow it
            emit("blocks", {"blocks": ["\n\n", *_blocks(images_markdown(done.answer, links))]})

    def events() -> Iterator[str]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            for event, data in pumped(work):
                if event == KEEPALIVE:
                    yield KEEPALIVE_LINE
                elif event == "delta":
                    yield chunk({"content": data["text"]})
                else:
                    for block in data["blocks"]:
                        yield chunk({"content": block})
        except Exception as err:  # the status line is gone: report in the stream
            log.exception("chat answer failed")
            yield f"data: {json.dumps(error_body(500, f'answer failed: {type(err).__name__}'))}\n\n"
            return
        yield chunk({}, "stop")
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        Holding(slot, events()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )


@router.get("/models")
def models(svc: ServiceDep) -> dict[str, Any]:
    """The one model this server offers (any model name is answered the same way)."""
    return {
        "object": "list",
        "data": [{"id": svc.model_name, "object": "model", "created": 0, "owned_by": "m2io"}],
    }
