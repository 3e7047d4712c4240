"""CORS handling only for ``/api/v1`` requests that carry an ``Origin`` header.

The contract grants ``Access-Control-Allow-Origin: *`` to the API-key routes only: health,
metrics, the OpenAPI document and the docs page get no CORS headers.

Litestar's CORS middleware reads every request's headers into a mapping to look for ``Origin``:
about 14 µs a request, a sixth of an authenticated ``GET /api/v1/workflows`` in process
(``bench/api_read.py``). Requests without ``Origin`` (servers and CLIs; browsers always send it
on cross-origin requests) now go straight past it; the others get Litestar's CORS handling as
configured.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.types import Receive, Scope, Send

API_PREFIX = "/api/v1"


def wants_cors(scope: Scope) -> bool:
    """An HTTP request to ``/api/v1`` with an ``Origin`` header."""
    path: str = scope["path"]
    return (path == API_PREFIX or path.startswith(API_PREFIX + "/")) and any(
        name == b"origin" for name, _ in scope["headers"]
    )


def limit_cors_to_api(app: Litestar) -> None:
    """Route requests that need no CORS (no ``Origin``, or outside ``/api/v1``) around the CORS
    middleware that ``cors_config`` added."""
    cors = app.asgi_handler
    if getattr(cors, "config", None) is not app.cors_config or app.cors_config is None:
        raise RuntimeError("Litestar's CORS middleware is not the outermost ASGI handler")
    inner = cors.app  # type: ignore[attr-defined]

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not wants_cors(scope):
            await inner(scope, receive, send)
        else:
            await cors(scope, receive, send)

    app.asgi_handler = handler
