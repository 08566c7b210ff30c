"""A small streaming client for OpenAI-compatible chat endpoints (OpenAI, vLLM, Ollama, llama.cpp).

Only the ``/chat/completions`` route is used, over ``httpx``, so any server that speaks the OpenAI
wire protocol works. Every call streams (``stream: true``, server-sent events, usage asked for with
``stream_options``); a server that ignores streaming and answers with one JSON body works too.

Every call is bounded (docs/design.md, "Hostile input", rule 6: every network call has a deadline):

- ``idle_timeout``: the longest wait for the next bytes (headers or a chunk);
- ``deadline``: the whole call, retries included, measured on a monotonic clock in the streaming
  loop; a watchdog shuts the socket when it passes, so a server dripping one byte at a time
  cannot stretch it.

A request is sent again only when it cannot still be running on the server: after a connection
failure (nothing was sent) or an HTTP 429/503 answer. A read timeout is never retried. A reply
that is not a chat completion (no choices, wrong types, invalid JSON) raises :class:`LLMError`,
which the stages catch to fall back and say so; odd ``usage`` values are counted as 0 with a note.

Example (an Ollama server on this machine)::

    client = ChatClient(base_url="http://localhost:11434/v1", model="qwen2.5:3b")
    client.chat([{"role": "user", "content": "Hi"}]).text
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from m2io.llm.base import ChatBackend, ChatResult, LLMError, Message
from m2io.types import Usage

__all__ = ["ChatClient", "ChatResult", "LLMError"]

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUS = (429, 503)
MAX_BODY_BYTES = 16 * 1024 * 1024


class _Retryable(Exception):
    """An attempt that failed in a way that is safe to send again (nothing is running)."""

    def __init__(self, message: str, *, connect: bool, wait: float = 0.0) -> None:
        super().__init__(message)
        self.connect = connect
        self.wait = wait


class ChatClient(ChatBackend):
    """Calls ``POST {base_url}/chat/completions`` with a streamed reply.

    Args:
        base_url: Endpoint root ending in ``/v1``; defaults to ``$OPENAI_BASE_URL`` or OpenAI's.
        model: Model name the server knows.
        api_key_env: Environment variable holding the key; a missing key is fine for local servers.
        timeout: Older name of ``deadline`` (used when ``deadline`` is not given).
        max_retries: Extra attempts after a connection failure or an HTTP 429/503.
        idle_timeout: Seconds to wait for the next bytes of the reply.
        deadline: Seconds for the whole call, retries included.
        connect_timeout: Seconds to open the connection.
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str = "gpt-4o-mini",
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float | None = None,
        max_retries: int = 2,
        *,
        idle_timeout: float = 30.0,
        deadline: float | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        deadline = deadline if deadline is not None else timeout if timeout is not None else 120.0
        for name, value in (
            ("idle_timeout", idle_timeout),
            ("deadline", deadline),
            ("connect_timeout", connect_timeout),
        ):
            if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a number of seconds > 0, got {value!r}")
        if not isinstance(max_retries, int) or max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries!r}")
        if not model:
            raise ValueError("model must be a non-empty model name")
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self.model = model
        self.max_retries = max_retries
        self.idle_timeout = float(idle_timeout)
        self.deadline = float(deadline)
        self.connect_timeout = float(connect_timeout)
        self._unreachable = False  # the last call never reached the server: do not retry again
        self._stream_options = True
        key = os.environ.get(api_key_env, "")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(headers=headers)

    def _reply(
        self, messages: list[Message], temperature: float, max_tokens: int | None
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
        last = ""
        for attempt in range(retries + 1):
            if self._stream_options:
                body["stream_options"] = {"include_usage": True}
            else:
                body.pop("stream_options", None)
            try:
                result = self._attempt(url, body, end)
            except _Retryable as err:
                last = str(err)
                self._unreachable = err.connect
                log.warning("chat request to %s: %s (attempt %d)", url, last, attempt + 1)
                remaining = end - time.monotonic()
                if attempt == retries or remaining <= 0:
                    break
                notes.append(f"attempt {attempt + 1} failed ({last}); sent again")
                time.sleep(min(max(0.25 * 2 ** (attempt + 1), err.wait), 4.0, remaining))
                continue
            self._unreachable = False
            return ChatResult(
                result.text,
                result.usage,
                result.model,
                result.finish_reason,
                (*notes, *result.notes),
            )
        if time.monotonic() >= end:
            raise LLMError(
                f"{url} timed out: deadline of {self.deadline:g} s passed ({last})", timed_out=True
            )
        tries = f"{attempt + 1} attempt" + ("s" if attempt else "")
        hint = "" if retries == self.max_retries else " (unreachable on the previous call too)"
        raise LLMError(f"{url} failed after {tries}{hint}: {last}")

    def _attempt(self, url: str, body: dict[str, Any], end: float) -> ChatResult:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise LLMError(
                f"{url} timed out: deadline of {self.deadline:g} s passed", timed_out=True
            )
        timeout = httpx.Timeout(
            connect=min(self.connect_timeout, remaining),
            read=min(self.idle_timeout, remaining),
            write=min(self.idle_timeout, remaining),
            pool=min(self.connect_timeout, remaining),
        )
        reply = _Reply()
        refused = False
        watchdog: _Watchdog | None = None
        try:
            with self._http.stream("POST", url, json=body, timeout=timeout) as resp:
                watchdog = _Watchdog(resp, end)
                if resp.status_code >= 400:
                    text = _read_error(resp, end)
                    if resp.status_code in RETRY_STATUS:
                        wait = _retry_after(resp.headers.get("retry-after"))
                        raise _Retryable(
                            f"HTTP {resp.status_code}: {text}", connect=False, wait=wait
                        )
                    if "stream_options" in body and "stream_options" in text:
                        refused = True  # a server that rejects the field: ask once without it
                    else:
                        raise LLMError(f"{url} answered HTTP {resp.status_code}: {text}")
                else:
                    try:
                        _read_reply(resp, reply, end, url, self.deadline)
                    except LLMError:
                        if not watchdog.fired:
                            raise
                    if watchdog.fired:  # the stream ended because the watchdog shut it
                        raise self._past_deadline(url, reply.text, " while streaming")
        except (httpx.ConnectError, httpx.ConnectTimeout) as err:
            raise _Retryable(f"{type(err).__name__}: {err}", connect=True) from err
        except httpx.TimeoutException as err:
            if time.monotonic() >= end or (watchdog is not None and watchdog.fired):
                raise self._past_deadline(url, reply.text) from err
            raise LLMError(
                f"{url} timed out: no data for {min(self.idle_timeout, remaining):g} s; not sent "
                "again (the server may still be computing)",
                partial=reply.text,
                timed_out=True,
            ) from err
        except (httpx.HTTPError, OSError) as err:
            if watchdog is not None and watchdog.fired:
                raise self._past_deadline(url, reply.text) from err
            raise LLMError(
                f"{url} failed while answering ({type(err).__name__}: {err}); not sent again",
                partial=reply.text,
            ) from err
        finally:
            if watchdog is not None:
                watchdog.cancel()
        if refused:
            self._stream_options = False
            return self._attempt(url, {k: v for k, v in body.items() if k != "stream_options"}, end)
        return reply.result(url)

    def _past_deadline(self, url: str, partial: str, where: str = "") -> LLMError:
        """The error for a call stopped by the overall deadline (never sent again)."""
        return LLMError(
            f"{url} timed out: deadline of {self.deadline:g} s passed{where}; not sent again",
            partial=partial,
            timed_out=True,
        )

    def close(self) -> None:
        self._http.close()


class _Watchdog:
    """Shuts the response's socket when the deadline passes, waking a read blocked on it."""

    def __init__(self, resp: httpx.Response, end: float) -> None:
        self.fired = False
        stream = resp.extensions.get("network_stream")
        self._sock = stream.get_extra_info("socket") if stream is not None else None
        self._timer: threading.Timer | None = None
        if isinstance(self._sock, socket.socket):
            self._timer = threading.Timer(max(end - time.monotonic(), 0.0), self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        try:
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)  # type: ignore[arg-type]
        except OSError:
            pass

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


@dataclass
class _Reply:
    """What the stream delivered so far."""

    parts: list[str] = field(default_factory=list)
    model: str = ""
    finish_reason: str | None = None
    usage: Any = None
    saw_usage: bool = False
    saw_choice: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, obj: Any, url: str, *, whole: bool = False) -> None:
        """Take one streamed chunk (or, with ``whole``, a complete non-streamed reply)."""
        if not isinstance(obj, dict):
            raise LLMError(f"{url} sent a chunk that is not a JSON object", partial=self.text)
        if obj.get("error") is not None:
            err = obj["error"]
            msg = err.get("message") if isinstance(err, dict) else err
            raise LLMError(f"{url} reported an error: {str(msg)[:300]}", partial=self.text)
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.model = obj["model"]
        if "usage" in obj:
            self.saw_usage = True
            if obj["usage"] is not None:
                self.usage = obj["usage"]
        choices = obj.get("choices")
        if choices is None and not whole:
            return
        if not isinstance(choices, list):
            raise LLMError(f"{url} sent 'choices' that is not a list", partial=self.text)
        if not choices:
            return
        choice = choices[0]
        if not isinstance(choice, dict):
            raise LLMError(f"{url} sent a choice that is not an object", partial=self.text)
        self.saw_choice = True
        part = choice.get("message" if whole else "delta")
        if part is None and not whole:
            part = choice.get("message")  # a server that streams whole messages
        if part is not None:
            if not isinstance(part, dict):
                raise LLMError(f"{url} sent a message that is not an object", partial=self.text)
            content = part.get("content")
            if isinstance(content, list):  # content parts
                content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            if content is not None and not isinstance(content, str):
                raise LLMError(
                    f"{url} sent content of type {type(content).__name__}, not text",
                    partial=self.text,
                )
            if content:
                self.parts.append(content)
        reason = choice.get("finish_reason")
        if reason is not None:
            if not isinstance(reason, str):
                raise LLMError(f"{url} sent a finish_reason that is not text", partial=self.text)
            self.finish_reason = reason

    def result(self, url: str) -> ChatResult:
        if not self.saw_choice:
            raise LLMError(f"{url} returned a reply that is not a chat completion (no choices)")
        usage, notes = parse_usage(self.usage, reported=self.saw_usage)
        return ChatResult(self.text, usage, self.model, self.finish_reason, tuple(notes))


