"""Test-suite setup: offline, with every cache in a temporary folder.

The environment is set at import time, before any test module imports transformers or torch;
``pyproject.toml`` lists ``tests`` before ``src/m2io``, so the package's docstring examples run
under it too. Builders of answers, candidates, documents, stub stages and tiny indexes shared by the
test files are in ``builders.py``; tiny corpora on disk in ``fixtures_corpus.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_CACHE = Path(tempfile.mkdtemp(prefix="m2io-test-cache-"))
for _var, _sub in (
    ("HOME", "home"),
    ("XDG_CACHE_HOME", "cache"),
    ("HF_HOME", "hf"),
    ("TORCH_HOME", "torch"),
    ("MPLCONFIGDIR", "mpl"),
):
    os.environ[_var] = str(_CACHE / _sub)
    (_CACHE / _sub).mkdir(parents=True, exist_ok=True)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("OPENAI_BASE_URL", None)
os.environ.pop("OPENAI_API_KEY", None)

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = Path(os.environ.get("M2IO_DEV_DATA", REPO.parent / "shared" / "bench" / "gimp"))


@pytest.fixture(scope="session")
def embedder():
    """The real offline default text embedder, loaded once per session."""
    from m2io.embed.text import load_text_embedder

    return load_text_embedder()


@pytest.fixture(scope="session")
def dev_data() -> Path:
    if not (DEV_DATA / "doc_gimp.jsonl").exists():
        pytest.skip(f"dev set not found at {DEV_DATA}")
    return DEV_DATA
