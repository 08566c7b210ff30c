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

from pathlib import Path
from typing import Any

from m2io.corpus.chunking import chunk_corpus, chunk_document, image_context, sentence_spans
from m2io.corpus.folder import load_folder
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

FORMATS = ("auto", "mramg", "folder")


def load_corpus(path: str | Path, format: str = "auto", **kwargs: Any) -> Corpus:
    """Load a corpus in either supported format.

    Args:
        path: A folder; or a ``doc_<subset>.jsonl`` file, read as that MRAMG subset.
        format: ``"mramg"``, ``"folder"``, or ``"auto"``: MRAMG-Bench when the folder directly
            holds a ``doc_*.jsonl`` file (not in a subfolder), else a folder of Markdown/HTML/text.
        **kwargs: Passed to :func:`load_mramg` (``subset``, ``verify``, ``dropped``) or :func:`load_folder`
            (``verify``, ``min_image_side``, ``exclude``).

    Raises:
        ValueError: Unknown ``format``.
        CorpusError: The source cannot be read (see the loaders).
    """
    if format not in FORMATS:
        raise ValueError(f"unknown corpus format {format!r}; valid: {', '.join(FORMATS)}")
    p = Path(path)
    if p.is_file() and p.name.startswith("doc_") and p.suffix == ".jsonl":
        if format == "folder":
            raise CorpusError(f"{p}: a file; format='folder' needs a folder")
        kwargs.setdefault("subset", p.name[len("doc_") : -len(".jsonl")])
        return load_mramg(p.parent, **kwargs)
    if not p.is_dir():
        raise CorpusError(f"{p}: no such folder")
    if format == "mramg" or (format == "auto" and find_subsets(p)):
        return load_mramg(p, **kwargs)
    return load_folder(p, **kwargs)


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
