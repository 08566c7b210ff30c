"""How many tokens a model's context holds, and how much excerpt text fits in it.

An OpenAI-compatible server rarely says its context size through the OpenAI routes, but the two
common local servers do through their own: llama.cpp's ``GET /props`` (``n_ctx``, the window
the server was started with) and Ollama's ``POST /api/show`` (``num_ctx`` in the model's
parameters, else the model's ``context_length`` capped at :data:`OLLAMA_DEFAULT_CTX`, the window
Ollama runs a model with unless told otherwise). :func:`probe_context` asks both once, each
bounded by a short deadline (a :class:`~m2io.llm.watchdog.Watchdog`, so a dripping server
cannot stretch it); a server that answers neither leaves the budget to ``llm.context_tokens``.

Text is counted in estimated tokens (:data:`CHARS_PER_TOKEN` characters each: English prose
runs at about 4 with the BPE tokenizers of current models; 3.5 leaves a margin).
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from typing import Any

import httpx

from m2io.llm.watchdog import Watchdog

log = logging.getLogger(__name__)

CHARS_PER_TOKEN = 3.5
OLLAMA_DEFAULT_CTX = 2048
PROBE_DEADLINE = 3.0
MESSAGE_OVERHEAD = 8  # tokens a chat template adds per message (role markers)
_MAX_PROBE_BYTES = 1 << 20


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` takes, estimated from its length (rounded up)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def excerpt_chars(window: int | None, *, fixed: str, reply_tokens: int, limit: int) -> int:
    """Characters of excerpts that fit a ``window``-token context beside the ``fixed`` prompt
    text (system message, question, template) and a reply of ``reply_tokens``; ``limit`` when
    the window is unknown or holds more. Never below 0."""
    if not window:
        return limit
    room = window - reply_tokens - estimate_tokens(fixed) - 2 * MESSAGE_OVERHEAD
    return max(0, min(limit, int(room * CHARS_PER_TOKEN)))


def probe_context(
    base_url: str, model: str, headers: dict[str, str], deadline: float = PROBE_DEADLINE
) -> int | None:
    """The context size the server at ``base_url`` reports (llama.cpp, then Ollama), or None."""
    root = re.sub(r"/v1/?$", "", base_url.rstrip("/"))
    with httpx.Client(headers=headers) as http:
        props = _get_json(http, "GET", f"{root}/props", None, deadline)
        n_ctx = _llama_ctx(props)
        if n_ctx:
            log.info("%s/props: the context holds %d tokens (llama.cpp)", root, n_ctx)
            return n_ctx
        show = _get_json(http, "POST", f"{root}/api/show", {"model": model}, deadline)
        n_ctx = _ollama_ctx(show)
        if n_ctx:
            log.info("%s/api/show: the context holds %d tokens (Ollama)", root, n_ctx)
        return n_ctx


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 24:
        return value
    return None


def _llama_ctx(props: Any) -> int | None:
    if not isinstance(props, dict):
        return None
    settings = props.get("default_generation_settings")
    nested = settings.get("n_ctx") if isinstance(settings, dict) else None
    return _count(nested) or _count(props.get("n_ctx"))


def _ollama_ctx(show: Any) -> int | None:
    if not isinstance(show, dict):
        return None
    params = show.get("parameters")
    if isinstance(params, str):
        m = re.search(r"^\s*num_ctx\s+(\d+)\s*$", params, re.MULTILINE)
        if m:
            return _count(int(m.group(1)))
    info = show.get("model_info")
    if isinstance(info, dict):
        for key, value in info.items():
            if str(key).endswith(".context_length") and _count(value):
                return min(value, OLLAMA_DEFAULT_CTX)
    return None


def _get_json(
    http: httpx.Client, method: str, url: str, body: dict[str, Any] | None, deadline: float
) -> Any:
    """A small JSON reply within ``deadline`` seconds, or None (any failure, logged)."""
    end = time.monotonic() + deadline
    dog = Watchdog(end, deadline, deadline)
    try:
        with http.stream(
            method,
            url,
            json=body,
            timeout=httpx.Timeout(deadline),
            extensions={"trace": dog.trace},
        ) as resp:
            if resp.status_code != 200:
                return None
            raw = bytearray()
            for chunk in resp.iter_bytes():
                raw += chunk
                if len(raw) > _MAX_PROBE_BYTES or time.monotonic() >= end:
                    return None
        return json.loads(bytes(raw))
    except (httpx.HTTPError, OSError, ValueError) as err:
        log.debug("%s %s: %s", method, url, err)
        return None
    finally:
        dog.cancel()
