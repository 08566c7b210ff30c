"""Bounded work per request: requests that run the pipeline take a slot, and none is left → 503.

FastAPI runs the routes in a shared pool of worker threads; a model endpoint that hangs would
hold one thread per request until none is left and even ``/health`` waits. A request that runs
a model backend (:func:`~m2io.serve.state.calls_model`) takes one of ``max_model_calls`` slots (fewer than the pool's threads) and gives it
back when the work ends in its thread, not when the client leaves, so a client that hangs up
does not free a thread still waiting on the model. With every slot taken the answer is a 503
with ``Retry-After`` at once. Answers that call no model (the offline default) take none.

:class:`Backoff` slows a client that keeps sending wrong API keys.

Example::

    slots = ModelSlots(8)
    with slots.take():           # HTTPException(503) when all 8 are busy
        answer = pipeline.run(question)
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from typing import TypeVar

from fastapi import HTTPException

T = TypeVar("T")

MAX_MODEL_CALLS = 8
"""Default number of requests that may run the pipeline at once."""


class Slot:
    """One taken slot; :meth:`release` gives it back (once, however often it is called)."""

    def __init__(self, slots: ModelSlots) -> None:
        self._slots = slots
        self._lock = threading.Lock()
        self._held = True

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, False
        if held:
            self._slots._give_back()

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class NoSlot:
    """What a request that calls no model holds: nothing to give back."""

    def release(self) -> None:
        pass

    def __enter__(self) -> NoSlot:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


class ModelSlots:
    """``size`` slots for requests that run the pipeline (see the module doc)."""

    def __init__(self, size: int = MAX_MODEL_CALLS, what: str = "model calls") -> None:
        if size < 1:
            raise ValueError(f"{what}: at least 1 at once, got {size}")
        self.size, self.what = size, what
        self._free = threading.BoundedSemaphore(size)

    def take(self) -> Slot:
        """A slot, or HTTPException 503 when all are busy (never waits)."""
        if not self._free.acquire(blocking=False):
            raise HTTPException(
                status_code=503,
                detail=f"the server runs {self.size} {self.what} at once already; try again soon",
                headers={"Retry-After": "2"},
            )
        return Slot(self)

    def _give_back(self) -> None:
        self._free.release()


class Holding(Iterator[T]):
    """``events``, with ``slot`` released when they end or fail, or when the stream is dropped.

    A stream whose client left is dropped by Starlette; a step still running in a worker thread
    keeps this object alive until it returns, so the slot stays taken while that thread still
    waits on the model, and is given back as soon as it is free (also for a stream that never
    started)."""

    def __init__(self, slot: Slot | NoSlot, events: Iterator[T]) -> None:
        self._events = events
        self._release = slot.release
        weakref.finalize(self, slot.release)

    def __next__(self) -> T:
        try:
            return next(self._events)
        except BaseException:
            self._release()
            raise


class Backoff:
    """Per-client waiting time after wrong keys: ``free`` tries, then 1 s, 2 s, 4 s … ``cap_s``.

    Memory is bounded: past ``max_clients`` the oldest clients are forgotten."""

    def __init__(self, free: int = 5, cap_s: float = 60.0, max_clients: int = 10_000) -> None:
        self.free, self.cap_s, self.max_clients = free, cap_s, max_clients
        self._fails: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    def wait_s(self, client: str) -> float:
        """Seconds ``client`` must wait before its next key is looked at (0: go on)."""
        with self._lock:
            _, until = self._fails.get(client, (0, 0.0))
        return max(0.0, until - time.monotonic())

    def failed(self, client: str) -> None:
        with self._lock:
            count, _ = self._fails.pop(client, (0, 0.0))
            count += 1
            wait = min(self.cap_s, 2.0 ** (count - self.free - 1)) if count > self.free else 0.0
            self._fails[client] = (count, time.monotonic() + wait)
            while len(self._fails) > self.max_clients:
                self._fails.popitem(last=False)

    def passed(self, client: str) -> None:
        with self._lock:
            self._fails.pop(client, None)
