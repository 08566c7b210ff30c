"""Near-duplicate documents: aggregate pages and repeated copies, found at index time.

A manual often ships a "whole manual in one page" next to its pages, or the same page twice.
Left in, such a page doubles the chunks and wins retrieval with text that is not where the answer
lives. Each document is reduced to a set of hashed word shingles (:data:`SHINGLE` words); an
inverted index from shingle to documents counts, for every pair that shares shingles, how many
they share, in time linear in the corpus size (shingles found in more than :data:`MAX_POSTING`
documents are boilerplate and skipped).

* **Aggregate**: document A holds at least ``AGGREGATE_MIN`` other documents that each have at
  least ``CONTAINED`` of their shingles inside A (and A is larger than each).
* **Duplicate**: two documents whose shingle sets have a Jaccard similarity of at least
  ``DUPLICATE`` (the later one is flagged; the first is kept).

Flagged documents stay in the index; retrievers skip an aggregate by default, and a duplicate
once its original is among the results.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from m2io.types import Document

SHINGLE = 5
MIN_SHINGLES = 8
"""Documents with fewer shingles are too short to compare."""
MAX_POSTING = 50
CONTAINED = 0.8
AGGREGATE_MIN = 3
DUPLICATE = 0.9
_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE) -> set[int]:
    """Hashed ``size``-word shingles of ``text`` (lower-cased words); the hashes are only
    compared within one process, never stored."""
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return set()
    return {hash(tuple(words[k : k + size])) for k in range(len(words) - size + 1)}


@dataclass(frozen=True)
class Duplicates:
    """What :func:`find_duplicates` found.

    Attributes:
        flagged: ``{doc_id: {"kind": "aggregate" | "duplicate", "of": [doc ids], "reason":
            text}}``, as recorded in the index manifest. An aggregate lists the documents it
            repeats; a duplicate names the earlier document it copies.
    """

    flagged: dict[str, dict[str, Any]] = field(default_factory=dict)

    def summary(self) -> str:
        """One readable line naming every flagged document."""
        parts = [f"{doc_id}: {v['reason']}" for doc_id, v in sorted(self.flagged.items())]
        return (
            f"{len(self.flagged)} near-duplicate documents found ({'; '.join(parts)}); "
            "aggregates are kept out of retrieval, a duplicate is skipped once its original "
            "is retrieved"
        )


def _names(ids: list[str], shown: int = 5) -> str:
    head = ", ".join(ids[:shown])
    return head + (f", ... {len(ids) - shown} more" if len(ids) > shown else "")


def find_duplicates(documents: list[Document]) -> Duplicates:
    """Find aggregate pages and near-identical copies among ``documents``."""
    sets = [shingles(d.text) for d in documents]
    postings: dict[int, list[int]] = defaultdict(list)
    for i, s in enumerate(sets):
        if len(s) >= MIN_SHINGLES:
            for h in s:
                postings[h].append(i)
    size = [0] * len(sets)  # shingles that are not boilerplate
    shared: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for docs in postings.values():
        if len(docs) > MAX_POSTING:
            continue
        for a in docs:
            size[a] += 1
        if len(docs) < 2:
            continue
        for a in docs:
            row = shared[a]
            for b in docs:
                if a != b:
                    row[b] += 1
    flagged: dict[str, str] = {}
    for a, row in sorted(shared.items()):
        contained = [
            b
            for b, n in row.items()
            if size[b] >= MIN_SHINGLES and n >= CONTAINED * size[b] and size[a] > size[b] * 1.2
        ]
        if len(contained) >= AGGREGATE_MIN:
            names = [documents[b].doc_id for b in sorted(contained)]
            flagged[documents[a].doc_id] = {
                "kind": "aggregate",
                "of": names,
                "reason": f"repeats {len(names)} documents ({_names(names)})",
            }
    for a, row in sorted(shared.items()):
        if documents[a].doc_id in flagged:
            continue
        for b, n in sorted(row.items()):
            if b >= a or documents[b].doc_id in flagged:
                continue
            union = size[a] + size[b] - n
            if union and n / union >= DUPLICATE:
                orig = documents[b].doc_id
                flagged[documents[a].doc_id] = {
                    "kind": "duplicate",
                    "of": [orig],
                    "reason": f"near-copy of {orig}",
                }
                break
    return Duplicates(flagged)
