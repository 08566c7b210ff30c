"""The words stages use in their notes when an LLM call did not go as asked, and how the
evaluation reads them back.

Stages keep their notes human-readable (``TextAnswer.notes``, ``Placement.notes``, merged into
``MultimodalAnswer.notes``); these fixed phrases make three events countable per stage:

- ``fell back``: the stage's model failed and another method wrote the result;
- ``truncated at max_tokens``: the model stopped at its length cap;
- ``timed out``: an idle timeout or the deadline ended a call.

A note belongs to the stage its first words name: ``… generator`` and ``single-shot`` →
``generate``; ``… inserter`` → ``insert``.

Example:
    >>> note_flags(["openai generator failed (… timed out …); fell back to the extractive answer"])
    {'fallback': ['generate'], 'timed_out': ['generate']}
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FELL_BACK = "fell back"
TRUNCATED = "truncated at max_tokens"
TIMED_OUT = "timed out"
FLAGS = {"fallback": FELL_BACK, "truncated": TRUNCATED, "timed_out": TIMED_OUT}

_STAGE = re.compile(r"^\s*(?:(?P<gen>[\w.-]+ generator|single-shot)|(?P<ins>[\w.-]+ inserter))\b")


def note_stage(note: str) -> str | None:
    """``"generate"``, ``"insert"`` or None for a note no LLM-backed stage wrote."""
    m = _STAGE.match(note)
    if m is None:
        return None
    return "generate" if m.group("gen") else "insert"


def note_flags(notes: Iterable[str]) -> dict[str, list[str]]:
    """``{flag: [stages]}`` for the flags (``fallback``, ``truncated``, ``timed_out``) present."""
    out: dict[str, list[str]] = {}
    for note in notes:
        stage = note_stage(note)
        if stage is None:
            continue
        for flag, phrase in FLAGS.items():
            if phrase in note and stage not in out.get(flag, []):
                out.setdefault(flag, []).append(stage)
    return out
