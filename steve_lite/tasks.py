"""The queue's tasks bound to the features that do the work: the one module that knows both."""

from __future__ import annotations

import threading

from steve_lite.memory import release_freed_memory
from steve_lite.processing.pipeline import process_session
from steve_lite.services import WorkerServices
from steve_lite.sweeps import periodic_sweep
from steve_lite.webhooks.delivery import deliver


def bind_tasks(services: WorkerServices) -> None:
    """Set the handler of every task of ``services.queue``."""

    def process(session_id: str) -> None:
        try:
            process_session(services, session_id)
        finally:
            release_freed_memory()

    services.queue.handle("process_session", process)
    services.queue.handle("deliver_webhook", lambda event_id: deliver(services, event_id))
    swept = threading.Event()

    def sweep() -> None:
        periodic_sweep(services, first=not swept.is_set())
        swept.set()

    services.queue.handle("sweep", sweep)
