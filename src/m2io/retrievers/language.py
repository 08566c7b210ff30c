"""Answer from the copies in the question's language, when a corpus holds several.

A manual shipped in English, French and Japanese is indexed three times over; without a
filter an English question can be answered from the French page that ranks first. When the
index's chunks carry two or more languages (:attr:`m2io.types.Source.language`), the ranking is
restricted to the chunks of the question's language (:func:`m2io.language.detect`) and to those
of unknown language. A question in a language the corpus lacks, or whose language cannot be
told, keeps the whole ranking; the former gets a note that says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from m2io.language import detect
from m2io.types import Chunk

NO_COPY = "no documents in the question's language"


class LanguageFilter:
    """The languages of an index's chunks, counted once; filters rankings by a question's."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self.chunks = chunks
        self.languages = Counter(c.source.language if c.source else "" for c in chunks)
        self.languages.pop("", None)

    def __call__(self, query: str, rows: list[int]) -> tuple[list[int], str]:
        """``rows`` kept in order when they fit the question's language, and a note ("" if
        none is due)."""
        if len(self.languages) < 2:
            return rows, ""
        wanted = detect(query)
        if not wanted:
            return rows, ""
        if wanted not in self.languages:
            have = ", ".join(sorted(self.languages))
            return rows, f"{NO_COPY} ({wanted}); searched the copies in {have}"
        kept = []
        for row in rows:
            source = self.chunks[row].source
            if source is None or source.language in ("", wanted):
                kept.append(row)
        return kept, ""
