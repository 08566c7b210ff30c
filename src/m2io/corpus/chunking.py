"""Cut documents into retrieval chunks without separating images from their text.

Chunks are runs of whole sentences (the shared splitter of :mod:`m2io.text`) of at most
``max_words`` words, cut at a paragraph break where one falls in the second half of the chunk. A
sentence longer than ``max_words`` is cut at word boundaries. Each chunk may start with the last
``overlap_sentences`` sentences of the previous one, for context; images are never duplicated: each
belongs to the one chunk whose own (non-overlap) part holds its offset, and an image right at a
boundary goes to the chunk *before* it, so a figure stays with the sentence that introduces it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from m2io.text import split_sentences
from m2io.types import Chunk, Document, ImageAnchor

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")
_WORD = re.compile(r"\S+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character spans of the sentences of :func:`m2io.text.split_sentences`.

    The splitter rejoins wrapped lines (and may drop a closing quote after a full stop), so each
    sentence is found again in ``text`` word by word, in order. A sentence that cannot be found
    is left out; its text then belongs to the span before it when chunking.
    """
    spans: list[tuple[int, int]] = []
    pos = 0
    for sentence in split_sentences(text):
        words = sentence.split()
        start = text.find(words[0], pos) if words else -1
        if start >= 0 and text.startswith(sentence, start):  # the usual case: found verbatim
            spans.append((start, start + len(sentence)))
            pos = start + len(sentence)
            continue
        end = start
        for word in words:
            at = text.find(word, end)
            if at < 0:
                start = -1
                break
            end = at + len(word)
        if start >= 0:
            spans.append((start, end))
            pos = end
    return spans


def _cap_words(text: str, spans: list[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    """Cut any span longer than ``max_words`` words into word windows."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if len(text[s:e].split()) <= max_words:
            out.append((s, e))
            continue
        words = [m.span() for m in _WORD.finditer(text, s, e)]
        for k in range(0, len(words), max_words):
            window = words[k : k + max_words]
            out.append((window[0][0], window[-1][1]))
    return out


def _cut(text: str, spans: list[tuple[int, int]], counts: list[int], first: int, i: int) -> int:
    """End for a chunk of sentences ``first..i-1``: the last paragraph break that keeps at least
    half of its words, else ``i``."""
    total = sum(counts[first:i])
    for b in range(i - 1, first, -1):
        if sum(counts[first:b]) * 2 < total:
            break
        if _PARAGRAPH_BREAK.search(text, spans[b - 1][1], spans[b][0]):
            return b
    return i


def _group(text: str, spans: list[tuple[int, int]], max_words: int) -> list[tuple[int, int]]:
    """Group sentence indices into chunks: ``(first, last + 1)`` pairs covering all spans."""
    counts = [len(text[s:e].split()) for s, e in spans]
    groups: list[tuple[int, int]] = []
    first = 0
    for i, count in enumerate(counts):
        while i > first and sum(counts[first:i]) + count > max_words:
            cut = _cut(text, spans, counts, first, i)
            groups.append((first, cut))
            first = cut
    if spans:
        groups.append((first, len(spans)))
    return groups


def chunk_document(
    doc: Document, *, max_words: int = 180, overlap_sentences: int = 1
) -> list[Chunk]:
    """Cut one document into chunks that keep each image with its surrounding text.

    Args:
        doc: The document.
        max_words: Upper bound on words per chunk, overlap excluded (a longer sentence is cut).
        overlap_sentences: Sentences of the previous chunk repeated at the start of the next.

    Returns:
        Chunks in order, ids ``f"{doc_id}#{n}"`` from 0; each chunk's text is ``doc.text[start:
        start + len(text)]`` and its image offsets are relative to that text. Every image of the
        document is in exactly one chunk. A document with images but no text gives one empty
        chunk holding them; one with neither gives no chunk.

    Raises:
        ValueError: ``max_words < 1`` or ``overlap_sentences < 0``.

    Example:
        >>> from m2io.types import Document
        >>> [c.text for c in chunk_document(Document("d", "One two. Three four."), max_words=2)]
        ['One two.', 'One two. Three four.']
    """
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be >= 0, got {overlap_sentences}")
    text = doc.text
    lead = len(text) - len(text.lstrip())  # the first chunk starts here, whatever the splitter saw
    spans = sentence_spans(text)
    if not spans and text.strip():
        spans = [(lead, len(text.rstrip()))]
    spans = _cap_words(text, spans, max_words)
    if not spans:
        if not doc.images:
            return []
        anchors = tuple(ImageAnchor(a.image, 0) for a in doc.images)
        return [Chunk(f"{doc.doc_id}#0", doc.doc_id, "", anchors, doc.title, 0)]
    groups = _group(text, spans, max_words)
    anchors = sorted(doc.images, key=lambda a: a.offset)
    chunks: list[Chunk] = []
    k = 0
    for n, (first, last) in enumerate(groups):
        start = spans[max(first - overlap_sentences, 0)][0] if n else lead
        end = spans[last][0] if last < len(spans) else len(text)
        chunk_text = text[start:end].rstrip()
        # An image belongs here if it lies before the next chunk's first own sentence.
        limit = spans[last][0] if last < len(spans) else len(text)
        mine: list[ImageAnchor] = []
        while k < len(anchors) and (anchors[k].offset <= limit or n == len(groups) - 1):
            offset = min(max(anchors[k].offset - start, 0), len(chunk_text))
            mine.append(ImageAnchor(anchors[k].image, offset))
            k += 1
        chunks.append(
            Chunk(f"{doc.doc_id}#{n}", doc.doc_id, chunk_text, tuple(mine), doc.title, start)
        )
    return chunks


def chunk_corpus(
    docs: Iterable[Document], *, max_words: int = 180, overlap_sentences: int = 1
) -> list[Chunk]:
    """Chunk every document (a :class:`~m2io.corpus.Corpus`'s ``documents``, say), in order."""
    return [
        chunk
        for doc in docs
        for chunk in chunk_document(doc, max_words=max_words, overlap_sentences=overlap_sentences)
    ]


def image_context(doc: Document, anchor_index: int, *, chars: int = 300) -> tuple[str, str]:
    """The text just above and just below the ``anchor_index``-th image of ``doc``.

    Each side is at most ``chars`` characters, cut at a word boundary, with whitespace collapsed.

    Raises:
        IndexError: No such image.
    """
    offset = doc.images[anchor_index].offset
    text = doc.text
    lo = max(offset - chars, 0)
    before = text[lo:offset].split()
    if before and lo > 0 and not text[lo - 1].isspace() and not text[lo].isspace():
        before = before[1:]  # a word cut in half
    hi = min(offset + chars, len(text))
    after = text[offset:hi].split()
    if after and hi < len(text) and not text[hi].isspace() and not text[hi - 1].isspace():
        after = after[:-1]
    return " ".join(before), " ".join(after)
