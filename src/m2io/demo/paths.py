"""Where the demo corpus lies inside the installed package."""

from __future__ import annotations

from pathlib import Path


def corpus_path() -> Path:
    """Folder holding the demo corpus (``*.md`` documents and their ``images/``)."""
    return Path(__file__).resolve().parent / "corpus"
