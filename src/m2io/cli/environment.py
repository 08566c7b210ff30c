"""The environment variables the command line reads, each turned into a typed value here.

The library reads none of them (``tests/test_layering.py`` scans for it): a command reads a
variable once, at the edge, and passes the value on as an argument (a recipe key, a flag's
default, a keyword); nothing here writes the environment. ``m2io serve`` is such a command, so
the server's edge is the same. Each function takes the mapping to read (``os.environ`` by
default), so a test can hand it a dict.

==========================  =====================================================================
``M2IO_INDEX``              index folder when no flag or recipe names one (:mod:`m2io.cli.common`)
``M2IO_EMBED_BACKEND``      ``onnx`` or ``torch``: the recipe's ``embed_backend`` and ``m2io
                            index``'s ``index.embed_backend`` when they name none
``M2IO_CACHE``              cache folder (converted smollm2-135m, embeddings of training runs);
                            else ``$XDG_CACHE_HOME/m2io``, else the library's ``~/.cache/m2io``
``OPENAI_BASE_URL``         endpoint of OpenAI-protocol models that name none (``llm.base_url``)
``M2IO_VECTOR_INDEX``,      ``m2io index``'s vector store when no flag names one
``M2IO_MILVUS_URI``
``M2IO_API_KEY``            ``m2io serve --api-key`` when not given
==========================  =====================================================================

The API key of an OpenAI-protocol endpoint is the one variable the library reads itself: the
recipe names the variable (``api_key_env``), so the secret never enters a recipe or a log
(docs/design.md, How options reach the library).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from m2io.config import VECTOR_INDEXES

INDEX_ENV = "M2IO_INDEX"
BACKEND_ENV = "M2IO_EMBED_BACKEND"
CACHE_ENV = "M2IO_CACHE"
BASE_URL_ENV = "OPENAI_BASE_URL"
SERVE_KEY_ENV = "M2IO_API_KEY"

EPILOG = (
    "environment: M2IO_INDEX (index folder when no flag or recipe names one), "
    "M2IO_EMBED_BACKEND (onnx or torch: embed_backend when the recipe names none), "
    "M2IO_CACHE (cache folder for converted models and embeddings; default "
    "$XDG_CACHE_HOME/m2io or ~/.cache/m2io), OPENAI_BASE_URL (llm.base_url of OpenAI-protocol "
    "models that name none); the API key is read from the variable api_key_env names"
)
"""What a command's ``--help`` says about the variables the command line reads."""

EPILOG_EXTRA = {
    "index": "M2IO_VECTOR_INDEX and M2IO_MILVUS_URI (vector store when no flag names one)",
    "serve": "M2IO_API_KEY (--api-key when not given)",
}


def epilog(command: str) -> str:
    """The ``--help`` epilog of ``command``: :data:`EPILOG` plus what that command alone reads."""
    extra = EPILOG_EXTRA.get(command)
    return f"{EPILOG}; {extra}" if extra else EPILOG


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def index_dir(env: Mapping[str, str] | None = None) -> str | None:
    """``$M2IO_INDEX``, or None when unset or empty."""
    return _env(env).get(INDEX_ENV) or None


def embed_backend(env: Mapping[str, str] | None = None) -> str | None:
    """``$M2IO_EMBED_BACKEND`` (``onnx`` or ``torch``), or None when unset or empty.

    Raises:
        ValueError: it names no backend (the message names the variable).
    """
    from m2io.embed.text import BACKENDS  # here: --help and `m2io report` need no numpy

    value = _env(env).get(BACKEND_ENV, "").strip().lower() or None
    if value is not None and value not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={value!r}: use one of {', '.join(BACKENDS)}")
    return value


def cache_dir(env: Mapping[str, str] | None = None) -> str | None:
    """``$M2IO_CACHE``, else ``$XDG_CACHE_HOME/m2io``, else None (the library's default)."""
    env = _env(env)
    if env.get(CACHE_ENV):
        return env[CACHE_ENV]
    if env.get("XDG_CACHE_HOME"):
        return str(Path(env["XDG_CACHE_HOME"]) / "m2io")
    return None


def vector_index(env: Mapping[str, str] | None = None) -> str | None:
    """``$M2IO_VECTOR_INDEX`` (``exact``, ``ivf``, ``hnsw`` or ``auto``), or None when unset.

    Raises:
        ValueError: it names no vector index (the message names the variable).
    """
    from m2io.index.ann import KIND_ENV

    value = _env(env).get(KIND_ENV, "").strip().lower() or None
    if value is not None and value not in VECTOR_INDEXES:
        raise ValueError(f"{KIND_ENV}={value!r}: use one of {', '.join(VECTOR_INDEXES)}")
    return value


def milvus_uri(env: Mapping[str, str] | None = None) -> str | None:
    """``$M2IO_MILVUS_URI``, or None when unset or blank."""
    from m2io.index.milvus import URI_ENV

    return _env(env).get(URI_ENV, "").strip() or None


def serve_api_key(env: Mapping[str, str] | None = None) -> str | None:
    """``$M2IO_API_KEY`` (the key ``m2io serve`` asks of writing routes), or None when unset."""
    return _env(env).get(SERVE_KEY_ENV) or None


def base_url(env: Mapping[str, str] | None = None) -> str | None:
    """``$OPENAI_BASE_URL``, or None when unset or blank."""
    return _env(env).get(BASE_URL_ENV, "").strip() or None
