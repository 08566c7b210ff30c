"""Typed records passed between m2io's stages.

Every stage takes and returns these frozen dataclasses; nothing travels as a growing dict.
Sentence indices follow the inserter protocol (docs/design.md, "The inserter protocol"): an image placed ``after_sentence=k`` goes
after the k-th sentence (1-based); ``0`` means before the first sentence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal


@dataclass(frozen=True)
class ImageRef:
    """One image of the corpus.

    Attributes:
        image_id: Stable id, unique within a corpus (MRAMG image id or a path-derived id).
        path: Local file path (absolute once loaded), or None when only a URL is known.
        url: Remote URL if the source gave one.
        caption: Caption, alt text and/or figure title; may be empty.
    """

    image_id: str
    path: str | None = None
    url: str | None = None
    caption: str = ""


@dataclass(frozen=True)
class ImageAnchor:
    """An image at a character offset of some text (a document's or a chunk's)."""

    image: ImageRef
    offset: int


@dataclass(frozen=True)
class Document:
    """A source document: plain text with images at known character offsets.

    ``text`` holds no image markers; ``images`` are sorted by offset. Several images may share an
    offset (they follow each other with no text in between).
    """

    doc_id: str
    text: str
    images: tuple[ImageAnchor, ...] = ()
    title: str = ""
    source: str = ""
    language: str = ""
    """Language code (``"en"``; "" when unknown): :mod:`m2io.language`."""


@dataclass(frozen=True, slots=True)
class Source:
    """Where a piece of answer text came from, for citing it.

    Attributes:
        doc_id: The document.
        title: The document's title.
        location: The source file's path relative to the corpus root (POSIX), or an http(s)
            URL; "" when unknown.
        section: Heading of the section the text sits under ("" when unknown).
        anchor: Fragment id of that section in the source file (``location#anchor``), if known.
        language: The document's language (``"en"``, ``"fr"``; "" when unknown).
    """

    doc_id: str
    title: str = ""
    location: str = ""
    section: str = ""
    anchor: str = ""
    language: str = ""


@dataclass(frozen=True, slots=True)
class SectionSpan:
    """A section that begins inside a chunk: its heading's offset in the chunk text and its
    title (:attr:`Chunk.sections`)."""

    offset: int
    title: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A retrieval unit cut from a document, keeping the images that sit inside it.

    Image offsets are relative to ``text``. ``start`` is the chunk's offset in its document.
    ``source`` says where the chunk's text comes from, for citing it; its ``section`` is the
    section the chunk starts in. ``sections`` are the sections that begin further into the
    chunk, in order (offsets increasing, each past the chunk's first word): a chunk that holds
    the end of "PAM support" and the heading and first lines of "Integrated configuration mode"
    carries the second here, so its sentences are cited by the section they sit in
    (:meth:`source_at`). Empty when the chunk lies in one section.
    """

    chunk_id: str
    doc_id: str
    text: str
    images: tuple[ImageAnchor, ...] = ()
    title: str = ""
    start: int = 0
    source: Source | None = None
    sections: tuple[SectionSpan, ...] = ()

    def section_at(self, offset: int) -> str:
        """The title of the section holding character ``offset`` of the chunk text ("" when
        the chunk has no source)."""
        title = self.source.section if self.source is not None else ""
        for span in self.sections:
            if span.offset > offset:
                break
            title = span.title
        return title

    def source_at(self, offset: int) -> Source | None:
        """The chunk's source, naming the section that holds character ``offset``."""
        src = self.source
        if src is None or not self.sections:
            return src
        title = self.section_at(offset)
        return src if title == src.section else replace(src, section=title)


@dataclass(frozen=True)
class Candidate:
    """An image offered to the inserter, with what is known about where it came from.

    Attributes:
        image: The image itself.
        context_before: Source text just above the image ("" when unknown or withheld).
        context_after: Source text just below the image.
        score: Retrieval score of the chunk (or image) it came from; higher is better.
        doc_id: Source document, when known.
        chunk_id: Source chunk, when known.
        doc_position: Relative position of the image in its source document (0..1), when known.
    """

    image: ImageRef
    context_before: str = ""
    context_after: str = ""
    score: float = 0.0
    doc_id: str | None = None
    chunk_id: str | None = None
    doc_position: float | None = None

    @property
    def image_id(self) -> str:
        return self.image.image_id

    @property
    def context(self) -> str:
        """Text above and below the image, joined."""
        return " ".join(t for t in (self.context_before, self.context_after) if t)


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk with its fused score and the per-retriever scores behind it."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None


@dataclass(frozen=True)
class Retrieval:
    """What the retriever returns: ranked chunks and the deduplicated candidate images.

    ``notes`` says what the retriever decided on the way (e.g. that nothing relevant was found:
    then ``chunks`` and ``candidates`` are empty and generators say so instead of answering).
    ``continued`` holds the ids of returned chunks whose section goes on past them in their
    document, beyond what was returned (a procedure may run on there).
    """

    query: str
    chunks: tuple[RetrievedChunk, ...]
    candidates: tuple[Candidate, ...]
    notes: tuple[str, ...] = ()
    continued: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sentence:
    """One sentence of a textual answer and, where known, the chunk it came from and its source."""

    text: str
    source_chunk_id: str | None = None
    source: Source | None = None


@dataclass(frozen=True)
class Usage:
    """Token counts of one or more LLM calls."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )


@dataclass(frozen=True)
class Continuation:
    """Where a procedure goes on that the answer carries only in part (a how-to answer's steps
    stop after a whole step: the procedure is longer than the answer may be, or the context
    ends inside it).

    Attributes:
        first_step: Label of the first step the answer does not show ("4"), or, with no
            ``last_step``, of the step it shows only the start of (the source goes on past what
            was retrieved, inside that step); "" when unknown.
        last_step: Label of the procedure's last step known ("9"); "" (see ``first_step``).
        source: The section that holds the whole procedure.
        chunk_id: The chunk of its first line.
    """

    first_step: str = ""
    last_step: str = ""
    source: Source | None = None
    chunk_id: str | None = None

    def says(self, where: str) -> str:
        """The sentence that tells the reader where to go on, ``where`` naming the source:
        "Steps 4–9 continue in …", "Step 9 continues in …", "Step 2 and what follows it
        continue in …", "The procedure continues in …"."""
        first, last = self.first_step, self.last_step
        if first and last and first != last:
            return f"Steps {first}\u2013{last} continue in {where}."
        if first and last:
            return f"Step {first} continues in {where}."
        if first:
            return f"Step {first} and what follows it continue in {where}."
        return f"The procedure continues in {where}."


@dataclass(frozen=True)
class TextAnswer:
    """The text stage's output, already split into sentences.

    ``continued`` says where a procedure goes on that the answer holds only in part (None when
    the answer holds all it quotes of one, or quotes none).
    """

    question: str
    sentences: tuple[Sentence, ...]
    usage: Usage = field(default_factory=Usage)
    notes: tuple[str, ...] = ()
    continued: Continuation | None = None

    @property
    def text(self) -> str:
        """The sentences joined by spaces; a code block (its lines between fence lines, see
        ``m2io.text.FENCE``) stands on lines of its own."""
        out: list[str] = []
        for k, s in enumerate(self.sentences):
            code = s.text.startswith("```") or s.text.endswith("```")
            if k and (code or out[-1].endswith("```")):
                out.append("\n")
            elif k:
                out.append(" ")
            out.append(s.text)
        return "".join(out)


@dataclass(frozen=True)
class Slot:
    """One placed image: ``image_id`` goes after sentence ``after_sentence`` (0 = before all)."""

    image_id: str
    after_sentence: int


@dataclass(frozen=True)
class Placement:
    """The inserter's decision.

    Attributes:
        slots: Selected images in reading order (by sentence, then by decision order).
        format_ok: False when the backend's raw output did not follow the protocol.
        notes: Human-readable remarks (fallbacks, format errors) to surface in the result.
        raw: The backend's raw output, when it produced text.
        usage: Tokens spent deciding, for LLM backends.
    """

    slots: tuple[Slot, ...] = ()
    format_ok: bool = True
    notes: tuple[str, ...] = ()
    raw: str | None = None
    usage: Usage = field(default_factory=Usage)

    def as_dict(self) -> dict[str, int]:
        """``{image_id: after_sentence}``, the protocol's answer object."""
        return {s.image_id: s.after_sentence for s in self.slots}


@dataclass(frozen=True)
class TextSegment:
    """A run of answer text; ``sentence_index`` is the 1-based index of its sentence.

    ``source`` is the 1-based number of its entry in :attr:`MultimodalAnswer.sources` (None when
    the text has no known source).
    """

    text: str
    sentence_index: int
    source_chunk_id: str | None = None
    type: Literal["text"] = "text"
    source: int | None = None


@dataclass(frozen=True)
class ImageSegment:
    """An image placed in the answer, after sentence ``after_sentence`` (0 = before all)."""

    image_id: str
    after_sentence: int
    path: str | None = None
    url: str | None = None
    caption: str = ""
    type: Literal["image"] = "image"


Segment = TextSegment | ImageSegment


@dataclass(frozen=True)
class MultimodalAnswer:
    """The final interleaved answer, ready for an API client or a UI.

    ``segments`` alternate text and images in reading order. ``timings_ms`` holds each stage's
    wall time; ``notes`` carries every fallback or warning raised on the way. ``image_root`` is
    the folder every local image path must lie in (the index's corpus root): a renderer embeds
    no file outside it, and none at all when it is None. ``added_root`` is the index's folder of
    documents added after the build, the one other folder local images may lie in. ``inserter_raw`` is what a model-based
    inserter replied, verbatim (None for inserters that are not models), kept so a wrong
    placement or a fallback can be read back. ``continued`` says where a procedure the answer
    holds only in part goes on (:class:`Continuation`; its source is one of ``sources``).
    """

    question: str
    segments: tuple[Segment, ...]
    candidates: tuple[Candidate, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    notes: tuple[str, ...] = ()
    image_root: str | None = None
    inserter_raw: str | None = None
    sources: tuple[Source, ...] = ()
    added_root: str | None = None
    continued: Continuation | None = None

    @property
    def images(self) -> tuple[ImageSegment, ...]:
        return tuple(s for s in self.segments if isinstance(s, ImageSegment))

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if isinstance(s, TextSegment))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``question``, ``segments``, ``candidates``, ``timings_ms``, ...

        ``image_root``, ``inserter_raw``, ``sources`` (and ``source`` on text segments),
        ``added_root`` and ``continued`` were added after the first release; readers that do not
        know them ignore them.
        """
        return {
            "question": self.question,
            "segments": [asdict(s) for s in self.segments],
            "candidates": [
                {
                    "image_id": c.image_id,
                    "path": c.image.path,
                    "url": c.image.url,
                    "caption": c.image.caption,
                    "score": c.score,
                    "doc_id": c.doc_id,
                }
                for c in self.candidates
            ],
            "timings_ms": dict(self.timings_ms),
            "usage": asdict(self.usage),
            "notes": list(self.notes),
            "image_root": self.image_root,
            "inserter_raw": self.inserter_raw,
            "sources": [asdict(src) for src in self.sources],
            "added_root": self.added_root,
            "continued": asdict(self.continued) if self.continued is not None else None,
        }


@dataclass(frozen=True)
class Step:
    """One stage of a pipeline's walk (:meth:`m2io.pipeline.Pipeline.walk`), as soon as it ends.

    Attributes:
        stage: ``"retrieve"``, ``"generate"``, ``"insert"`` or ``"merge"``.
        value: What the stage made: a :class:`Retrieval`, a :class:`TextAnswer`, a
            :class:`Placement`, or (``merge``, the last) the finished :class:`MultimodalAnswer`
            with its ``timings_ms``.
        ms: The stage's wall time in milliseconds.
    """

    stage: str
    value: Any
    ms: float
