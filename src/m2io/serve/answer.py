"""Turn a :class:`~m2io.types.MultimodalAnswer` into what the service sends.

Images and source files are referred to by this server's URLs (``/v1/images/{id}``,
``/v1/sources/{doc_id}``), never by a path of the server's disk. When the service has an API key,
an image or source URL carries a signature of its id (``?exp=…&sig=…``), so an ``<img>`` or a
link in a page, a Markdown answer or a chat reply opens without sending the key (the signature binds the route, the id and an expiry:
:mod:`m2io.serve.signing`). The Markdown is the renderer's
(:func:`~m2io.mergers.render.to_markdown`, so it is escaped the same way) over a copy of the answer
whose images and sources point at this server.

The streaming variant walks the stages itself, in a worker thread, so the text goes out before
the inserter runs: ``delta`` events while an LLM generator writes (tokens as they come),
``text`` (the text segments and sources), then one ``image`` event per placed image, then
``done`` with the whole answer, with keep-alives while nothing else is sent (docs/design.md,
"The spine"; :mod:`m2io.serve.streaming`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from m2io.index.source_page import section_anchor
from m2io.llm.notes import FELL_BACK, note_stage
from m2io.mergers.render import empty_message, shown_caption, source_label, to_markdown
from m2io.pipeline import Pipeline
from m2io.safety import remote_image_url
from m2io.serve.signing import signed_query
from m2io.serve.state import Snapshot
from m2io.serve.streaming import Emit, Event, pumped
from m2io.text import code_lines, introduced_command, is_code_block, row_cells
from m2io.types import ImageSegment, MultimodalAnswer, Placement, Source, TextSegment


class Links:
    """This server's URLs for the images and sources of one snapshot.

    Args:
        base: The server's root URL as the client reached it (``http://host:port``).
        snapshot: Which images and sources exist.
        api_key: The service's key, to sign image and source URLs (None: no signature).
    """

    def __init__(self, base: str, snapshot: Snapshot, api_key: str | None) -> None:
        self.base, self.snapshot, self.api_key = base.rstrip("/"), snapshot, api_key

    def image(self, image_id: str) -> str | None:
        if image_id not in self.snapshot.images:
            return None
        url = f"{self.base}/v1/images/{quote(image_id, safe='')}"
        return f"{url}?{signed_query(self.api_key, 'images', image_id)}" if self.api_key else url

    def source(self, src: Source) -> str | None:
        url = remote_image_url(src.location.strip()) if src.location else None
        if url is not None:
            return url
        if src.doc_id in self.snapshot.sources:
            fragment = src.anchor or (section_anchor(src.section) if src.section else "")
            anchor = f"#{quote(fragment, safe='-._~=')}" if fragment else ""
            url = f"{self.base}/v1/sources/{quote(src.doc_id, safe='')}"
            if self.api_key:  # a link a browser opens cannot send the key
                url += f"?{signed_query(self.api_key, 'sources', src.doc_id)}"
            return url + anchor
        return None


def run(pipeline: Any, question: str, top_k: int | None = None) -> MultimodalAnswer:
    """``pipeline.run(question)``, with ``top_k`` only when a request chose one (a pipeline
    served through :func:`~m2io.serve.create_app` needs only ``run(question)``)."""
    return pipeline.run(question) if top_k is None else pipeline.run(question, top_k=top_k)


def _text_out(seg: TextSegment, before: str = "") -> dict[str, Any]:
    """A text segment for the API; ``before`` is the answer's text segment before it."""
    out: dict[str, Any] = {
        "type": "text",
        "text": seg.text,
        "sentence_index": seg.sentence_index,
        "source": seg.source,
    }
    row = row_cells(seg.text)
    if row is not None:  # a table row: the page shows consecutive rows as a table
        out["row"] = {"headers": list(row[0]), "cells": list(row[1])}
    elif is_code_block(seg.text):  # the page shows its lines as a code block
        out["command"] = True
        out["code"] = "\n".join(code_lines(seg.text))
    elif introduced_command(seg.text, before):  # the page shows it as code, a line of its own
        out["command"] = True
    return out


def _segments_out(answer: MultimodalAnswer, links: Links | None) -> list[dict[str, Any]]:
    """The answer's segments for the API (text only when ``links`` is None)."""
    out: list[dict[str, Any]] = []
    before = ""
    for seg in answer.segments:
        if isinstance(seg, TextSegment):
            out.append(_text_out(seg, before))
            before = seg.text
        elif links is not None:
            out.append(image_out(seg, links))
    return out


def image_out(seg: ImageSegment, links: Links) -> dict[str, Any]:
    return {
        "type": "image",
        "image_id": seg.image_id,
        "url": links.image(seg.image_id),
        "caption": shown_caption(seg),
        "after_sentence": seg.after_sentence,
    }


def sources_out(answer: MultimodalAnswer, links: Links) -> list[dict[str, Any]]:
    return [
        {
            "number": k,
            "doc_id": src.doc_id,
            "label": source_label(src),
            "title": src.title,
            "section": src.section,
            "location": src.location,
            "url": links.source(src),
        }
        for k, src in enumerate(answer.sources, 1)
    ]


