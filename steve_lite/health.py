"""Routes outside ``/api/v1``: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
from litestar import MediaType, Request, Response, get

from steve_lite.heartbeat import live_workers
from steve_lite.http.openapi import add_request_bodies

logger = logging.getLogger("steve_lite.health")
STARTED = time.monotonic()


@get("/healthz", include_in_schema=True)
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """The database and the object storage answer, and a worker has beaten recently (unless
    ``STEVE_READY_REQUIRES_WORKER`` is off)."""
    settings = request.app.state.settings
    storage = await anyio.to_thread.run_sync(request.app.state.storage.ping)
    checks = {"database": database_ok(request), "storage": storage}
    if settings.ready_requires_worker:
        checks["worker"] = checks["database"] and workers_alive(request)
    ready = all(checks.values())
    return Response(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


def database_ok(request: Request[Any, Any, Any]) -> bool:
    try:
        request.app.state.db.execute("SELECT 1").fetchone()
    except Exception:
        logger.exception("readiness: database check failed")
        return False
    return True


def workers_alive(request: Request[Any, Any, Any]) -> bool:
    stale = request.app.state.settings.worker_stale_seconds
    return live_workers(request.app.state.db, stale) > 0


@get("/metrics", media_type=MediaType.TEXT)
async def metrics(request: Request[Any, Any, Any]) -> str:
    """Prometheus text: sessions, submissions and webhook deliveries by state."""
    db = request.app.state.db
    lines = [
        "# HELP steve_uptime_seconds Seconds since this process started.",
        "# TYPE steve_uptime_seconds gauge",
        f"steve_uptime_seconds {time.monotonic() - STARTED:.3f}",
    ]
    for metric, sql in (
        ("steve_sessions", "SELECT state, COUNT(*) FROM sessions GROUP BY state"),
        ("steve_submissions", "SELECT status, COUNT(*) FROM submissions GROUP BY status"),
        ("steve_webhook_events", "SELECT status, COUNT(*) FROM webhook_events GROUP BY status"),
    ):
        lines += [f"# HELP {metric} Rows by state.", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{state="{state}"}} {count}' for state, count in db.execute(sql)]
    return "\n".join(lines) + "\n"


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    return add_request_bodies(request.app.openapi_schema.to_schema())


ROUTES = [healthz, readyz, metrics, openapi_json]
