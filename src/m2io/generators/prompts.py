"""Prompt builders shared by the LLM-backed text stages (OpenAI generator, Single-Shot)."""

from __future__ import annotations

from typing import Any

from m2io.llm.notes import FELL_BACK, TRUNCATED
from m2io.text import split_sentences
from m2io.types import Candidate, Retrieval, Sentence, TextAnswer, Usage

SYSTEM = (
    "You answer questions using only the provided document excerpts. Be concise and factual; "
    "write plain prose without headings. If the excerpts do not contain the answer, say so."
)


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
        title = f" ({rc.chunk.title})" if rc.chunk.title else ""
        parts.append(f"[{i}]{title} {text}")
    return "\n\n".join(parts)


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
    from m2io.generators.extractive import terms

    words = set(terms(sentence))
    best, best_overlap = None, 0
    for rc in retrieval.chunks:
        overlap = len(words & set(terms(rc.chunk.text)))
        if overlap > best_overlap:
            best, best_overlap = rc.chunk.chunk_id, overlap
    return best


def chat_answer(
    client: Any,
    question: str,
    retrieval: Retrieval,
    *,
    label: str,
    temperature: float,
    max_tokens: int,
    max_context_chars: int = 6000,
) -> TextAnswer:
    """One chat call over the excerpts, split into attributed sentences.

    Any object with ``chat(messages, temperature=, max_tokens=)`` works (the OpenAI client, a local
    model). If the call fails or the reply is empty, the extractive answer is returned with a note
    ``"<label> generator failed (…); fell back to the extractive answer"``, so the answer text is
    never lost. A reply cut at ``max_tokens`` is kept with a note saying so (see
    :mod:`m2io.llm.notes` for the phrases the evaluation counts).
    """
    from m2io.llm.client import LLMError

    excerpts = context_block(retrieval, max_chars=max_context_chars)
    messages = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Excerpts:\n{excerpts}\n\nQuestion: {question}\nAnswer:"},
    ]
    try:
        result = client.chat(messages, temperature=temperature, max_tokens=max_tokens)
    except LLMError as err:
        return _extractive_fallback(question, retrieval, label, str(err))
    text = result.text.strip()
    if not text:
        why = "it returned an empty answer"
        return _extractive_fallback(question, retrieval, label, why, result.usage)
    notes = [f"{label} generator: {n}" for n in getattr(result, "notes", ())]
    if getattr(result, "finish_reason", None) == "length":
        notes.append(f"{label} generator: answer {TRUNCATED} ({max_tokens})")
    sentences = tuple(Sentence(s, attribute(s, retrieval)) for s in split_sentences(text))
    return TextAnswer(question, sentences, usage=result.usage, notes=tuple(notes))


def _extractive_fallback(
    question: str, retrieval: Retrieval, label: str, why: str, usage: Usage | None = None
) -> TextAnswer:
    """The extractive answer, with a note saying why; ``usage``: tokens the failed call spent."""
    from m2io.generators.extractive import ExtractiveGenerator

    fallback = ExtractiveGenerator().generate(question, retrieval)
    note = f"{label} generator failed ({why}); {FELL_BACK} to the extractive answer"
    return TextAnswer(
        question, fallback.sentences, usage=usage or Usage(), notes=(*fallback.notes, note)
    )
