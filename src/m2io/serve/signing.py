"""Signed URLs: what lets an ``<img>`` load a file of a keyed server without the key.

A signature is an HMAC of the route, the id and an expiry time, so it opens only that file on
that route and only until it expires (``?exp=<unix seconds>&sig=<hex>``). See docs/serve.md,
"Threat model".

Example::

    query = signed_query("KEY", "images", "img/a.png", ttl_s=3600)   # "exp=…&sig=…"
    assert check_signature("KEY", "images", "img/a.png", exp, sig)
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_TTL_S = 3600
"""How long a signed URL the server writes stays valid."""


def signature(key: str, route: str, ident: str, expires: int) -> str:
    """The ``sig`` for ``route`` (``"images"``) and ``ident`` until ``expires`` (unix seconds)."""
    message = f"{route}\x00{ident}\x00{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_query(key: str, route: str, ident: str, ttl_s: int = SIGNATURE_TTL_S) -> str:
    """``exp=…&sig=…`` for a URL that opens ``ident`` on ``route`` for ``ttl_s`` seconds.

    The expiry is rounded up to a minute so answers given close together share their URLs (and
    the browser's cache)."""
    expires = (int(time.time()) + ttl_s + 59) // 60 * 60
    return f"exp={expires}&sig={signature(key, route, ident, expires)}"


def signature_state(key: str, route: str, ident: str, expires: str | None, sig: str | None) -> str:
    """``"valid"``; ``"expired"`` (made by this key for this route and id, but too old: a page
    left open, not a guess); or ``"wrong"``."""
    if not sig or not expires or not expires.isdigit() or len(expires) > 12:
        return "wrong"
    want = signature(key, route, ident, int(expires))
    if not hmac.compare_digest(sig.encode(), want.encode()):
        return "wrong"
    return "valid" if int(expires) >= time.time() else "expired"


def check_signature(key: str, route: str, ident: str, expires: str | None, sig: str | None) -> bool:
    """Whether ``sig`` was made by :func:`signature` for this route and id and is not expired."""
    return signature_state(key, route, ident, expires, sig) == "valid"
