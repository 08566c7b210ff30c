"""Prompt builders shared by the LLM-backed text stages (OpenAI generator, Single-Shot).

The model gets the assembled context as excerpts numbered ``[1]..[n]`` by chunk and is told to
cite them: ``[n]`` after a sentence. :func:`cited` reads the markers back: the sentence loses them
and gains the chunk's :class:`~m2io.types.Source`; an uncited sentence gets no source.
"""

from __future__ import annotations

import logging
import re

from m2io.generators.extractive import ExtractiveGenerator, terms
from m2io.llm.base import ChatModel, LLMError
from m2io.llm.notes import FELL_BACK, TRUNCATED
from m2io.text import split_sentences
from m2io.types import Candidate, Retrieval, Sentence, Source, TextAnswer, Usage

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
# "[2]", "[1][3]", "[1, 3]", "[1-2]": the excerpt numbers a sentence cites.
_CITES = re.compile(r"\s*((?:\[\s*\d{1,3}(?:\s*[,;\u2013-]\s*\d{1,3})*\s*\])+)")
# A citation written after the sentence's full stop ("Open it. [2]") belongs to that sentence.
_CITE_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\s*\d{1,3}(?:\s*[,;\u2013-]\s*\d{1,3})*\s*\])+)")


def context_block(retrieval: Retrieval, max_chars: int = 6000) -> str:
    """Numbered excerpts ``[1] ...`` cut to ``max_chars`` in total."""
    parts: list[str] = []
    used = 0
    for i, rc in enumerate(retrieval.chunks, 1):
        text = " ".join(rc.chunk.text.split())
        room = max_chars - used
        if room <= 0:
            break
        text = text[:room]
        used += len(text)
        parts.append(f"[{i}]{_label(rc.chunk.title, rc.chunk.source)} {text}")
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


def attribute(sentence: str, retrieval: Retrieval) -> str | None:
    """The retrieved chunk sharing most content words with ``sentence`` (None if none share any)."""
    words = set(terms(sentence))
    best, best_overlap = None, 0
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
    source. An uncited sentence gets no source; its chunk id is the excerpt sharing most words
    with it (:func:`attribute`). A bracketed number that names no excerpt, or sits in a code
    span (``a[1]``), is text, not a citation."""
    n_chunks = len(retrieval.chunks)
    numbers: list[int] = []

    def strip(m: re.Match[str]) -> str:
        found = [int(n) for n in re.findall(r"\d+", m.group(1))]
        if sentence.count("`", 0, m.start()) % 2 or not all(1 <= n <= n_chunks for n in found):
            return m.group(0)
        numbers.extend(found)
        return ""

    clean = _CITES.sub(strip, sentence).strip() or sentence
    if not numbers:
        return Sentence(clean, attribute(clean, retrieval))
    chunk = retrieval.chunks[numbers[0] - 1].chunk
    return Sentence(clean, chunk.chunk_id, chunk.source)


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
        """One chat call over the excerpts, split into attributed sentences.

        The client is any :class:`~m2io.llm.base.ChatModel` (an endpoint, a local model). If
        the call fails or the reply is empty, the extractive answer is returned with a note
        ``"<label> generator failed (…); fell back to the extractive answer"``, so the answer
        text is never lost. A reply cut at ``max_tokens`` is kept with a note saying so (see
        :mod:`m2io.llm.notes` for the phrases the evaluation counts).
        """
        excerpts = context_block(retrieval, max_chars=self.max_context_chars)
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Excerpts:\n{excerpts}\n\nQuestion: {question}\nAnswer:"},
        ]
        try:
            result = self.client.chat(
                messages, temperature=self.temperature, max_tokens=self.max_tokens
            )
        except LLMError as err:  # the detail (URL, the server's text) is for the log only
            log.warning("%s generator: %s", self._label, err)
            return _extractive_fallback(question, retrieval, self._label, err.public)
        text = result.text.strip()
        if not text:
            why = "it returned an empty answer"
            return _extractive_fallback(question, retrieval, self._label, why, result.usage)
        notes = [f"{self._label} generator: {n}" for n in result.notes]
        if result.truncated:
            notes.append(f"{self._label} generator: answer {TRUNCATED} ({self.max_tokens})")
        sentences = tuple(cited(s, retrieval) for s in split_cited(text))
        return TextAnswer(question, sentences, usage=result.usage, notes=tuple(notes))
