"""Prompt builders shared by the LLM-backed text stages (OpenAI generator, Single-Shot).

The model gets the assembled context as excerpts numbered ``[1]..[n]`` by chunk and is told to
cite them: ``[n]`` after a sentence. :func:`cited` reads the markers back: the sentence loses them
and gains the chunk's :class:`~m2io.types.Source` (the merger numbers the answer's sources, so
the segments carry them); a marker naming no excerpt is dropped, never shown, and an uncited
sentence is credited to the excerpt it shares most words with. :func:`has_answer` tells a reply
that says nothing ("The answer is:") from an answer: the generators fall back on it and say so.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Callable
from typing import Any

from m2io.generators.extractive import ExtractiveGenerator, terms
from m2io.generators.streaming import CITE_MARKER, CitationFilter
from m2io.llm.base import ChatModel, LLMError
from m2io.llm.notes import FELL_BACK, TRUNCATED
from m2io.llm.window import excerpt_chars
from m2io.text import split_sentences
from m2io.types import Candidate, Chunk, Retrieval, Sentence, Source, TextAnswer, Usage

CITE = (
    "After each sentence, cite the excerpt(s) it comes from by number, like [2] or [1][3]. "
    "Keep numbered steps as a numbered list, and copy commands, settings and code exactly."
)
SYSTEM = (
    "You answer questions using only the provided document excerpts, numbered [1], [2], .... "
    "Be concise and factual; write plain prose without headings. If the excerpts do not contain "
    "the answer, say so. " + CITE
)

log = logging.getLogger(__name__)

_DASH = " \u2014 "
# "[2]", "[1][3]", "[1, 3]", "[1-2]", "[^2]", "[Excerpt 2]", "[source 1, 3]": the excerpt
# numbers a sentence cites.
_CITES = re.compile(rf"\s*((?:{CITE_MARKER})+)", re.IGNORECASE)
# A citation written after the sentence's full stop ("Open it. [2]") belongs to that sentence.
_CITE_AFTER_STOP = re.compile(rf"([.!?])((?:\s*{CITE_MARKER})+)", re.IGNORECASE)
# Words that introduce an answer without being one ("Sure! The answer is:").
_PREAMBLE = re.compile(
    r"^\W*(?:(?:sure|okay|ok|certainly|of course)\b\W*)?(?:(?:here(?:'s| is)\s+)?(?:the|my)\s+)?"
    r"(?:answer|response|reply)(?:\s+(?:is|would be))?\W*$",
    re.IGNORECASE,
)
# Fewest words shared with an excerpt for an uncited sentence to be credited to it.
_MIN_SHARED = 2


_CODE_BLOCK = re.compile(r"(?m)^```\n.*?\n```$", re.S)


def excerpt_text(text: str) -> str:
    """A chunk's text for a prompt: prose on one line, each code block (``m2io.text.FENCE``)
    on lines of its own as the document wrote it, so the model sees and can quote the code."""
    out: list[str] = []
    pos = 0
    for m in _CODE_BLOCK.finditer(text):
        out += [" ".join(text[pos : m.start()].split()), f"\n{m.group(0)}\n"]
        pos = m.end()
    out.append(" ".join(text[pos:].split()))
    return "".join(out).strip()


def context_block(retrieval: Retrieval, max_chars: int = 6000) -> str:
    """Numbered excerpts ``[1] (Title — Section) text``, highest ranked first, cut to
    ``max_chars`` in total (headers and separators counted): what does not fit is the lowest
    ranked text."""
    parts: list[str] = []
    used = 0
    for i, rc in enumerate(retrieval.chunks, 1):
        head = f"[{i}]{_label(rc.chunk.title, rc.chunk.source)} "
        room = max_chars - used - len(head)
        if room <= 0:
            break
        text = excerpt_text(rc.chunk.text)[:room]
        used += len(head) + len(text) + 2
        parts.append(head + text)
    return "\n\n".join(parts)


def _label(title: str, source: Source | None) -> str:
    """`` (Title — Section)`` for an excerpt's header ("" when neither is known)."""
    title = title or (source.title if source else "")
    section = source.section if source else ""
    parts = list(dict.fromkeys(t for t in (title, section) if t))
    return f" ({_DASH.join(parts)})" if parts else ""


