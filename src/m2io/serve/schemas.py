"""The HTTP service's request and response bodies (pydantic), shown in its OpenAPI schema.

The answer keeps the shape of :class:`~m2io.types.MultimodalAnswer` (segments in reading order,
numbered sources) and adds what a client needs to show it without touching the server's file
system: each image's URL on this server, each source's URL, and the answer as Markdown whose
images point at this server. See docs/design.md, "The spine".
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_QUESTION_CHARS = 4000
"""Longest question accepted (a question is a sentence or two, not a document)."""
BACKEND_NAME = r"^[a-z][a-z0-9_-]{0,40}$"
"""A registered backend name: never a dotted path (a request must not import modules)."""


class AnswerRequest(BaseModel):
    """``POST /v1/answer``: a question and, optionally, per-request stage choices."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="the question")
    top_k: int | None = Field(
        default=None, ge=1, le=50, description="ranked chunks to retrieve (default: the server's)"
    )
    inserter: str | None = Field(
        default=None, pattern=BACKEND_NAME, description="image inserter backend by name"
    )
    generator: str | None = Field(
        default=None, pattern=BACKEND_NAME, description="text generator backend by name"
    )


class TableRowOut(BaseModel):
    """A text segment that is a table row: its header cells (empty for a table without
    headers) and its cells, so a front end can show consecutive rows as a table."""

    headers: list[str]
    cells: list[str]


class TextSegmentOut(BaseModel):
    """A run of answer text and the number of its source in ``sources`` (None if unknown);
    ``row`` when the text is a table row; ``command`` when it is a command the text before
    introduces ("Build it:" then "make"), which a front end shows as code on a line of its own;
    ``code`` (with ``command``) when it is a code block: its lines, fence lines left out, which
    a front end shows as a preformatted block."""

    type: Literal["text"] = "text"
    text: str
    sentence_index: int
    source: int | None = None
    row: TableRowOut | None = None
    command: bool = False
    code: str | None = None


class ImageSegmentOut(BaseModel):
    """A placed image: it goes after sentence ``after_sentence`` (0 = before the first).

    ``url`` is where this server serves it (None when it has no file inside the corpus);
    ``caption`` is the caption a reader should see ("" when the index only knows a file name).
    """

    type: Literal["image"] = "image"
    image_id: str
    url: str | None
    caption: str
    after_sentence: int


Segment = Annotated[TextSegmentOut | ImageSegmentOut, Field(discriminator="type")]


class SourceOut(BaseModel):
    """A numbered source: the document, its section, and where to read it (``url``)."""

    number: int
    doc_id: str
    label: str = Field(description="'Title › Section', as the renderers write it")
    title: str
    section: str
    location: str
    url: str | None = Field(
        description="an http(s) URL from the corpus, or this server's copy of the source file"
    )


class ContinuedOut(BaseModel):
    """Where a procedure the answer holds only in part goes on: the steps it leaves out and
    the number of the source that holds them (:class:`~m2io.types.Continuation`)."""

    first_step: str = Field(description="first step not shown ('4'); '' when unknown")
    last_step: str = Field(description="the procedure's last step ('9'); '' when unknown")
    source: int | None = Field(description="its number in sources (None if not one of them)")
    text: str = Field(description="'Steps 4–9 continue in Title › Section.', for showing")


class AnswerOut(BaseModel):
    """``POST /v1/answer``'s reply: segments, sources, Markdown and per-stage timings."""

    question: str
    segments: list[Segment]
    sources: list[SourceOut]
    markdown: str
    timings_ms: dict[str, float]
    notes: list[str]
    continued: ContinuedOut | None = None


class ChatMessage(BaseModel):
    """One OpenAI chat message; ``content`` may be a string or a list of content parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``: the last user message is the question.

    Sampling options (temperature, max_tokens, ...) are accepted and ignored: the answer comes
    from the corpus.
    """

    model_config = ConfigDict(extra="allow")

    model: str = "m2io"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class DocumentsOut(BaseModel):
    """``POST /v1/documents``'s reply: what was added and what was wrong with the upload."""

    doc_ids: list[str]
    chunks: int
    images: int
    problems: list[str]


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    documents: int
    chunks: int
    images: int
    embedder: str | None
    worker: int | None = None
    """The id of the process that answered (``m2io serve --workers N`` runs several)."""


class ErrorBody(BaseModel):
    message: str
    type: str
    code: int


class ErrorOut(BaseModel):
    """Every 4xx/5xx reply: ``{"error": {"message", "type", "code"}}`` (OpenAI's shape)."""

    error: ErrorBody
