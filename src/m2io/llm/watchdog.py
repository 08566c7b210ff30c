"""A per-call watchdog that ends a model call at its timeouts whatever the server sends.

Socket timeouts alone cannot bound a call: each byte a server drips restarts them, and the
status line and headers are read before any loop of ours runs. The watchdog is armed before
the connection is opened; it learns the call's socket as soon as it is connected (httpx's
``trace`` extension) and shuts it down when one of three clocks runs out, which wakes a read
blocked on it at once:

- ``deadline``: the whole call (an absolute ``time.monotonic()`` reading);
- ``first_token``: from the start of the call to the first text token (a CPU server reading a
  long prompt sends nothing for tens of seconds, so this is longer than ``idle``);
- ``idle``: between bytes once tokens flow.

``reason`` says which clock ended the call (None while none has).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Literal

Reason = Literal["deadline", "first_token", "idle"]


class Watchdog:
    """Shuts the call's socket when a clock runs out; a daemon thread per call.

    Args:
        end: The deadline, a ``time.monotonic()`` reading.
        first_token: Seconds from now to the first token.
        idle: Seconds between bytes once the first token came.
    """

    def __init__(self, end: float, first_token: float, idle: float) -> None:
        self.end, self.first_token, self.idle = end, first_token, idle
        self.start = self.last = time.monotonic()
        self.got_token = False
        self.reason: Reason | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._run, name="m2io-llm-watchdog", daemon=True)
        self._thread.start()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpx's ``trace`` extension: takes the socket once the connection is open."""
        if name == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._sock = sock
                    if self.reason is not None:
                        _shut(sock)

    def bytes_in(self) -> None:
        """Bytes of the reply arrived."""
        self.last = time.monotonic()

    def token(self) -> None:
        """A text token arrived."""
        self.last = time.monotonic()
        if not self.got_token:
            self.got_token = True
            self._wake.set()  # the idle clock may now run out before the first-token one

    def _due(self) -> tuple[float, Reason]:
        if self.got_token:
            due, why = self.last + self.idle, "idle"
        else:
            due, why = self.start + self.first_token, "first_token"
        return (self.end, "deadline") if self.end <= due else (due, why)  # type: ignore[return-value]

    def _run(self) -> None:
        while not self._done:
            due, why = self._due()
            wait = due - time.monotonic()
            if wait <= 0:
                with self._lock:
                    if self._done:
                        return
                    self.reason = why
                    if self._sock is not None:
                        _shut(self._sock)
                return
            self._wake.wait(wait)
            self._wake.clear()

    def cancel(self) -> None:
        """The call is over: stop watching (the socket is never touched after this)."""
        with self._lock:
            self._done = True
            self._sock = None
        self._wake.set()


def _shut(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # also an SSL socket, without unwrapping
    except OSError:
        pass
