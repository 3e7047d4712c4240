"""Routes outside ``/api/v1``: liveness, readiness, Prometheus metrics and the OpenAPI document."""

from __future__ import annotations

import logging
from typing import Any

import anyio
from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from steve_lite import __version__
from steve_lite.heartbeat import live_workers
from steve_lite.http import reference as docs
from steve_lite.http.openapi import add_request_bodies
from steve_lite.http.reference import add_examples
from steve_lite.metrics import exposition, worker_metrics_dir
from steve_lite.metrics_state import StateCollector

logger = logging.getLogger("steve_lite.health")


@get("/healthz", tags=[docs.SERVICE], summary="Liveness and version")
async def healthz() -> dict[str, str]:
    """The process is alive; the version it runs."""
    return {"status": "ok", "version": __version__}


@get(
    "/readyz",
    tags=[docs.SERVICE],
    summary="Readiness",
    responses={503: docs.NOT_READY},
)
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


@get("/metrics", media_type=CONTENT_TYPE_LATEST, tags=[docs.SERVICE], summary="Prometheus metrics")
async def metrics(request: Request[Any, Any, Any]) -> bytes:
    """Prometheus text: the API's requests, the workers' processing and webhooks, the queue."""
    state = request.app.state
    return exposition(
        StateCollector(state.db, state.queue),
        worker_directory=worker_metrics_dir(state.settings),
    )


@get("/openapi.json", include_in_schema=False)
async def openapi_json(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    return add_examples(add_request_bodies(request.app.openapi_schema.to_schema()))


ROUTES = [healthz, readyz, metrics, openapi_json]
