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
    "figure_label",
    "figure_caption",
    "figure_refs",
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

# A numbered figure: "Figure 3", "Fig. 3.2", "figure 2-4" (the number is the group).
_FIGURE_NUMBER = r"\bfig(?:ure|\.)?\s*(\d{1,3}(?:[.-]\d{1,3})*)\b"
FIGURE_REF = re.compile(_FIGURE_NUMBER, re.IGNORECASE)
# A figure's own caption in the text beside it (a PDF's "... Mic Figure 5.1 (a) schematic"): a
# capitalised "Figure"/"Fig." that opens the text or a sentence, or follows a label (a capitalised
# word, a number) — not running text pointing at it ("as shown in Figure 5.1", "look at fig.1").
_CAPTION_NUMBER = re.compile(r"\b(?:Figure|FIGURE|Fig\.?)\s*(\d{1,3}(?:[.-]\d{1,3})*)\b")
_POINTING = re.compile(r"(?:(?:^|\s)[a-z][\w'’-]*\s*|\(\s*)$")
# How far into the text below an image its caption may start.
_CAPTION_REACH = 160

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


def _number(match: re.Match[str]) -> str:
    return match.group(1).replace("-", ".")


def figure_refs(text: str) -> frozenset[str]:
    """The figure numbers a sentence refers to ("as Figure 3.2 shows" → ``{"3.2"}``)."""
    return frozenset(_number(m) for m in FIGURE_REF.finditer(text))


def figure_label(caption: str, context_after: str = "") -> str | None:
    """The number of the figure an image is, from its caption ("Figure 3.2: The dialog"), or
    else from a caption printed just below it in its source (a PDF page's text right after the
    image); a sentence pointing at a figure ("see Figure 3") is not a caption. None when the
    image carries no number."""
    m = FIGURE_REF.search(caption)
    if m is not None:
        return _number(m)
    text = context_after[:_CAPTION_REACH]
    for m in _CAPTION_NUMBER.finditer(text):
        if not _POINTING.search(text[: m.start()]):
            return _number(m)
    return None


# A sentence that is a figure's caption ("Figure 5.1 (a) schematic", "Fig. 3: The dialog"), not
# one that talks about it ("Figure 5.1 shows …").
_CAPTION_SENTENCE = re.compile(
    r"^\W*fig(?:ure|\.)?\s*(\d{1,3}(?:[.-]\d{1,3})*)\s*(?:[:.(\u2013\u2014-]|$)", re.IGNORECASE
)


def figure_caption(sentence: str) -> str | None:
    """The figure number a sentence is the caption of (it opens with "Figure N" followed by
    ``:``, ``.``, ``(`` or a dash), else None."""
    m = _CAPTION_SENTENCE.match(sentence)
    return _number(m) if m is not None else None
