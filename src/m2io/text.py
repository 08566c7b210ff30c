"""Text utilities shared by every stage: sentence splitting and tokenising.

The same splitter cuts generated answers and gold answers, so sentence indices in placements,
rewards and metrics always refer to the same units.
"""

from __future__ import annotations

import re

PIC = "<PIC>"

_TERMINATOR = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREV = re.compile(r"\b(?:e\.g|i\.e|etc|vs|cf|Fig|fig|Dr|Mr|Mrs|Ms|No|approx)\.$")
_WORD = re.compile(r"[A-Za-z0-9]+")

# A line shorter than this that is followed by a capitalised line is taken as a unit of its own
# (a heading, a list item, a menu path), not as a wrapped line of a longer sentence.
_SHORT_LINE = 56


def _split_block(block: str) -> list[str]:
    """Split one block (no blank lines) into sentences."""
    lines = [ln.strip() for ln in block.split("\n") if ln.strip()]
    units: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        current = f"{current} {line}" if current else line
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        ends = line.endswith((".", "!", "?", ":", ";")) or len(line) < _SHORT_LINE
        if not nxt or (ends and (nxt[0].isupper() or nxt[0].isdigit() or not line[-1].isalnum())):
            units.append(current)
            current = ""
    if current:
        units.append(current)
    out: list[str] = []
    for unit in units:
        start = 0
        for m in _TERMINATOR.finditer(unit):
            piece = unit[start : m.start()].strip()
            if piece and not _ABBREV.search(piece):
                out.append(piece)
                start = m.end()
        tail = unit[start:].strip()
        if tail:
            out.append(tail)
    return out


def split_sentences(text: str) -> list[str]:
    """Split answer text into sentences.

    Handles prose and manual-style text (hard-wrapped lines, headings and list items with no final
    period). ``<PIC>`` markers are boundaries and are dropped; use :func:`split_with_images` to keep
    their positions.
    """
    return split_with_images(text)[0]


def split_with_images(text: str) -> tuple[list[str], list[int]]:
    """Split text holding ``<PIC>`` markers into sentences and image positions.

    Returns:
        ``(sentences, positions)`` where ``positions[k]`` is the number of sentences before the
        k-th ``<PIC>``, i.e. the protocol's ``after_sentence`` of that image.
    """
    sentences: list[str] = []
    positions: list[int] = []
    parts = text.split(PIC)
    for k, part in enumerate(parts):
        for block in re.split(r"\n\s*\n", part):
            sentences.extend(_split_block(block))
        if k < len(parts) - 1:
            positions.append(len(sentences))
    return sentences, positions


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens."""
    return [w.lower() for w in _WORD.findall(text)]
