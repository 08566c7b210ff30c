"""A small client for OpenAI-compatible chat endpoints (OpenAI, vLLM, Ollama, llama.cpp server).

Only the ``/chat/completions`` route is used, over ``httpx``, so any server that speaks the OpenAI
wire protocol works. Timeouts and retries (with exponential backoff on 429/5xx and network errors)
are built in.

Example:
    >>> client = ChatClient(base_url="http://localhost:11434/v1", model="qwen2.5:3b")
    >>> client.chat([{"role": "user", "content": "Hi"}]).text  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import httpx

from m2io.types import Usage

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class LLMError(RuntimeError):
    """The endpoint could not be reached or kept answering with an error."""


@dataclass(frozen=True)
class ChatResult:
    text: str
    usage: Usage
    model: str


class ChatClient:
    """Calls ``POST {base_url}/chat/completions``.

    Args:
        base_url: Endpoint root ending in ``/v1``; defaults to ``$OPENAI_BASE_URL`` or OpenAI's.
        model: Model name the server knows.
        api_key_env: Environment variable holding the key; a missing key is fine for local servers.
        timeout: Seconds per request.
        max_retries: Extra attempts after a retryable failure (429, 5xx, connection errors).
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if not model:
            raise ValueError("model must be a non-empty model name")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self.model = model
        self.max_retries = max_retries
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def chat(
        self,
        messages: list[dict[str, Any]],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> ChatResult:
        """Send one chat request and return the first choice's text and the token usage."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        url = f"{self.base_url}/chat/completions"
        last: str = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(0.25 * 2**attempt, 4.0))
            try:
                resp = self._http.post(url, json=body)
            except httpx.HTTPError as err:
                last = f"{type(err).__name__}: {err}"
                log.warning("chat request to %s failed (%s), attempt %d", url, last, attempt + 1)
                continue
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code}: {resp.text[:200]}"
                log.warning("chat request to %s got %s, attempt %d", url, last, attempt + 1)
                continue
            if resp.status_code >= 400:
                raise LLMError(f"{url} answered HTTP {resp.status_code}: {resp.text[:300]}")
            return _parse(resp, url)
        raise LLMError(f"{url} failed after {self.max_retries + 1} attempts: {last}")

    def close(self) -> None:
        self._http.close()


def _parse(resp: httpx.Response, url: str) -> ChatResult:
    try:
        data = resp.json()
        text = data["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise LLMError(f"{url} returned a reply that is not a chat completion: {err}") from err
    usage = data.get("usage") or {}
    return ChatResult(
        text=text,
        usage=Usage(int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))),
        model=str(data.get("model", "")),
    )
