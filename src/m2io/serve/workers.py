"""``m2io serve --workers N``: N processes answering on one listening socket, one index in memory.

The master loads the pipeline (index and models) once, binds the socket, and then forks the
workers: each is a copy of the master made after loading, so the model weights are pages the
processes share (copy-on-write) instead of N copies; a worker only pays for the pages it writes.
The index itself is mapped from its files (:mod:`m2io.index.rows`, :func:`m2io.index.ann.read_mapped`):
its vectors, BM25 arrays and rows are page-cache pages that every process reading the same files
shares, whether it opened them before the fork or after. Every worker listens on its own socket bound to the same port with
``SO_REUSEPORT``, and the kernel hands each new connection to one of them by a hash of its
addresses, so connections spread evenly whichever worker happens to be running. (One socket
shared by all was tried first: asyncio accepts every waiting connection in one go, so the worker
that woke first took a whole burst of clients and the other sat idle.) Each worker runs its own
uvicorn with its own app, event loop, thread pool and limits.

Limits are split so that the whole server keeps the operator's totals (:func:`per_worker`):
model calls, open connections and a client's connections are divided across the workers (rounded
up, at least 1). An upload is written under the index folder's lock (:mod:`m2io.index.lock`), so
uploads through different workers are written one after another; each worker notices the new
index generation on its next request and reopens it (:class:`~m2io.serve.state.ServiceState`,
``follow``). The workers that reopened after an upload map the same new files, so they share the
new index as they shared the old one; what each holds privately is what it derives from it (the
retriever's word counts and headings index, the parsed rows it read last).

The master restarts a worker that dies (not more than :data:`MAX_RESTARTS` times a minute) and,
on SIGTERM or SIGINT, stops the workers (SIGTERM, then SIGKILL after ``grace_s``); a master
killed outright takes its workers with it (Linux's parent-death signal).

Example::

    bind(host, port).close()  # the port is free: fail here, not in every worker
    serve_forked(lambda: server(app()).run(sockets=[bind(host, port, reuse_port=True)]), 4)
"""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MAX_RESTARTS = 5
"""Worker deaths per minute after which the master gives up and stops."""


def cores() -> int:
    """The CPU cores this process may run on (its affinity; else the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def per_worker(total: int, workers: int) -> int:
    """A worker's share of a limit ``total``: divided across ``workers``, rounded up, >= 1."""
    return max(1, math.ceil(total / max(1, workers)))


def bind(host: str, port: int, backlog: int = 2048, reuse_port: bool = False) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (IPv4 or IPv6); with ``reuse_port``, one of
    several that share the port (each worker's own)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say they are TCP; without
    # it every small response waited ~40 ms for the client's delayed ACK (Nagle)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def serve_forked(run_worker: Callable[[], None], workers: int, grace_s: float = 15.0) -> int:
    """Fork ``workers`` processes that each call ``run_worker()``; wait, restart, stop them.

    Returns the exit status for the master: 0 after a requested stop, 1 when workers kept dying.
    """
    if not hasattr(os, "fork") or not hasattr(socket, "SO_REUSEPORT"):
        raise ValueError("--workers above 1 needs fork and SO_REUSEPORT (Linux, macOS)")
    children: dict[int, int] = {}  # pid -> worker number
    deaths: list[float] = []
    stopping = False

    def spawn(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                _die_with_parent()
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                run_worker()
                code = 0
            except BaseException:  # noqa: BLE001 - a worker must never return into the master
                log.exception("worker %d failed", number)
            finally:
                os._exit(code)
        children[pid] = number

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            _kill(pid, signal.SIGTERM)

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for number in range(workers):
            spawn(number)
        log.info("serving from %d worker processes: %s", workers, sorted(children))
        while children:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for safety
                continue
            number = children.pop(pid, None)
            if number is None or stopping:
                continue
            log.error(
                "worker %d (pid %d) ended with status %d; starting another", number, pid, status
            )
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < 60] + [now]
            if len(deaths) > MAX_RESTARTS:
                log.error("workers died %d times in a minute; stopping", len(deaths))
                stop(signal.SIGTERM, None)
                _reap(children, grace_s)
                return 1
            spawn(number)
        _reap(children, grace_s)
        return 0
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _die_with_parent() -> None:
    """Ask Linux to send this worker SIGTERM when the master dies (even by SIGKILL), so no
    orphaned worker keeps the port; elsewhere a no-op."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the master died before the call
        os._exit(1)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(children: dict[int, int], grace_s: float) -> None:
    """Wait for the stopped workers; SIGKILL those still running after ``grace_s``."""
    deadline = time.monotonic() + grace_s
    while children and time.monotonic() < deadline:
        for pid in list(children):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                children.pop(pid, None)
        time.sleep(0.05)
    for pid in list(children):
        _kill(pid, signal.SIGKILL)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        children.pop(pid, None)
