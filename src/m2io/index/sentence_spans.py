"""Sentence vectors from the chunks' own forward passes (issue 24, item 2).

Embedding every sentence of every chunk on its own costs about as many tokens as the chunks hold,
in short sequences: about 3× a build's time (docs/RESULTS.md). The model already computes a
contextual vector for every token of a chunk when it embeds the chunk, so a sentence's vector is
taken from that pass instead: the mean of the token vectors inside the sentence's characters
(:meth:`m2io.embed.base.CachedTextEmbedder.encode_spans`). The chunk pass sees the first 128
tokens; the sentences past them are read from further passes over the rest of the chunk, each
starting at the first sentence not yet read, so every token is run about once. A sentence that
cannot be found in its chunk's text (the split rejoined or cut it) or that alone overflows the
window is embedded on its own, as before.

The vectors differ from a standalone sentence's (each token has seen its neighbours), so the
placements they give are measured, not assumed (docs/RESULTS.md, "issue 24, item 2, 2026-12-08").
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

Spans = list[list[tuple[int, int]]]
Pass = Callable[[list[str], Spans], list[list[np.ndarray | None]]]
"""Runs the model over texts and pools the given character spans of each (None: not pooled)."""


def locate(text: str, sentences: list[str]) -> list[tuple[int, int] | None]:
    """Each sentence's character span in ``text`` (searched in order, whitespace may differ),
    None where it is not there as is."""
    out: list[tuple[int, int] | None] = []
    at = 0
    for s in sentences:
        found = _find(text, s.strip(), at)
        if found is None and at:
            found = _find(text, s.strip(), 0)
        out.append(found)
        if found is not None:
            at = found[1]
    return out


def _find(text: str, sentence: str, at: int) -> tuple[int, int] | None:
    if not sentence:
        return None
    i = text.find(sentence, at)
    if i >= 0:
        return i, i + len(sentence)
    words = sentence.split()
    m = re.compile(r"\s+".join(re.escape(w) for w in words)).search(text, at)
    return (m.start(), m.end()) if m else None


def pooled_sentences(
    texts: list[str],
    sentences_of: list[list[str]],
    run: Pass,
    first: list[list[np.ndarray | None]] | None = None,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """The vectors of the sentences of each text, pooled from passes over the text (``run``),
    and the sentences left to embed on their own.

    Args:
        texts: What each chunk's vector was embedded from.
        sentences_of: The sentences to read from each text (each is looked for in its text).
        run: One batched pass (see :data:`Pass`).
        first: The pooled spans of the chunk pass itself, when it was run with the spans of
            :func:`sentence_spans` (then the texts are not run again from their start).
    """
    found: dict[str, np.ndarray] = {}
    alone: dict[str, None] = {}
    pending: list[tuple[int, list[tuple[str, int, int]]]] = []
    for i, (text, sents) in enumerate(zip(texts, sentences_of, strict=True)):
        spans = locate(text, sents)
        alone.update(dict.fromkeys(s for s, sp in zip(sents, spans, strict=True) if sp is None))
        items = [(s, *sp) for s, sp in zip(sents, spans, strict=True) if sp is not None]
        if items:
            pending.append((i, items))
    offsets = {i: 0 for i, _ in pending}  # where each chunk's next pass starts
    results = first
    while pending:
        if results is None:
            segments = [texts[i][offsets[i] :] for i, _ in pending]
            spans = [[(a - offsets[i], b - offsets[i]) for _, a, b in it] for i, it in pending]
            results = run(segments, spans)
        else:  # the chunk pass: one result per text, in text order
            results = [results[i] for i, _ in pending]
        left: list[tuple[int, list[tuple[str, int, int]]]] = []
        for (i, items), vecs in zip(pending, results, strict=True):
            rest = []
            for (s, a, b), v in zip(items, vecs, strict=True):
                if v is not None:
                    found.setdefault(s, v)
                elif s not in found:
                    rest.append((s, a, b))
            # a sentence that starts the pass (or began before it) and still overflows it: alone
            alone.update(dict.fromkeys(s for s, a, _ in rest if a <= offsets[i]))
            rest = sorted((r for r in rest if r[1] > offsets[i]), key=lambda r: r[1])
            if rest:
                offsets[i] = rest[0][1]
                left.append((i, rest))
        pending, results = left, None
    return found, [s for s in alone if s not in found]


def sentence_spans(texts: list[str], sentences_of: list[list[str]]) -> Spans:
    """The spans the chunk pass pools (those of :func:`locate` that were found)."""
    return [
        [sp for sp in locate(t, s) if sp is not None]
        for t, s in zip(texts, sentences_of, strict=True)
    ]
