"""The part of a question that says what it is about, for searching.

A question about a manual often wraps its topic in words about the manual itself: "What does the
GnuCash documentation say about "New" in Accounts Payable?", "Tell me about layer masks", "According
to the guide, how do I …". The wrapper names no topic, yet a sentence embedder gives it as much
weight as the topic: on the GIMP dev set the question's vector then sits closest to the pages
*about writing the documentation*, and the page the question is about drops out of the top hits
(see docs/design.md, The spine: Retriever). :func:`search_text` cuts such a wrapper off, so both
the dense and the lexical search see the topic alone. The patterns are about documentation in
general (no product names), so they hold for a manual never seen before; a question without a
wrapper is searched as it is.

Example:
    >>> search_text('What does the GnuCash documentation say about "New" in Accounts Payable?')
    '"New" in Accounts Payable'
    >>> search_text("How do I crop an image?")
    'How do I crop an image?'
"""

from __future__ import annotations

import re
from collections.abc import Callable

_DOCS = (
    r"(?:documentation|docs|manual|guide|handbook|help|tutorial|reference|book|wiki|"
    r"user\s+guide|user\s+manual|help\s+pages?)"
)
_SAYS = r"(?:say|says|tell\s+(?:me|us)|mention|state|explain|write|cover|describe)"
# The wrapper, at the start of the question: "what does the <name> documentation say about",
# "what is said in the manual about", "tell me about", "according to the guide,".
_WRAPPER = re.compile(
    r"^\s*(?:"
    rf"what\s+(?:does|do|did)\s+(?:the\s+|this\s+|your\s+)?(?:[\w.+#-]+\s+){{0,5}}?{_DOCS}\s+"
    rf"{_SAYS}\s+(?:about|on|regarding)\s+"
    rf"|what\s+(?:is|'s)\s+(?:said|written|explained)\s+(?:in\s+the\s+(?:[\w.+#-]+\s+){{0,5}}?"
    rf"{_DOCS}\s+)?(?:about|on|regarding)\s+"
    r"|(?:please\s+)?tell\s+(?:me|us)\s+(?:more\s+)?about\s+"
    rf"|according\s+to\s+the\s+(?:[\w.+#-]+\s+){{0,5}}?{_DOCS}\s*,?\s+"
    r")",
    re.IGNORECASE,
)


def search_text(question: str) -> str:
    """``question`` without a leading wrapper about the documentation (see the module
    docstring) and its final question mark; the question itself when nothing would be left."""
    focused = _WRAPPER.sub("", question, count=1).strip()
    if focused == question.strip():
        return question
    focused = focused.rstrip("?").strip()
    return focused if re.search(r"\w", focused) else question


def compound_variants(text: str, known: Callable[[str], bool]) -> str:
    """``text`` with the other spelling of its compounds appended, when the corpus uses it.

    A manual writes "key frames" where the question says "keyframes" (or the reverse), "Otsu's"
    where it says "Otsu"; a lexical search then misses the page. Two adjacent words whose
    concatenation is a word ``known`` to the corpus add the concatenation; a word the corpus does
    not know that splits into two known words (each of at least three letters) adds the pair.
    Possessive ``'s`` is dropped by the tokenizer already.

        >>> compound_variants("use key frames", {"keyframes"}.__contains__)
        'use key frames keyframes'
    """
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", text)]
    # the parts of a compound are content words: "the image" is not "theimage"
    extra: list[str] = []
    for a, b in zip(words, words[1:], strict=False):
        if _part(a) and _part(b) and known(a + b):
            extra.append(a + b)
    for w in words:
        if len(w) < 6 or known(w):
            continue
        for cut in range(3, len(w) - 2):
            if _part(w[:cut]) and _part(w[cut:]) and known(w[:cut]) and known(w[cut:]):
                extra.append(f"{w[:cut]} {w[cut:]}")
                break
    return f"{text} {' '.join(extra)}" if extra else text


# British spellings and their American forms, on a word's end (three letters before it at least)
_SPELLINGS = (
    (re.compile(r"(?<=[a-z]{3})our(s|ed|ing|ite|ites|able)?$"), r"or\1"),  # colour, neighbours
    (re.compile(r"(?<=[a-z]{3})is(e|ed|es|ing|ation|ations)$"), r"iz\1"),  # customise
    (re.compile(r"(?<=[a-z]{2})ys(e|ed|es|ing)$"), r"yz\1"),  # analyse
    (re.compile(r"(?<=[a-z]{3})tre(s)?$"), r"ter\1"),  # centre, metres
    (re.compile(r"(?<=[a-z]{3})ogue(s)?$"), r"og\1"),  # dialogue, catalogues
    (re.compile(r"(?<=[a-z]{3}[aeiou])ll(ed|ing|er|ers)$"), r"l\1"),  # labelled, cancelling
    (re.compile(r"^grey(s|ed|ing)?$"), r"gray\1"),
    (re.compile(r"^licen[cs]e(s|d)?$"), r"license\1"),
)


def spelling_variants(text: str, known: Callable[[str], bool]) -> str:
    """``text`` with the American spelling of its British words appended, when the corpus
    writes them that way and not the British way ("colour" finds a manual's "color",
    "neighbour" its "neighbor"). Most manuals are written in American English; a question is
    asked in the asker's.

        >>> spelling_variants("change the fill colour", {"color"}.__contains__)
        'change the fill colour color'
    """
    extra: list[str] = []
    for w in re.findall(r"[A-Za-z]+", text):
        w = w.lower()
        if len(w) < 4 or known(w):
            continue
        for pattern, american in _SPELLINGS:
            other = pattern.sub(american, w, count=1)
            if other != w:
                if known(other) and other not in extra:
                    extra.append(other)
                break
    return f"{text} {' '.join(extra)}" if extra else text


_FUNCTION = frozenset(
    "the and for with from into this that these those what which how does say says about "
    "are was were has have had its not but can you your our their then than there here".split()
)


def _part(word: str) -> bool:
    """Whether ``word`` can be one part of a compound: three letters or more, no function word."""
    return len(word) >= 3 and word not in _FUNCTION
