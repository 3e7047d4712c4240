"""Request id, authentication, legacy-key authorisation and rate limiting for ``/api/v1``.

The middleware checks the bearer key, refuses legacy keys (no company) on routes not marked
``opt={"legacy_keys": True}``, counts the request against the key's rate-limit bucket
(``opt={"bucket": ...}``; GETs default to ``read``) and puts the :class:`ApiKey` in
``request.user``. The legacy check is here rather than in a Litestar guard because guards copy
the route handler on every call: measured with ``bench/api_read.py``, that copy is a visible
share of a cheap GET.
"""

from __future__ import annotations

import time
from functools import partial

from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from steve_lite import metrics
from steve_lite.db import Database
from steve_lite.http.errors import Forbidden, KeyNotCompanyScoped, RateLimitExceeded, Unauthorized
from steve_lite.http.request_id import add_headers_to_response, check_request_id
from steve_lite.log import company_id_var, request_id_var
from steve_lite.security.api_keys import ApiKey, find_key, hash_key, is_well_formed, touch_key
from steve_lite.security.rate_limit import RateLimitState, hit


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, if any."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def bucket_of(scope: Scope) -> str:
    """The route's rate-limit bucket; GETs default to ``read``. Only Litestar's automatic
    ``OPTIONS`` answers have none: they are not counted."""
    handler = scope["route_handler"]
    return handler.opt.get("bucket") or ("read" if scope.get("method") == "GET" else "")


def record_use(
    db: Database, *, key: ApiKey, bucket: str, limit: int, window: int, now: float
) -> RateLimitState | None:
    """Mark ``key`` as used and count the request in ``bucket`` (an empty bucket: not counted)."""
    touch_key(db, key, now)
    if not bucket:
        return None
    return hit(db, key_id=key.id, bucket=bucket, limit=limit, window=window, now=now)


class ApiKeyMiddleware(ASGIMiddleware):
    """400 for a bad ``X-Request-Id``, 401 / 403 for bad keys, then per-key rate limiting.

    The request id, and the company once the key is known, go into the logging context for
    everything the request logs."""

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        token = request_id_var.set(check_request_id(scope))
        company_token = company_id_var.set(None)
        try:
            await self.authenticate(scope, receive, send, next_app)
        finally:
            company_id_var.reset(company_token)
            request_id_var.reset(token)

    async def authenticate(
        self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp
    ) -> None:
        app = scope["litestar_app"]
        db = app.state.db
        settings = app.state.settings
        token = bearer_token(scope)
        if token is None:
            raise Unauthorized("an API key is required: Authorization: Bearer aok_...")
        if not is_well_formed(token):
            raise Unauthorized("the API key is malformed")
        cache = app.state.cache
        cache.refresh()
        key_hash = hash_key(token)
        key = cache.get(("key", key_hash), lambda: find_key(db, key_hash))
        if key is None:
            raise Unauthorized("the API key is not recognised")
        if key.revoked:
            raise Forbidden("the API key has been revoked")
        if not key.company_active:
            raise Forbidden("the API key's company is deactivated")
        if key.company_id is None and not scope["route_handler"].opt.get("legacy_keys"):
            raise KeyNotCompanyScoped("this route needs a key that belongs to a company")
        scope["user"] = key
        company_id_var.set(key.company_id)
        bucket = bucket_of(scope)
        window = settings.rate_limit_window_seconds
        state = app.state.writes.add(
            partial(
                record_use,
                key=key,
                bucket=bucket,
                limit=settings.rate_limit(bucket) if bucket else 0,
                window=window,
                now=time.time(),
            )
        )
        if state is not None:
            if not state.allowed:
                metrics.rate_limit_refused(bucket)
                raise RateLimitExceeded(
                    f"rate limit of {state.limit} requests per {window} s exceeded for bucket "
                    f"{bucket!r}",
                    headers=state.headers(),
                )
            add_headers_to_response(scope, state.headers())
        await next_app(scope, receive, send)
