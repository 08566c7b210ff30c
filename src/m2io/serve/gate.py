"""The checks every request passes before a route reads its body (ASGI middleware).

In order: the ``Host`` must be one this server answers to (closes DNS rebinding); a client may
have only so many requests in flight; a write (any method but GET/HEAD/OPTIONS) from a browser
must come from this server's own origin; with an API key, a ``/v1`` request must carry it (or, for
an image, a valid signed URL) and a client that keeps sending wrong keys waits longer and longer;
``POST /v1/documents`` without a key also wants the ``X-M2IO-Write`` header, which a plain HTML
form from another site cannot send. See docs/serve.md, "Threat model".
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from m2io.serve.deps import Service, error_body
from m2io.serve.signing import signature_state

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WRITE_HEADER = "x-m2io-write"
"""The header a keyless upload must carry (a cross-site form cannot set headers)."""
SIGNED_ROUTES = {"/v1/images/": "images", "/v1/sources/": "sources"}
"""Path prefix → the route name a signed URL of it is bound to."""


def host_name(host: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8000`` → ``::1``), lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def allowed_hosts(bind: str, public_url: str | None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names a server bound to ``bind`` answers to: its own address, the host of
    ``public_url``, ``extra``, and the loopback names when it listens on loopback or everywhere.
    (Any IP address is also accepted by :class:`Gate`: DNS rebinding needs a name.)"""
    names = {host_name(bind)} | {host_name(h) for h in extra if h.strip()}
    if public_url:
        names.add(host_name(urlsplit(public_url).netloc.rpartition("@")[2]))
    if _is_loopback(bind) or host_name(bind) in ("0.0.0.0", "::", ""):
        names |= LOOPBACK_NAMES
    return frozenset(n for n in names if n)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _is_loopback(name: str) -> bool:
    name = host_name(name)
    return name == "localhost" or (_is_ip(name) and ipaddress.ip_address(name).is_loopback)


class Gate:
    """ASGI middleware running the checks above for ``service`` (see the module doc)."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app, self.svc = app, service
        self._inflight: dict[str, int] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = (scope.get("client") or ("?", 0))[0]
        refusal = self._refusal(scope, headers, client)
        if refusal is not None:
            await _send_error(send, *refusal)
            return
        with self._lock:
            busy = self._inflight.get(client, 0) >= self.svc.max_client_requests
            if not busy:
                self._inflight[client] = self._inflight.get(client, 0) + 1
        if busy:
            await _send_error(send, 429, "too many requests from this client at once", {})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                left = self._inflight.pop(client, 1) - 1
                if left > 0:
                    self._inflight[client] = left

    def _refusal(
        self, scope: Scope, headers: dict[str, str], client: str
    ) -> tuple[int, str, dict[str, str]] | None:
        svc = self.svc
        host = headers.get("host", "")
        name = host_name(host)
        if svc.allowed_hosts is not None and name not in svc.allowed_hosts and not _is_ip(name):
            log.warning("refused Host %.100r from %s", host, client)
            return 421, "this server does not answer to that Host name", {}
        method, path = scope["method"], scope["path"]
        if method not in SAFE_METHODS and not self._same_origin(headers, host):
            log.warning("refused a cross-origin %s %s from %s", method, path[:100], client)
            return 403, "cross-origin writes are refused", {}
        if svc.api_key is not None and path.startswith("/v1/"):
            wait = svc.backoff.wait_s(client)
            if wait > 0:
                retry = {"Retry-After": str(int(wait) + 1)}
                return 429, "too many wrong API keys; wait and try again", retry
            verdict = self._key_verdict(scope, headers)
            if verdict is False:
                svc.backoff.failed(client)
            elif verdict is True:
                svc.backoff.passed(client)
            if verdict is not True:
                challenge = {"WWW-Authenticate": "Bearer"}
                return (
                    401,
                    "missing or wrong API key: send 'Authorization: Bearer <key>'",
                    challenge,
                )
        if method == "POST" and path.rstrip("/") == "/v1/documents":
            if svc.state.index_dir is None:
                return 501, "this server is read-only (started without writes allowed)", {}
            if svc.api_key is None and WRITE_HEADER not in headers:
                return 403, "uploads without an API key need the header 'X-M2IO-Write: 1'", {}
        return None

    def _same_origin(self, headers: dict[str, str], host: str) -> bool:
        origin = headers.get("origin")
        if origin is None:  # not a browser, or an old one: the fetch metadata still tells
            return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        parts = urlsplit(origin)
        if parts.netloc and parts.netloc.lower() == host.strip().lower():
            return True
        public = urlsplit(self.svc.public_url or "")
        return bool(public.netloc) and (parts.scheme, parts.netloc.lower()) == (
            public.scheme,
            public.netloc.lower(),
        )

    def _key_verdict(self, scope: Scope, headers: dict[str, str]) -> bool | None:
        """True: the key or a valid signature; False: a wrong one; None: none was sent (or a
        signature that expired: an old page, not a guess)."""
        key = self.svc.api_key or ""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return _same(token.strip(), key)
        path = scope["path"]
        if scope["method"] != "GET":
            return None
        for prefix, route in SIGNED_ROUTES.items():
            query = _query(scope) if path.startswith(prefix) else {}
            if "sig" in query:
                state = signature_state(
                    key, route, path[len(prefix) :], query.get("exp"), query.get("sig")
                )
                return {"valid": True, "expired": None}.get(state, False)
        return None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _query(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"").decode("latin-1")
    return dict(parse_qsl(raw, keep_blank_values=True))


async def _send_error(send: Send, status: int, message: str, extra: dict[str, str]) -> None:
    body = json.dumps(error_body(status, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    headers += [(k.lower().encode(), v.encode()) for k, v in extra.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
