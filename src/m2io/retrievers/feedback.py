"""Pseudo-relevance feedback: a second search that reads what the first one found.

The first pass's best sections name the question's topic in the manual's own words. The words
that weigh most in their best chunks (each word's share of its chunk × its rarity in the corpus,
the question's own left out) are added to the BM25 query with a small weight (RM3-style, after
Lavrenko and Croft's relevance models), so "turn off a warning" also searches "disable", which the
page "Enabling and Disabling Warnings" uses and the question does not. The dense side's
counterpart (Rocchio: the question's vector moved toward its top sections' mean) was measured
and not kept (docs/RESULTS.md, issue 21, "night, second round").

Example:
    >>> terms = expansion_terms(["stash the changes away", "git stash saves changes"],
    ...     query={"chang"}, df={"stash": 2, "away": 9, "save": 9, "git": 9}.get, n_docs=10,
    ...     n_terms=1)
    >>> list(terms)
    ['stash']
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable

from m2io.index.lexical import analyse


def expansion_terms(
    texts: Iterable[str],
    *,
    query: set[str],
    df: Callable[[str], int | None],
    n_docs: int,
    n_terms: int,
) -> dict[str, float]:
    """The ``n_terms`` analysed words weighing most in ``texts`` (each text's share of its words
    × inverse document frequency; ``df`` gives a word's chunk count, ``n_docs`` the chunks), the
    question's own (``query``) left out; weights sum to 1."""
    weights: Counter[str] = Counter()
    for text in texts:
        toks = [t for t in analyse(text) if len(t) >= 3 and not t.isdigit()]
        for stem, count in Counter(toks).items():
            weights[stem] += count / len(toks)
    scored = {
        stem: w * math.log((n_docs + 1) / ((df(stem) or 0) + 1))
        for stem, w in weights.items()
        if stem not in query
    }
    top = sorted(scored, key=lambda s: (-scored[s], s))[:n_terms]
    total = sum(scored[s] for s in top)
    return {s: scored[s] / total for s in top if total > 0}
