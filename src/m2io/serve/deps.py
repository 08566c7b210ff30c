"""The service object every route reads, the API-key check and the error shape.

Errors are sent as ``{"error": {"message", "type", "code"}}`` (OpenAI's shape, so chat clients
show the message). With an API key set, every ``/v1`` route wants ``Authorization: Bearer KEY``;
an image or source URL the service wrote itself may carry ``?exp=…&sig=…`` instead (see
:mod:`m2io.serve.signing`), so ``<img>`` tags and chat front ends can load it. The key is first
checked before any body is read (:class:`~m2io.serve.gate.Gate`); the checks here repeat it per
route.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from m2io.serve.answer import Links
from m2io.serve.limits import Backoff, ModelSlots, NoSlot, Slot
from m2io.serve.signing import check_signature
from m2io.serve.state import ServiceState, Snapshot, calls_model
from m2io.serve.uploads import UploadLimits


@dataclass
class Service:
    """What ``create_app`` hands to the routes (``app.state.m2io``)."""

    state: ServiceState
    api_key: str | None = None
    public_url: str | None = None
    model_name: str = "m2io"
    allowed_hosts: frozenset[str] | None = None
    """Host names answered (any IP address too); None answers every name."""
    slots: ModelSlots = field(default_factory=ModelSlots)
    max_client_requests: int = 32
    """Requests one client address may have in flight."""
    backoff: Backoff = field(default_factory=Backoff)
    upload_limits: UploadLimits = field(default_factory=UploadLimits)
    uploads: ModelSlots = field(default_factory=lambda: ModelSlots(8, "uploads"))
    """Uploads being checked or written, or waiting for that (the rest get 503)."""

    def slot_for(self, pipeline: Any) -> Slot | NoSlot:
        """A model slot when answering with ``pipeline`` calls a model (503 when none is free),
        else nothing to hold."""
        return self.slots.take() if calls_model(pipeline) else NoSlot()

    def links(self, request: Request, snapshot: Snapshot) -> Links:
        base = self.public_url or str(request.base_url)
        return Links(base, snapshot, self.api_key)


async def service(request: Request) -> Service:
    # async: resolved on the event loop, so routes such as /health need no worker thread
    return request.app.state.m2io


ServiceDep = Annotated[Service, Depends(service)]
"""A route parameter that receives the :class:`Service`."""


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def require_key(request: Request) -> None:
    """Refuse the request (401) unless it carries the service's API key (when one is set)."""
    key = request.app.state.m2io.api_key
    if key is None:
        return
    token = _bearer(request)
    if token is not None and _same(token, key):
        return
    raise HTTPException(
        status_code=401,
        detail="missing or wrong API key: send 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_key_or_signature(request: Request, ident: str, route: str = "images") -> None:
    """Like :func:`require_key`, but a valid, unexpired ``?exp=…&sig=…`` for this id on this
    route (``"images"``, ``"sources"``) also passes."""
    key = request.app.state.m2io.api_key
    query = request.query_params
    if key is not None and check_signature(key, route, ident, query.get("exp"), query.get("sig")):
        return
    require_key(request)


def error_body(status: int, message: str, kind: str | None = None) -> dict:
    kinds = {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        405: "invalid_request_error",
        409: "conflict_error",
        413: "request_too_large",
        421: "invalid_request_error",
        429: "rate_limit_error",
        422: "invalid_request_error",
        501: "not_implemented_error",
        503: "service_unavailable",
    }
    fallback = "server_error" if status >= 500 else "invalid_request_error"
    return {
        "error": {"message": message, "type": kind or kinds.get(status, fallback), "code": status}
    }
