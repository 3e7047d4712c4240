"""Where the program is put together: the one place that builds the API and the one that builds
the worker, for ``runner``, ``cli`` and the tests alike."""

from __future__ import annotations

import anyio
from litestar import Litestar

from steve_lite import db as database
from steve_lite.app import create_app
from steve_lite.db import Database
from steve_lite.group_commit import GroupCommit
from steve_lite.queue import Queue
from steve_lite.read_cache import ReadCache
from steve_lite.services import ApiServices, WorkerServices
from steve_lite.settings import Settings
from steve_lite.storage.s3 import ObjectStorage
from steve_lite.tasks import bind_tasks
from steve_lite.webhooks.service import PROBE_THREADS


def api_services(
    settings: Settings,
    storage: ObjectStorage,
    *,
    queue: Queue | None = None,
    db: Database | None = None,
) -> ApiServices:
    """The API's services on its own connection (``db``: one already open). The database must
    already be migrated."""
    db = db or database.open_database(settings)
    return ApiServices(
        settings=settings,
        db=db,
        writes=GroupCommit(db),
        cache=ReadCache(db),
        storage=storage,
        queue=queue,
        probe_threads=anyio.CapacityLimiter(PROBE_THREADS),
    )


def build_api(
    settings: Settings,
    storage: ObjectStorage,
    *,
    queue: Queue | None = None,
    db: Database | None = None,
) -> Litestar:
    """The web application for ``settings``. Without a ``queue``, submitted sessions wait in
    ``submitted`` (tests of the API alone)."""
    return create_app(api_services(settings, storage, queue=queue, db=db))


def worker_services(
    settings: Settings, storage: ObjectStorage, *, queue: Queue | None = None
) -> WorkerServices:
    """The worker's services, on ``queue`` (default: the queue of this data directory)."""
    return WorkerServices(settings, storage, queue or Queue(settings))


def build_worker(settings: Settings, storage: ObjectStorage) -> WorkerServices:
    """The worker's services with every task of its queue bound to them."""
    services = worker_services(settings, storage)
    bind_tasks(services)
    return services