def parse_usage(raw: Any, *, reported: bool = True) -> tuple[Usage, list[str]]:
    """``usage`` of a reply → :class:`Usage`; missing or odd counts are 0, with a note each."""
    if raw is None:
        return Usage(), [
            "token usage " + ("null" if reported else "not reported") + "; counted as 0"
        ]
    if not isinstance(raw, dict):
        return Usage(), [f"token usage is {type(raw).__name__}, not an object; counted as 0"]
    counts = []
    notes = []
    for key in ("prompt_tokens", "completion_tokens"):
        value = raw.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            counts.append(value)
        else:
            counts.append(0)
            notes.append(f"usage.{key} is {str(value)[:40]!r}, not a count; counted as 0")
    return Usage(*counts), notes


def _read_reply(resp: httpx.Response, reply: _Reply, end: float, url: str, deadline: float) -> None:
    """Read a streamed (SSE) or plain JSON reply into ``reply``, checking the deadline per chunk."""
    ctype = resp.headers.get("content-type", "").lower()
    sse: bool | None = True if "event-stream" in ctype else None
    pending = b""
    data: list[bytes] = []
    body = bytearray()
    done = False
    for chunk in resp.iter_bytes():
        if time.monotonic() >= end:
            raise LLMError(
                f"{url} timed out: deadline of {deadline:g} s passed while streaming; not sent "
                "again",
                partial=reply.text,
                timed_out=True,
            )
        if sse is None:
            head = (bytes(body) + chunk).lstrip()
            if not head:
                body += chunk
                continue
            sse = head.startswith((b"data:", b":", b"event:", b"id:"))
            if not sse:
                body += chunk
                continue
            chunk = bytes(body) + chunk
            body.clear()
        if not sse:
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise LLMError(f"{url} sent a reply over {MAX_BODY_BYTES} bytes")
            continue
        if done:
            continue
        pending += chunk
        if len(pending) > MAX_BODY_BYTES:
            raise LLMError(f"{url} sent an event over {MAX_BODY_BYTES} bytes", partial=reply.text)
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if _sse_line(line.rstrip(b"\r"), data, reply, url):
                done = True
                break
    if sse:
        if pending.strip():
            _sse_line(pending.rstrip(b"\r"), data, reply, url)
        _dispatch(data, reply, url)
        return
    try:
        obj = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as err:
        raise LLMError(f"{url} returned a reply that is not JSON: {err}") from err
    reply.add(obj, url, whole=True)


