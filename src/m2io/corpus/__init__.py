"""Corpus loading and chunking: documents whose text has images at known positions.

Two source formats:

- ``"mramg"``: the MRAMG-Bench layout (``doc_<subset>.jsonl``, ``IMAGE/...``), read by
  :func:`load_mramg` and written by :func:`write_mramg`; questions by :func:`load_questions`.
- ``"folder"``: a folder of Markdown, HTML and text files with the images they reference, read by
  :func:`load_folder`.

:func:`load_corpus` picks one. Chunking (:func:`chunk_document`, :func:`chunk_corpus`) keeps each
image with the text around it; :func:`image_context` gives the text just above and below an image.

Example::

    from m2io.corpus import chunk_corpus, load_corpus

    corpus = load_corpus("../shared/bench/gimp")
    chunks = chunk_corpus(corpus.documents)
"""

from __future__ import annotations

from m2io.corpus.chunking import chunk_corpus, chunk_document, image_context, sentence_spans
from m2io.corpus.folder import load_folder
from m2io.corpus.load import FORMATS, load_corpus
from m2io.corpus.mramg import (
    DROP_REASONS,
    Dropped,
    QAItem,
    find_subsets,
    load_mramg,
    load_questions,
)
from m2io.corpus.mramg_write import write_mramg
from m2io.corpus.report import Corpus, CorpusError

__all__ = [
    "DROP_REASONS",
    "FORMATS",
    "Corpus",
    "CorpusError",
    "Dropped",
    "QAItem",
    "chunk_corpus",
    "chunk_document",
    "find_subsets",
    "image_context",
    "load_corpus",
    "load_folder",
    "load_mramg",
    "load_questions",
    "sentence_spans",
    "write_mramg",
]
