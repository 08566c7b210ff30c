"""A small streaming client for OpenAI-compatible chat endpoints (OpenAI, vLLM, Ollama, llama.cpp).

Only the ``/chat/completions`` route is used, over ``httpx``, so any server that speaks the OpenAI
wire protocol works. Every call streams (``stream: true``, server-sent events, usage asked for with
``stream_options``); a server that ignores streaming and answers with one JSON body works too.
``chat(..., on_text=f)`` hands each text delta to ``f`` as it arrives.

Every call is bounded (docs/design.md, "Hostile input", rule 6: every network call has a deadline),
by a :class:`~m2io.llm.watchdog.Watchdog` armed before the connection is opened, which shuts the
socket when a clock runs out, so a server dripping its status line, headers or body one byte at a
time cannot stretch a call:

- ``deadline``: the whole call, retries included;
- ``first_token_timeout``: from sending the request to the first text token (a CPU server reads
  the prompt first and sends nothing meanwhile);
- ``idle_timeout``: between bytes once tokens flow;
- ``connect_timeout``: opening the connection.

A reply is capped (``max_reply_chars`` of text, :data:`~m2io.llm.wire.MAX_STREAM_BYTES` read):
past the cap it is cut and the call fails, so the stage falls back and says so.

A request is sent again only when it cannot still be running on the server: after a connection
failure (nothing was sent) or an HTTP 429/503 answer. A timeout is never retried. A reply that is
not a chat completion (no choices, wrong types, invalid JSON) raises :class:`LLMError`, which the
stages catch to fall back and say so. An error's message (URL, the server's text) is for the log;
its ``public`` text is short and safe for the answer's notes. Odd ``usage`` values are counted as
0 and logged.

Example (an Ollama server on this machine)::

    client = ChatClient(base_url="http://localhost:11434/v1", model="qwen2.5:3b")
    client.chat([{"role": "user", "content": "Hi"}]).text
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from m2io.llm.base import ChatBackend, ChatResult, LLMError, Message
from m2io.llm.watchdog import Watchdog
from m2io.llm.window import probe_context
from m2io.llm.wire import DEFAULT_MAX_CHARS, Reply, error_message, read_reply, safe_message

__all__ = ["ChatClient", "ChatResult", "LLMError"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = (429, 503)
DEFAULT_DEADLINE = 180.0
DEFAULT_IDLE = 30.0
DEFAULT_FIRST_TOKEN = 90.0


class _Retryable(Exception):
    """An attempt that failed in a way that is safe to send again (nothing is running)."""

    def __init__(self, message: str, public: str, *, connect: bool, wait: float = 0.0) -> None:
        super().__init__(message)
        self.public = public
        self.connect = connect
        self.wait = wait


class ChatClient(ChatBackend):
    """Calls ``POST {base_url}/chat/completions`` with a streamed reply.

    Args:
        base_url: Endpoint root ending in ``/v1``; default OpenAI's (the command line fills in
            ``$OPENAI_BASE_URL``; the library reads no environment for it).
        model: Model name the server knows.
        api_key_env: Environment variable holding the key; a missing key is fine for local servers.
        timeout: Older name of ``deadline`` (used when ``deadline`` is not given).
        max_retries: Extra attempts after a connection failure or an HTTP 429/503.
        idle_timeout: Seconds to wait for the next bytes once tokens flow.
        deadline: Seconds for the whole call, retries included.
        connect_timeout: Seconds to open the connection.
        first_token_timeout: Seconds from sending the request to the first token (the server's
            prompt reading, "prefill"); default ``max(90, idle_timeout)``.
        max_reply_chars: The reply text cap; a longer reply is cut and the call fails.
        context_tokens: The model's context size in tokens; None asks the server once
            (:meth:`context_window`).
    """

    streams = True  # chat() takes on_text and calls it per delta

    def __init__(
        self,
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float | None = None,
        max_retries: int = 2,
        *,
        idle_timeout: float = DEFAULT_IDLE,
        deadline: float | None = None,
        connect_timeout: float = 10.0,
        first_token_timeout: float | None = None,
        max_reply_chars: int = DEFAULT_MAX_CHARS,
        context_tokens: int | None = None,
    ) -> None:
        deadline = (
            deadline
            if deadline is not None
            else timeout
            if timeout is not None
            else DEFAULT_DEADLINE
        )
        if first_token_timeout is None and isinstance(idle_timeout, int | float):
            first_token_timeout = max(DEFAULT_FIRST_TOKEN, idle_timeout)
        for name, value in (
            ("idle_timeout", idle_timeout),
            ("deadline", deadline),
            ("connect_timeout", connect_timeout),
            ("first_token_timeout", first_token_timeout),
        ):
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries!r}")
        if not isinstance(max_reply_chars, int) or max_reply_chars < 1:
            raise ValueError(f"max_reply_chars must be >= 1, got {max_reply_chars!r}")
        if context_tokens is not None and (
            not isinstance(context_tokens, int)
            or isinstance(context_tokens, bool)
            or context_tokens < 256
        ):
            raise ValueError(f"context_tokens must be a token count >= 256, got {context_tokens!r}")
        if not model:
            raise ValueError("model must be a non-empty model name")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.idle_timeout = float(idle_timeout)
        self.deadline = float(deadline)
        self.connect_timeout = float(connect_timeout)
        self.first_token_timeout = float(first_token_timeout)  # type: ignore[arg-type]
        self.max_reply_chars = max_reply_chars
        self.context_tokens = context_tokens
        self._window: int | None = context_tokens
        self._probed = context_tokens is not None
        self._probe_lock = threading.Lock()
        self._unreachable = False  # the last call never reached the server: do not retry again
        self._stream_options = True
        # the one environment read of the library: the secret stays out of recipes and logs, and
        # the variable's name is an option given (docs/design.md, How options reach the library)
        key = os.environ.get(api_key_env, "")
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}
        # no kept-alive connections: every call connects, so its watchdog learns its socket
        self._http = httpx.Client(
            headers=self.headers, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def context_window(self) -> int | None:
        """The model's context size in tokens: ``context_tokens`` if given, else what the server
        says (llama.cpp's ``/props``, Ollama's ``/api/show``; asked once, within 3 s), else
        None (:mod:`m2io.llm.window`)."""
        with self._probe_lock:
            if not self._probed:
                self._probed = True
                self._window = probe_context(self.base_url, self.model, self.headers)
                if self._window is None:
                    log.info(
                        "%s does not say its context size; set llm.context_tokens to fit "
                        "prompts to it",
                        self.base_url,
                    )
        return self._window

    def chat(
        self,
        messages: list[Message],
        *,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        on_text: Callable[[str], None] | None = None,
    ) -> ChatResult:
        """One reply to ``messages``; ``on_text`` gets each text delta as it arrives."""
        return self._reply(messages, temperature, max_tokens, on_text)

    def _reply(
        self,
        messages: list[Message],
        temperature: float,
        max_tokens: int | None,
        on_text: Callable[[str], None] | None = None,
    ) -> ChatResult:
        """Send one chat request and return the first choice's text, usage and finish reason.

        Raises:
            LLMError: Unreachable, timed out (``timed_out``), an HTTP error, or a reply that is
                not a chat completion.
        """
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "stream": True,
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        url = f"{self.base_url}/chat/completions"
        end = time.monotonic() + self.deadline
        notes: list[str] = []
        retries = 0 if self._unreachable else self.max_retries
        last = public = ""
        for attempt in range(retries + 1):
            if self._stream_options:
                body["stream_options"] = {"include_usage": True}
            else:
                body.pop("stream_options", None)
            try:
                result = self._attempt(url, body, end, on_text)
            except _Retryable as err:
                last, public = str(err), err.public
                self._unreachable = err.connect
                log.warning("chat request to %s: %s (attempt %d)", url, last, attempt + 1)
                remaining = end - time.monotonic()
                if attempt == retries or remaining <= 0:
                    break
                notes.append(f"attempt {attempt + 1} failed ({public}); sent again")
                time.sleep(min(max(0.25 * 2 ** (attempt + 1), err.wait), 4.0, remaining))
                continue
            self._unreachable = False
            return ChatResult(
                result.text, result.usage, result.model, result.finish_reason, tuple(notes)
            )
        if time.monotonic() >= end:
            raise LLMError(
                f"{url} timed out: deadline of {self.deadline:g} s passed ({last})",
                timed_out=True,
                public=f"timed out (deadline {self.deadline:g} s)",
            )
        tries = f"{attempt + 1} attempt" + ("s" if attempt else "")
        hint = "" if retries == self.max_retries else " (unreachable on the previous call too)"
        raise LLMError(f"{url} failed after {tries}{hint}: {last}", public=public)

    def _attempt(
        self,
        url: str,
        body: dict[str, Any],
        end: float,
        on_text: Callable[[str], None] | None,
    ) -> ChatResult:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise self._timed_out(url, "deadline", "")
        # the watchdog bounds the call precisely; httpx's own timeouts are a backstop
        read = min(max(self.first_token_timeout, self.idle_timeout), remaining) + 1.0
        timeout = httpx.Timeout(
            connect=min(self.connect_timeout, remaining), read=read, write=read, pool=read
        )
        dog = Watchdog(end, self.first_token_timeout, self.idle_timeout)

        def text_in(delta: str) -> None:
            dog.token()
            if on_text is not None:
                on_text(delta)

        reply = Reply(on_text=text_in, max_chars=self.max_reply_chars)
        refused = False
        try:
            with self._http.stream(
                "POST", url, json=body, timeout=timeout, extensions={"trace": dog.trace}
            ) as resp:
                if resp.status_code >= 400:
                    text = error_message(_read_error(resp, end))
                    code = resp.status_code
                    if code in RETRY_STATUS:
                        wait = _retry_after(resp.headers.get("retry-after"))
                        raise _Retryable(
                            f"HTTP {code}: {text[:300]}", f"HTTP {code}", connect=False, wait=wait
                        )
                    if "stream_options" in body and "stream_options" in text:
                        refused = True  # a server that rejects the field: ask once without it
                    else:
                        raise LLMError(
                            f"{url} answered HTTP {code}: {text[:300]}",
                            public=f"the model server answered HTTP {code}: {safe_message(text)}",
                        )
                else:
                    ctype = resp.headers.get("content-type", "")
                    try:
                        read_reply(resp.iter_bytes(), ctype, reply, url, end, dog.bytes_in)
                    except LLMError:
                        if dog.reason is None:
                            raise
                    if dog.reason is not None:  # the stream ended because the watchdog shut it
                        raise self._timed_out(url, dog.reason, reply.text)
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            if dog.reason is not None:
                raise self._timed_out(url, dog.reason, "") from err
            raise _Retryable(
                f"{type(err).__name__}: {err}", "the model server is unreachable", connect=True
            ) from err
        except (httpx.HTTPError, OSError) as err:
            if dog.reason is not None or time.monotonic() >= end:
                raise self._timed_out(url, dog.reason or "deadline", reply.text) from err
            if isinstance(err, httpx.TimeoutException):
                why = "idle" if dog.got_token else "first_token"
                raise self._timed_out(url, why, reply.text) from err
            raise LLMError(
                f"{url} failed while answering ({type(err).__name__}: {err}); not sent again",
                partial=reply.text,
                public="the model server dropped the connection",
            ) from err
        finally:
            dog.cancel()
        if refused:
            self._stream_options = False
            body = {k: v for k, v in body.items() if k != "stream_options"}
            return self._attempt(url, body, end, on_text)
        result, usage_notes = reply.result(url)
        for note in usage_notes:
            log.info("chat reply from %s: %s", url, note)
        return result

    def _timed_out(self, url: str, reason: str, partial: str) -> LLMError:
        """The error for a call a clock ended (never sent again)."""
        if reason == "first_token":
            what = f"no first token within {self.first_token_timeout:g} s"
            detail = f"{what} (the server may still be reading the prompt)"
        elif reason == "idle":
            what = detail = f"no data for {self.idle_timeout:g} s"
        else:
            what = detail = f"deadline of {self.deadline:g} s passed"
        return LLMError(
            f"{url} timed out: {detail}; not sent again",
            partial=partial,
            timed_out=True,
            public=f"timed out: {what}",
        )

    def close(self) -> None:
        self._http.close()


def _read_error(resp: httpx.Response, end: float) -> str:
    """The first 4 kB of an error body, read within the deadline."""
    body = bytearray()
    for chunk in resp.iter_bytes():
        body += chunk
        if len(body) > 4096 or time.monotonic() >= end:
            break
    return bytes(body[:4096]).decode("utf-8", "replace")


def _retry_after(value: str | None) -> float:
    try:
        return max(float(value), 0.0) if value else 0.0
    except ValueError:
        return 0.0