def candidate_block(candidates: tuple[Candidate, ...], *, with_context: bool = True) -> str:
    """``<img1> caption: ... | context: ...`` lines for the image candidates."""
    lines = []
    for i, c in enumerate(candidates, 1):
        line = f"<img{i}> caption: {c.image.caption or '(none)'}"
        if with_context and c.context:
            line += f" | context: {' '.join(c.context.split())[:300]}"
        lines.append(line)
    return "\n".join(lines)


def attribute(sentence: str, retrieval: Retrieval, min_shared: int = 1) -> str | None:
    """The retrieved chunk sharing most content words with ``sentence`` (at least
    ``min_shared`` of them; None if none shares that many)."""
    words = set(terms(sentence))
    best, best_overlap = None, min_shared - 1
    for rc in retrieval.chunks:
        overlap = len(words & set(terms(rc.chunk.text)))
        if overlap > best_overlap:
            best, best_overlap = rc.chunk.chunk_id, overlap
    return best


def cites_before_stop(text: str) -> str:
    """``"Open it. [2]"`` → ``"Open it [2]."``: a citation after a full stop goes with the
    sentence it ends, not the next one, when the text is split."""
    return _CITE_AFTER_STOP.sub(r"\2\1", text)


def split_cited(text: str) -> list[str]:
    """Split a reply into sentences, each keeping the ``[n]`` markers written right after it."""
    return split_sentences(cites_before_stop(text))


def cited(sentence: str, retrieval: Retrieval) -> Sentence:
    """``sentence`` without its ``[n]`` markers, with the first cited excerpt's chunk id and
    source.

    A marker never shows: one naming no excerpt (``[7]`` of 3) is dropped (logged). A sentence
    with no valid marker is credited to the excerpt sharing most words with it
    (:func:`attribute`), its source only when they share at least two. A bracketed number glued
    to a word (``a[1]``) or inside a code span is text, not a citation."""
    n_chunks = len(retrieval.chunks)
    numbers: list[int] = []

    def strip(m: re.Match[str]) -> str:
        if sentence.count("`", 0, m.start()) % 2:
            return m.group(0)  # in a code span
        if m.start() > 0 and m.group(0)[:1] == "[" and sentence[m.start() - 1].isalnum():
            return m.group(0)  # glued to a word: an index, not a citation
        found = [int(n) for n in re.findall(r"\d+", m.group(1))]
        valid = [n for n in found if 1 <= n <= n_chunks]
        if len(valid) < len(found):
            log.info("dropped citation %s: %d excerpts were given", m.group(1), n_chunks)
        numbers.extend(valid)
        return ""

    clean = _CITES.sub(strip, sentence).strip()
    clean = re.sub(r"\s+([.!?,;:])", r"\1", clean) if clean != sentence.strip() else clean
    if not numbers:
        best = attribute(clean, retrieval, _MIN_SHARED)
        if best is not None:
            chunk = next(rc.chunk for rc in retrieval.chunks if rc.chunk.chunk_id == best)
            return Sentence(clean, best, section_source(chunk, clean))
        return Sentence(clean, attribute(clean, retrieval))
    chunk = retrieval.chunks[numbers[0] - 1].chunk
    return Sentence(clean, chunk.chunk_id, section_source(chunk, clean))


def section_source(chunk: Chunk, sentence: str) -> Source | None:
    """The chunk's source naming the section of the chunk (:attr:`~m2io.types.Chunk.sections`)
    that shares most content words with ``sentence``; the first one on a tie or none."""
    if not chunk.sections:
        return chunk.source
    words = set(terms(sentence))
    cuts = [0, *(s.offset for s in chunk.sections), len(chunk.text)]
    best, best_overlap = 0, 0
    for a, b in itertools.pairwise(cuts):
        overlap = len(words & set(terms(chunk.text[a:b])))
        if overlap > best_overlap:
            best, best_overlap = a, overlap
    return chunk.source_at(best)


def has_answer(sentences: list[str]) -> bool:
    """Whether a reply says anything: not empty, not only a preamble ("The answer is:") and not
    one lead-in that promises what never came ("To crop an image, follow these steps:")."""
    texts = [t for t in (_CITES.sub("", s).strip() for s in sentences) if t]
    if not texts or _PREAMBLE.match(" ".join(texts)):
        return False
    return not (len(texts) == 1 and texts[0].endswith(":"))