def _sse_line(line: bytes, data: list[bytes], reply: _Reply, url: str) -> bool:
    """Handle one event-stream line; True at ``data: [DONE]``."""
    if not line:
        _dispatch(data, reply, url)
        return False
    if line.startswith(b":"):
        return False  # a comment (keep-alive)
    name, _, value = line.partition(b":")
    if name != b"data":
        return False  # event:, id:, retry:
    value = value[1:] if value.startswith(b" ") else value
    if value.strip() == b"[DONE]":
        _dispatch(data, reply, url)
        return True
    data.append(value)
    return False


def _dispatch(data: list[bytes], reply: _Reply, url: str) -> None:
    if not data:
        return
    raw = b"\n".join(data)
    data.clear()
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise LLMError(f"{url} sent a chunk that is not JSON: {err}", partial=reply.text) from err
    reply.add(obj, url)


def _read_error(resp: httpx.Response, end: float) -> str:
    """The first 300 characters of an error body, read within the deadline."""
    body = bytearray()
    for chunk in resp.iter_bytes():
        body += chunk
        if len(body) > 4096 or time.monotonic() >= end:
            break
    return bytes(body[:300]).decode("utf-8", "replace")


def _retry_after(value: str | None) -> float:
    try:
        return max(float(value), 0.0) if value else 0.0
    except ValueError:
        return 0.0
