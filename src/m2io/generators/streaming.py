"""The model's text as it streams, without its citation markers.

A chat generator asks the model to cite excerpts as ``[n]``; the finished answer turns those
markers into sources (:func:`m2io.generators.prompts.cited`), but text handed on token by token
must lose them as it goes: :class:`CitationFilter` holds back a space and a ``[`` until it knows
whether a marker follows (at most :data:`HOLD_MAX` characters), drops the markers and passes
everything else on unchanged.

Example:
    >>> out = []
    >>> f = CitationFilter(out.append)
    >>> for piece in ["Open it [", "1]. Then", " crop [2][3] it."]:
    ...     f.feed(piece)
    >>> f.flush()
    >>> "".join(out)
    'Open it. Then crop it.'
"""

from __future__ import annotations

import re
from collections.abc import Callable

# One citation marker: "[2]", "[1, 3]", "[1-2]", "[^2]", "[Excerpt 2]", "[source 1, 3]".
CITE_MARKER = (
    r"\[\s*(?:\^|(?:excerpts?|sources?|doc(?:ument)?s?)\s*)?\d{1,3}"
    r"(?:\s*[,;\u2013-]\s*\d{1,3})*\s*\]"
)
_MARKER = re.compile(rf"\s*{CITE_MARKER}", re.IGNORECASE)
HOLD_MAX = 40
_CLOSES = frozenset(".,;:!?)")


class CitationFilter:
    """Passes streamed text on to ``emit`` without citation markers.

    A ``[`` glued to a word (``a[1]``) or inside a code span is text, as in the finished answer.
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._held = ""  # whitespace and/or an opened "[" not yet known to be a marker
        self._prev = ""  # the last character passed on
        self._code = False  # inside a `code span`
        self._space = ""  # the space before a dropped marker: written only if text follows

    def feed(self, text: str) -> None:
        out: list[str] = []
        for ch in text:
            self._char(ch, out)
        if out:
            piece = "".join(out)
            self._prev = piece[-1]
            self._emit(piece)

    def flush(self) -> None:
        """Pass on what is held (the stream ended)."""
        self._space = ""
        if self._held:
            held, self._held = self._held, ""
            self._emit(held)

    def _char(self, ch: str, out: list[str]) -> None:
        held = self._held
        if not held:
            space, self._space = self._space, ""
            if space and ch in _CLOSES:
                space = ""  # "crop [1]." → "crop."
            prev = (out[-1][-1:] if out else self._prev) if not space else " "
            if not self._code and (ch.isspace() or (ch == "[" and not prev.isalnum())):
                # whitespace replaces the space a marker left; a "[" keeps it for now
                self._held = (space if ch == "[" else "") + ch
                return
            if ch == "`":
                self._code = not self._code
            out.append(space + ch)
            return
        held += ch
        if "[" not in held:  # a run of whitespace
            if ch.isspace() or ch == "[":
                self._held = held
                return
            self._held = ""
            out.append(held)
            if ch == "`":
                self._code = not self._code
            return
        if ch == "]":
            self._held = ""
            if _MARKER.fullmatch(held):
                self._space = held[: len(held) - len(held.lstrip())][:1]
            else:
                out.append(held)
            return
        if ch == "\n" or len(held) > HOLD_MAX:
            self._held = ""
            out.append(held)
            return
        self._held = held
