"""One entry point for both corpus formats: :func:`load_corpus` picks the loader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from m2io.corpus.folder import load_folder
from m2io.corpus.mramg import find_subsets, load_mramg
from m2io.corpus.report import Corpus, CorpusError
from m2io.corpus.skips import NOT_INCLUDED

FORMATS = ("auto", "mramg", "folder")


def load_corpus(path: str | Path, format: str = "auto", **kwargs: Any) -> Corpus:
    """Load a corpus in either supported format.

    Args:
        path: A folder; a ``doc_<subset>.jsonl`` file, read as that MRAMG subset; or one PDF,
            EPUB or DOCX file (read as a folder corpus of that file alone).
        format: ``"mramg"``, ``"folder"``, or ``"auto"``: MRAMG-Bench when the folder directly
            holds a ``doc_*.jsonl`` file (not in a subfolder), else a folder of Markdown/HTML/text.
        **kwargs: Passed to :func:`load_mramg` (``subset``, ``verify``, ``dropped``) or :func:`load_folder`
            (``verify``, ``min_image_side``, ``include``, ``exclude``).

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
    if p.is_file() and p.suffix.lower() in (".pdf", ".epub", ".docx") and format != "mramg":
        # one PDF, EPUB or DOCX alone: the folder that holds it, reading only that file
        kwargs["include"] = (p.name,)
        kwargs.pop("exclude", None)
        corpus = load_folder(p.parent, **kwargs)
        corpus.skipped.pop(NOT_INCLUDED, None)  # the file's neighbours were never asked for
        return corpus
    if not p.is_dir():
        raise CorpusError(f"{p}: no such folder")
    if format == "mramg" or (format == "auto" and find_subsets(p)):
        return load_mramg(p, **kwargs)
    return load_folder(p, **kwargs)
