"""Reading an OpenAI-compatible chat reply off the wire: server-sent events or one JSON body.

:func:`read_reply` feeds the bytes of a response into a :class:`Reply`, which keeps the text,
model, finish reason and usage, hands each text delta to ``on_text`` as it arrives (that is how
tokens stream on to m2io's own clients), and caps what a server can make it hold:

- the reply text at ``max_chars`` (an endpoint that ignores ``max_tokens`` and never stops is cut
  there: :class:`~m2io.llm.base.LLMError` with the text so far, so the stage falls back and says so);
- the bytes read at :data:`MAX_STREAM_BYTES` in all, and one event or a plain body at
  :data:`MAX_BODY_BYTES`.

Every failure is an :class:`~m2io.llm.base.LLMError` whose message is for the log (it names the
URL) and whose ``public`` text is short and safe to show a client.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from m2io.llm.base import ChatResult, LLMError
from m2io.types import Usage

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_STREAM_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_CHARS = 200_000

_URL = re.compile(r"\b(?:https?|file)://\S+", re.IGNORECASE)


def safe_message(text: str, limit: int = 160) -> str:
    """A server's own error message made fit for a client: one line, no URLs, at most
    ``limit`` characters."""
    text = _URL.sub("<url>", " ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def error_message(body: str) -> str:
    """The message inside an error body (``{"error": {"message": …}}``, ``{"detail": …}``,
    ``{"message": …}``), else the body itself."""
    try:
        obj = json.loads(body)
    except ValueError:
        return body.strip()
    if isinstance(obj, dict):
        for key in ("error", "detail", "message"):
            value = obj.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("msg")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return body.strip()


@dataclass
class Reply:
    """What the stream delivered so far.

    Args:
        on_text: Called with each text delta as it arrives (streamed on to clients).
        max_chars: The reply text cap; passing it is an :class:`LLMError` (``cut``).
    """

    on_text: Callable[[str], None] | None = None
    max_chars: int = DEFAULT_MAX_CHARS
    parts: list[str] = field(default_factory=list)
    chars: int = 0
    model: str = ""
    finish_reason: str | None = None
    usage: Any = None
    saw_usage: bool = False
    saw_choice: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def fail(self, message: str, public: str, **kw: Any) -> LLMError:
        return LLMError(message, partial=self.text, public=public, **kw)

    def add(self, obj: Any, url: str, *, whole: bool = False) -> None:
        """Take one streamed chunk (or, with ``whole``, a complete non-streamed reply)."""
        if not isinstance(obj, dict):
            raise self.fail(f"{url} sent a chunk that is not a JSON object", "reply is not JSON")
        if obj.get("error") is not None:
            msg = error_message(json.dumps({"error": obj["error"]}))
            raise self.fail(
                f"{url} reported an error: {msg[:300]}",
                f"the model server reported an error: {safe_message(msg)}",
            )
        if isinstance(obj.get("model"), str) and obj["model"]:
            self.model = obj["model"][:200]
        if "usage" in obj:
            self.saw_usage = True
            if obj["usage"] is not None:
                self.usage = obj["usage"]
        choices = obj.get("choices")
        if choices is None and not whole:
            return
        if not isinstance(choices, list):
            raise self.fail(f"{url} sent 'choices' that is not a list", "not a chat completion")
        if not choices:
            return
        choice = choices[0]
        if not isinstance(choice, dict):
            raise self.fail(f"{url} sent a choice that is not an object", "not a chat completion")
        self.saw_choice = True
        part = choice.get("message" if whole else "delta")
        if part is None and not whole:
            part = choice.get("message")  # a server that streams whole messages
        if part is not None:
            self._content(part, url)
        reason = choice.get("finish_reason")
        if reason is not None:
            if not isinstance(reason, str):
                raise self.fail(f"{url} sent a finish_reason that is not text", "odd reply")
            self.finish_reason = reason[:40]

    def _content(self, part: Any, url: str) -> None:
        if not isinstance(part, dict):
            raise self.fail(f"{url} sent a message that is not an object", "not a chat completion")
        content = part.get("content")
        if isinstance(content, list):  # content parts
            content = "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        if content is not None and not isinstance(content, str):
            raise self.fail(
                f"{url} sent content of type {type(content).__name__}, not text",
                "not a chat completion (content is not text)",
            )
        if not content:
            return
        room = self.max_chars - self.chars
        if len(content) > room:
            self.parts.append(content[:room])
            self.chars = self.max_chars
            raise self.fail(
                f"{url} sent a reply over {self.max_chars} characters; cut there",
                f"the reply passed {self.max_chars} characters and was cut",
            )
        self.parts.append(content)
        self.chars += len(content)
        if self.on_text is not None:
            self.on_text(content)

    def result(self, url: str) -> tuple[ChatResult, list[str]]:
        """The reply and the operator notes on its usage (for the log, not the answer)."""
        if not self.saw_choice:
            raise LLMError(
                f"{url} returned a reply that is not a chat completion (no choices)",
                public="not a chat completion (no choices)",
            )
        usage, notes = parse_usage(self.usage, reported=self.saw_usage)
        return ChatResult(self.text, usage, self.model, self.finish_reason), notes


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


def read_reply(
    chunks: Iterable[bytes],
    ctype: str,
    reply: Reply,
    url: str,
    end: float,
    on_bytes: Callable[[], None] | None = None,
) -> None:
    """Read a streamed (SSE) or plain JSON reply into ``reply``, checking the deadline and the
    size caps per chunk; ``on_bytes`` is told each time bytes arrive (the watchdog's clock)."""
    sse: bool | None = True if "event-stream" in ctype.lower() else None
    pending = b""
    data: list[bytes] = []
    body = bytearray()
    total = 0
    for chunk in chunks:
        if on_bytes is not None:
            on_bytes()
        total += len(chunk)
        if time.monotonic() >= end:
            raise reply.fail(f"{url}: deadline passed while streaming", "timed out", timed_out=True)
        if total > MAX_STREAM_BYTES:
            raise reply.fail(
                f"{url} sent over {MAX_STREAM_BYTES} bytes; cut there",
                f"the reply passed {MAX_STREAM_BYTES // 2**20} MB and was cut",
            )
        if sse is None:
            head = (bytes(body) + chunk).lstrip()
            if not head or not (sse := head.startswith((b"data:", b":", b"event:", b"id:"))):
                body += chunk
                _check_body(body, reply, url)
                continue
            chunk = bytes(body) + chunk
            body.clear()
        if not sse:
            body += chunk
            _check_body(body, reply, url)
            continue
        pending += chunk
        if len(pending) > MAX_BODY_BYTES:
            raise reply.fail(f"{url} sent an event over {MAX_BODY_BYTES} bytes", "odd reply")
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if _sse_line(line.rstrip(b"\r"), data, reply, url):
                return
    if sse:
        if pending.strip():
            _sse_line(pending.rstrip(b"\r"), data, reply, url)
        _dispatch(data, reply, url)
        return
    try:
        obj = json.loads(bytes(body))
    except (ValueError, UnicodeDecodeError) as err:
        raise LLMError(
            f"{url} returned a reply that is not JSON: {err}", public="reply is not JSON"
        ) from err
    reply.add(obj, url, whole=True)


def _check_body(body: bytearray, reply: Reply, url: str) -> None:
    if len(body) > MAX_BODY_BYTES:
        raise reply.fail(
            f"{url} sent a reply over {MAX_BODY_BYTES} bytes",
            f"the reply passed {MAX_BODY_BYTES // 2**20} MB and was cut",
        )


def _sse_line(line: bytes, data: list[bytes], reply: Reply, url: str) -> bool:
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


def _dispatch(data: list[bytes], reply: Reply, url: str) -> None:
    if not data:
        return
    raw = b"\n".join(data)
    data.clear()
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise reply.fail(
            f"{url} sent a chunk that is not JSON: {err}", "reply is not JSON"
        ) from err
    reply.add(obj, url)
