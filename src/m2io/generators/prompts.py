"""Prompt builders shared by the LLM-backed text stages (OpenAI generator, Single-Shot)."""

from __future__ import annotations

from m2io.types import Candidate, Retrieval

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
