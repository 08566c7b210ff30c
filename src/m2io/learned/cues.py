"""Sentence cues shared by the features and the corpus profiles: how a sentence announces,
refers back to or labels a figure, and the local shape of the text (see docs/design.md, Training).

:func:`sentence_cues` is what both :mod:`m2io.learned.features` (per answer sentence) and
:mod:`m2io.learned.profile` (per document boundary) read, so a profile and the features that use
it agree on what a "forward reference" or a "heading" is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = [
    "BACK_REF",
    "CUE_WORDS",
    "FORWARD_REF",
    "LEGEND",
    "STEP",
    "UI_WORDS",
    "sentence_cues",
]

# Words that announce a figure in the sentence before it (manuals, tutorials, recipes).
CUE_WORDS = (
    "below",
    "following",
    "shown",
    "shows",
    "looks like",
    "look like",
    "here is",
    "here are",
    "as follows",
    "illustrat",
    "see ",
    "example",
    "figure",
    "screenshot",
)
# A figure announced ahead: the image comes after this sentence.
FORWARD_REF = re.compile(
    r"\b(?:below|following (?:figure|image|screenshot|picture|illustration|example|window|dialog)"
    r"|as follows|shown here|here is|here are|looks? like this)\b",
    re.IGNORECASE,
)
# A figure referred back to: the image came just before this sentence.
BACK_REF = re.compile(
    r"\b(?:above|previous (?:figure|image|screenshot)|(?:this|that|the) (?:figure|image|"
    r"screenshot|picture|illustration|dialog|window) (?:shows|displays|illustrates|is))\b",
    re.IGNORECASE,
)
# A numbered step ("3. Click …", "Step 2:", "(a) …").
STEP = re.compile(r"^\s*(?:\d{1,2}[.)]\s|step\s+\d+|\(?[a-h]\)\s)", re.IGNORECASE)
UI_WORDS = ("dialog", "window", "options", "menu", "tab", "panel", "box", "editor")
# A figure legend, which follows its figure: "Original image", "Left: before", "Filter applied".
LEGEND = re.compile(
    r"^(?:left|right|middle|top|bottom|original|before|after|result|example|figure|fig\.|image"
    r"|with|without|the (?:original|result|example|image))\b|\bapplied\b|\.{4,}|=",
    re.IGNORECASE,
)

_TERMINAL = (".", "!", "?", ":", ";", ",")
_SHORT = 45


def _contains_any(text: str, words: Sequence[str]) -> float:
    return float(any(w in text for w in words))


def sentence_cues(sentences: Sequence[str]) -> np.ndarray:
    """Per sentence: colon, cue word, UI word, short, heading-like, legend, forward reference,
    back reference, numbered step. Shape ``(n, 9)``."""
    out = np.zeros((len(sentences), 9), dtype=np.float32)
    for k, s in enumerate(sentences):
        low = s.lower()
        out[k] = (
            float(s.rstrip().endswith(":")),
            _contains_any(low, CUE_WORDS),
            _contains_any(low, UI_WORDS),
            float(len(s) < _SHORT),
            float(len(s) < 2 * _SHORT and not s.rstrip().endswith(_TERMINAL)),
            float(len(s) < 2 * _SHORT and bool(LEGEND.search(s.strip()))),
            float(bool(FORWARD_REF.search(s)) or s.rstrip().endswith(":")),
            float(bool(BACK_REF.search(s))),
            float(bool(STEP.match(s))),
        )
    return out
