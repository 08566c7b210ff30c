"""How ``m2io serve`` runs the app under uvicorn: connection limits and capped log lines.

uvicorn accepts every connection and keeps one that never sends a request forever, so a client
could hold thousands of sockets (and the server's file descriptors). :func:`limited_protocol`
gives uvicorn an HTTP protocol that closes a client's connections past ``per_client`` and a
connection whose first request has not arrived within ``first_request_s``; uvicorn's own
``limit_concurrency`` (503 past it) and ``timeout_keep_alive`` bound the rest. :class:`CapLength`
cuts every log line to ``max_chars`` (a hostile name once made a 2.5 MB line).

Example::

    config = uvicorn.Config(app, http=limited_protocol(per_client=64), limit_concurrency=512)
    cap_log_lines(2000)
    uvicorn.Server(config).run()
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

MAX_LOG_CHARS = 2000
"""Longest log message written (the rest is cut and counted)."""


class CapLength(logging.Filter):
    """A handler filter that cuts each record's message to ``max_chars``."""

    def __init__(self, max_chars: int = MAX_LOG_CHARS) -> None:
        super().__init__()
        self.max_chars = max_chars

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        if len(message) > self.max_chars:
            cut = len(message) - self.max_chars
            record.msg = f"{message[: self.max_chars]}… [{cut} more characters]"
            record.args = ()
        return True


def cap_log_lines(max_chars: int = MAX_LOG_CHARS, names: tuple[str, ...] = ("", "uvicorn")) -> None:
    """Add :class:`CapLength` to the handlers of the root logger and of uvicorn's loggers."""
    for name in (*names, "uvicorn.error", "uvicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, CapLength) for f in handler.filters):
                handler.addFilter(CapLength(max_chars))


def limited_protocol(per_client: int = 64, first_request_s: float = 10.0) -> type:
    """uvicorn's HTTP protocol class, closing a client's connections past ``per_client`` and any
    connection that has not begun a request within ``first_request_s``."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    open_per_client: Counter[str] = Counter()

    class Limited(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        _m2io_host = ""
        _m2io_timer: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._m2io_host = self.client[0] if self.client else "?"
            open_per_client[self._m2io_host] += 1
            if open_per_client[self._m2io_host] > per_client:
                transport.close()
                return
            self._m2io_timer = self.loop.call_later(first_request_s, self._m2io_idle)

        def _m2io_idle(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._m2io_timer is not None:
                self._m2io_timer.cancel()
            left = open_per_client[self._m2io_host] - 1
            if left > 0:
                open_per_client[self._m2io_host] = left
            else:
                open_per_client.pop(self._m2io_host, None)
            super().connection_lost(exc)

    return Limited