def fitted_chars(client: ChatModel, fixed: str, reply_tokens: int, limit: int) -> int:
    """Characters of excerpts that fit ``client``'s context beside the ``fixed`` prompt text and
    the reply (``limit`` when the client does not know its context size); the excerpts are then
    cut lowest ranked first (:func:`context_block`)."""
    window_of = getattr(client, "context_window", None)
    window = window_of() if callable(window_of) else None
    room = excerpt_chars(window, fixed=fixed, reply_tokens=reply_tokens, limit=limit)
    if room < limit:
        log.info("prompt fitted to a %s-token context: %d characters of excerpts", window, room)
    return room


def _extractive_fallback(
    question: str, retrieval: Retrieval, label: str, why: str, usage: Usage | None = None
) -> TextAnswer:
    """The extractive answer, with a note saying why; ``usage``: tokens the failed call spent."""
    fallback = ExtractiveGenerator().generate(question, retrieval)
    note = f"{label} generator failed ({why}); {FELL_BACK} to the extractive answer"
    return TextAnswer(
        question, fallback.sentences, usage=usage or Usage(), notes=(*fallback.notes, note)
    )


class ChatGenerator:
    """What the chat-backed generators share: a :class:`~m2io.llm.base.ChatModel` and one call.

    A subclass sets ``_label`` (the name its notes carry), builds ``self._chat`` and sets
    ``temperature``, ``max_tokens`` and, where it takes it, ``max_context_chars``.
    """

    _label = "chat"
    _chat: ChatModel
    temperature: float
    max_tokens: int
    max_context_chars: int = 6000

    @property
    def client(self) -> ChatModel:
        """The chat model answers come from (the one passed in, or the one built here)."""
        return self._chat

    def generate(self, question: str, retrieval: Retrieval) -> TextAnswer:
        """One chat call over the excerpts, split into attributed sentences (see
        :meth:`generate_streaming`, which also hands the text on as it comes)."""
        return self.generate_streaming(question, retrieval, None)

    def generate_streaming(
        self, question: str, retrieval: Retrieval, on_text: Callable[[str], None] | None
    ) -> TextAnswer:
        """One chat call over the excerpts, split into attributed sentences; ``on_text`` gets the
        reply's text as the model writes it, citation markers taken out
        (:class:`~m2io.generators.streaming.CitationFilter`), when the client streams (an
        endpoint does; a local model answers at once and ``on_text`` is not called).

        The client is any :class:`~m2io.llm.base.ChatModel` (an endpoint, a local model). If
        the call fails or the reply is empty, the extractive answer is returned with a note
        ``"<label> generator failed (…); fell back to the extractive answer"``, so the answer
        text is never lost. A reply cut at ``max_tokens`` is kept with a note saying so (see
        :mod:`m2io.llm.notes` for the phrases the evaluation counts).
        """
        ask = f"\n\nQuestion: {question}\nAnswer:"
        room = fitted_chars(self.client, SYSTEM + ask, self.max_tokens, self.max_context_chars)
        excerpts = context_block(retrieval, max_chars=room)
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Excerpts:\n{excerpts}{ask}"},
        ]
        kw: dict[str, Any] = {"temperature": self.temperature, "max_tokens": self.max_tokens}
        cites = None
        if on_text is not None and getattr(self.client, "streams", False):
            cites = CitationFilter(on_text)
            kw["on_text"] = cites.feed
        try:
            result = self.client.chat(messages, **kw)
            if cites is not None:
                cites.flush()
        except LLMError as err:  # the detail (URL, the server's text) is for the log only
            log.warning("%s generator: %s", self._label, err)
            return _extractive_fallback(question, retrieval, self._label, err.public)
        text = result.text.strip()
        pieces = split_cited(text)
        if not has_answer(pieces):
            log.warning("%s generator: a reply with no answer: %r", self._label, text[:200])
            why = (
                f"it returned no answer (only {text[:40]!r})"
                if text
                else "it returned an empty answer"
            )
            return _extractive_fallback(question, retrieval, self._label, why, result.usage)
        notes = [f"{self._label} generator: {n}" for n in result.notes]
        if result.truncated:
            notes.append(f"{self._label} generator: answer {TRUNCATED} ({self.max_tokens})")
        sentences = tuple(c for s in pieces if (c := cited(s, retrieval)).text)
        return TextAnswer(question, sentences, usage=result.usage, notes=tuple(notes))