def linked(answer: MultimodalAnswer, links: Links) -> MultimodalAnswer:
    """A copy of ``answer`` whose images and sources are this server's URLs (no local paths)."""
    segments = tuple(
        replace(seg, path=None, url=links.image(seg.image_id))
        if isinstance(seg, ImageSegment)
        else seg
        for seg in answer.segments
    )
    sources = tuple(
        replace(src, location=links.source(src) or "", anchor="") for src in answer.sources
    )
    return replace(answer, segments=segments, sources=sources, image_root=None)


def markdown(answer: MultimodalAnswer, links: Links) -> str:
    """The answer as Markdown with ``![caption](http://this-server/v1/images/…)`` images."""
    return to_markdown(linked(answer, links), allow_remote_images=True)


def answer_out(answer: MultimodalAnswer, links: Links) -> dict[str, Any]:
    """The JSON body of ``POST /v1/answer`` (see :class:`~m2io.serve.schemas.AnswerOut`)."""
    segments = _segments_out(answer, links)
    empty = empty_message(answer)
    return {
        "question": answer.question,
        "segments": segments,
        "sources": sources_out(answer, links),
        "markdown": markdown(answer, links),
        "timings_ms": {k: round(v, 2) for k, v in answer.timings_ms.items()},
        "notes": ([empty] if empty else []) + list(answer.notes),
        "continued": continued_out(answer),
    }


def continued_out(answer: MultimodalAnswer) -> dict[str, Any] | None:
    """Where the answer's procedure goes on (``AnswerOut.continued``), or None."""
    c = answer.continued
    if c is None:
        return None
    number, label = None, source_label(c.source) if c.source else "the source"
    for k, src in enumerate(answer.sources, 1):
        if c.source is not None and (src.doc_id, src.section) == (
            c.source.doc_id,
            c.source.section,
        ):
            number, label = k, source_label(src)
            break
    return {
        "first_step": c.first_step,
        "last_step": c.last_step,
        "source": number,
        "text": c.says(label),
    }


def staged_events(
    pipeline: Any, question: str, links: Links, top_k: int | None = None
) -> Iterator[Event]:
    """``(event, data)`` pairs as the answer is made: ``delta`` per piece of text while a
    streaming generator writes it, ``text`` once the text exists, ``image`` per placed image,
    ``done`` with the whole answer, and ``keepalive`` after 10 s without any of these (the route
    writes it as an SSE comment). The stages run in a worker thread (:func:`pumped`)."""
    if not question.strip():
        raise ValueError("question is empty")
    yield from pumped(lambda emit: stream_answer(pipeline, question, links, emit, top_k))


def stream_answer(
    pipeline: Any, question: str, links: Links, emit: Emit, top_k: int | None = None
) -> StreamedAnswer:
    """Run ``pipeline`` on ``question`` (``top_k`` chunks; None: its own), emitting the events
    of :func:`staged_events` as its walk (:meth:`~m2io.pipeline.Pipeline.walk`) goes.

    A staged pipeline whose generator streams (:meth:`~m2io.generators.prompts.ChatGenerator.
    generate_streaming`, an endpoint model) emits ``delta`` events (``{"text": ...}``, citation
    markers left out) as the model writes; ``text`` then carries the finished segments, which
    replace what the deltas showed (after a fallback they differ). A pipeline that is not staged
    (Single-Shot) answers first and then emits the same events, without deltas.
    """
    if not isinstance(pipeline, Pipeline):
        answer = run(pipeline, question, top_k)
        emit("text", _text_event(answer, links))
        for seg in answer.images:
            emit("image", image_out(seg, links))
        emit("done", answer_out(answer, links))
        return StreamedAnswer(answer, False, False)
    streamed: list[bool] = [False]

    def delta(text: str) -> None:
        streamed[0] = True
        emit("delta", {"text": text})

    made: dict[str, Any] = {}
    for step in pipeline.walk(question, top_k=top_k, on_text=delta):
        made[step.stage] = step.value
        if step.stage == "generate":  # the text goes out before the inserter runs
            unplaced = pipeline.merger.merge(step.value, Placement(), made["retrieve"].candidates)
            emit("text", _text_event(unplaced, links))
    final: MultimodalAnswer = made["merge"]
    for seg in final.images:
        emit("image", image_out(seg, links))
    emit("done", answer_out(final, links))
    fell_back = any(note_stage(n) == "generate" and FELL_BACK in n for n in made["generate"].notes)
    return StreamedAnswer(final, streamed[0], fell_back)


@dataclass(frozen=True)
class StreamedAnswer:
    """What :func:`stream_answer` made: the answer, whether text deltas went out before it,
    and whether the generator fell back after they did (so they are not the answer's text)."""

    answer: MultimodalAnswer
    streamed: bool
    fell_back: bool


def images_markdown(answer: MultimodalAnswer, links: Links) -> str:
    """The Markdown that follows streamed text: the placed images (this server's URLs), the
    numbered sources and the notes, without the text the stream has already sent."""
    images = replace(answer, segments=answer.images)
    md = markdown(images, links)
    empty = empty_message(images)
    return md[len(empty) :].lstrip("\n") if empty and md.startswith(empty) else md


def _text_event(answer: MultimodalAnswer, links: Links) -> dict[str, Any]:
    return {
        "segments": _segments_out(answer, None),
        "sources": sources_out(answer, links),
    }
