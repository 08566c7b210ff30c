"""Run an answer in a worker thread and stream what it emits, with keep-alives while it works.

A streamed route's body is an iterator that Starlette reads from a thread; the answer itself
runs in another (:func:`pumped`), which ``emit``s events (text deltas as the model writes them,
then images, then ``done``) into a queue. The iterator hands each event on as it arrives and,
when none has come for :data:`KEEPALIVE_S` seconds (a model server reading a long prompt sends
nothing for tens of seconds), yields :data:`KEEPALIVE`, which the route writes as an SSE comment
line (``: keep-alive``) so clients and proxies with a read timeout keep the connection.

A client that goes away closes the iterator; the worker's next ``emit`` then raises
:class:`Cancelled`, which ends the model call (the client stops reading the model's stream).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

log = logging.getLogger(__name__)

KEEPALIVE_S = 10.0  # under the 15 s promised in docs/serve.md
KEEPALIVE = "keepalive"
KEEPALIVE_LINE = ": keep-alive\n\n"
Event = tuple[str, dict[str, Any]]
Emit = Callable[[str, dict[str, Any]], None]

_END = object()


class Cancelled(Exception):
    """The client went away: the answer's worker stops at its next event."""


def pumped(work: Callable[[Emit], None], keepalive: float | None = None) -> Iterator[Event]:
    """The events ``work(emit)`` emits, as they come, with ``(KEEPALIVE, {})`` after each
    ``keepalive`` seconds (default :data:`KEEPALIVE_S`) without one. An exception in ``work`` is
    raised here, after the events before it."""
    every = KEEPALIVE_S if keepalive is None else keepalive
    box: queue.Queue[Any] = queue.Queue()
    gone = threading.Event()

    def emit(event: str, data: dict[str, Any]) -> None:
        if gone.is_set():
            raise Cancelled
        box.put((event, data))

    def run() -> None:
        try:
            work(emit)
        except Cancelled:
            log.info("streamed answer stopped: the client went away")
        except BaseException as err:  # handed to the reading side, which reports it
            box.put(err)
        finally:
            box.put(_END)

    threading.Thread(target=run, name="m2io-answer", daemon=True).start()
    try:
        while True:
            try:
                item = box.get(timeout=every)
            except queue.Empty:
                yield KEEPALIVE, {}
                continue
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        gone.set()
