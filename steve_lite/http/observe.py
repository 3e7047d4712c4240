"""Every HTTP request, once answered: counted in the metrics and, when the access log is on,
logged as one line with its route, method, status, duration, request id and company."""

from __future__ import annotations

import logging
import time
from typing import cast

from litestar import Litestar
from litestar.types import HTTPScope, Message, Receive, Scope, Send

from steve_lite import metrics
from steve_lite.http.request_id import request_id_for
from steve_lite.log import ACCESS_LOGGER

access_log = logging.getLogger(ACCESS_LOGGER)


def observe_requests(app: Litestar) -> None:
    """Wrap the app's outermost ASGI handler, so that errors raised by the router (404, 405)
    and by middleware (401, 429) are seen with the status they were answered with."""
    inner = app.asgi_handler

    async def handler(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        http = cast(HTTPScope, scope)
        started = time.perf_counter()
        status = 500

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await inner(scope, receive, send_and_note_status)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template")
            metrics.observe_request(route, http["method"], status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                log_request(http, route, status, seconds)

    app.asgi_handler = handler


def log_request(scope: HTTPScope, route: str | None, status: int, seconds: float) -> None:
    key = scope.get("user")
    access_log.info(
        "%s %s %s %.1f ms",
        scope["method"],
        route or scope["path"],
        status,
        seconds * 1000,
        extra={
            "request_id": request_id_for(scope),
            "company_id": getattr(key, "company_id", None),
            "method": scope["method"],
            "route": route or metrics.UNMATCHED_ROUTE,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
        },
    )
