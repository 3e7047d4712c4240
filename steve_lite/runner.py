"""Running the pieces: the API server alone, or everything at once (``steve-lite up``)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from steve_lite import db as database
from steve_lite.app import create_app
from steve_lite.settings import Settings

logger = logging.getLogger("steve_lite.runner")


class ApiServer(uvicorn.Server):
    """uvicorn that stops gracefully on SIGINT/SIGTERM and then returns, exit code 0."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        handlers = {
            sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


def serve_api(settings: Settings, **state: object) -> None:
    """Serve the API with uvicorn until Ctrl-C or SIGTERM."""
    app = create_app(settings, db=database.connect(settings.database_path), **state)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    logger.info("serving the API on http://%s:%s", settings.host, settings.port)
    ApiServer(config).run()
    logger.info("API stopped")


def run_all(settings: Settings) -> None:
    """Everything ``steve-lite up`` runs, stopped together on Ctrl-C or SIGTERM."""
    serve_api(settings)
