"""Pages that list the corpus's figures ("List of Figures", a picture index) instead of showing them.

Such a page quotes the captions of figures that sit on other pages, one after another, so it
shares the words of almost any question with a figure behind it and crowds the pages it points
to out of the ranking (on the GnuCash guide, "About This Document / List of Figures" quotes 156 of
the 169 captions and was among the retrieved pages of a third of the questions whose page was
missed). It holds no figure and no answer. :func:`figure_lists` finds them from the index alone:
a document that quotes at least ``min_share`` of the captions of other documents' figures (and
at least ``min_count``). Ordinary pages that mention a few figures of other pages ("What's new",
a glossary) stay far below: on the GIMP manual the most is 8 of 1 066. The retriever leaves such
pages out like the aggregate pages the index reports (see docs/design.md, The index).

Example (the GnuCash manual has one such page)::

    sorted(figure_lists(Index.open("gnucash.index")))  # ['265']
"""

from __future__ import annotations

import re
from collections import defaultdict

from m2io.index.store import Index

MIN_SHARE = 0.25
"""Share of the other documents' distinct captions a page must quote to be a list of figures."""
MIN_COUNT = 10
"""And at least this many of them."""
MIN_WORDS = 3
"""Captions shorter than this ("Figure 1", a file name) say nothing about a page that quotes them."""
_LEAD = 3  # captions are looked up by their first words


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def figure_lists(
    index: Index, *, min_share: float = MIN_SHARE, min_count: int = MIN_COUNT
) -> set[str]:
    """The ids of documents that quote many captions of other documents' figures.

    Linear in the corpus's words: captions are indexed by their first words, each document's
    words are scanned once and a hit is confirmed on the words that follow.
    """
    owners: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for cand in index.candidates:
        words = tuple(_words(cand.image.caption))
        if len(words) >= MIN_WORDS and cand.doc_id is not None:
            owners[words].add(cand.doc_id)
    if not owners:
        return set()
    by_lead: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for caption in owners:
        by_lead[caption[:_LEAD]].append(caption)
    texts: dict[str, list[str]] = defaultdict(list)
    for chunk in index.chunks:  # chunks overlap a little; a caption found twice counts once
        texts[chunk.doc_id].append(chunk.text)
    found: set[str] = set()
    for doc_id, parts in texts.items():
        words = _words(" ".join(parts))
        others = sum(1 for docs in owners.values() if docs - {doc_id})
        need = max(min_count, min_share * others)
        if others < min_count or len(words) < need * MIN_WORDS:
            continue
        quoted: set[tuple[str, ...]] = set()
        for i in range(len(words) - _LEAD + 1):
            for caption in by_lead.get(tuple(words[i : i + _LEAD]), ()):
                if caption not in quoted and tuple(words[i : i + len(caption)]) == caption:
                    if owners[caption] - {doc_id}:
                        quoted.add(caption)
        if len(quoted) >= need:
            found.add(doc_id)
    return found
