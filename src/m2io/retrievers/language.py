"""Answer from the copies in the question's language, when a corpus holds several.

A manual shipped in English, French and Japanese is indexed three times over; without a
filter an English question can be answered from the French page that ranks first. When the
index's chunks carry two or more languages (:attr:`m2io.types.Source.language`), the ranking is
restricted to the chunks of the question's language (:func:`m2io.language.detect`) and to those
of unknown language. A question in a language the corpus lacks, or whose language cannot be
told, keeps the whole ranking; the former gets a note that says so.

Two guards keep a one-language manual whole. A language counts as one of the corpus's only when
it holds at least ``MIN_SHARE`` of the chunks of its largest language: a few short pages guessed
as another language (five of Dr. Geo's 71 English chunks were guessed Portuguese) are not a copy
of the manual. And a question's guess must survive dropping its one-letter words: "How do I
rotate a figure around a point?" counts "a", "a", "do" as Portuguese, "how", "do" as English.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from m2io.language import detect
from m2io.types import Chunk

NO_COPY = "no documents in the question's language"
MIN_SHARE = 0.25
"""A language counts when it holds at least this share of the chunks of the largest one."""


class LanguageFilter:
    """The languages of an index's chunks, counted once; filters rankings by a question's."""

    def __init__(self, chunks: Sequence[Chunk], counts: Mapping[str, int] | None = None) -> None:
        """``counts``: chunks per language, when already known (an index counts them at open),
        else counted here."""
        self.chunks = chunks
        self.languages = Counter(
            counts
            if counts is not None
            else (c.source.language if c.source else "" for c in chunks)
        )
        self.languages.pop("", None)
        largest = max(self.languages.values(), default=0)
        self.minor = {lang for lang, n in self.languages.items() if n < MIN_SHARE * largest}
        for lang in self.minor:
            del self.languages[lang]

    def __call__(self, query: str, rows: list[int]) -> tuple[list[int], str]:
        """``rows`` kept in order when they fit the question's language, and a note ("" if
        none is due)."""
        if len(self.languages) < 2:
            return rows, ""
        wanted = detect(query)
        if wanted and detect(" ".join(w for w in query.split() if len(w) > 1)) != wanted:
            wanted = ""  # the guess rested on one-letter words
        if not wanted:
            return rows, ""
        if wanted not in self.languages:
            have = ", ".join(sorted(self.languages))
            return rows, f"{NO_COPY} ({wanted}); searched the copies in {have}"
        kept = []
        for row in rows:
            source = self.chunks[row].source
            if source is None or source.language in ("", wanted) or source.language in self.minor:
                kept.append(row)
        return kept, ""
