"""Worker heartbeats in the database, so that any API process can tell whether a worker runs."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from steve_lite import db as database
from steve_lite.clock import now_iso, to_iso, utcnow
from steve_lite.db import Database
from steve_lite.ids import new_id
from steve_lite.settings import Settings

logger = logging.getLogger("steve_lite.worker")


class Heartbeat:
    """A thread that writes this worker's row every ``interval`` seconds, and removes it when
    the worker stops."""

    def __init__(self, settings: Settings) -> None:
        self.worker_id = new_id("wkr")
        self._settings = settings
        self._interval = settings.worker_heartbeat_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        """Write the first beat now, then keep beating in the background."""
        db = database.open_database(self._settings)
        now = now_iso()
        db.execute(
            "INSERT INTO worker_heartbeats (worker_id, hostname, pid, started_at, beat_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [self.worker_id, socket.gethostname(), os.getpid(), now, now],
        )
        db.close()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and remove this worker's row."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(self._interval + 1)
        db = database.open_database(self._settings)
        forget_worker(db, self.worker_id)
        db.close()

    def _run(self) -> None:
        db = database.open_database(self._settings)
        while not self._stop.wait(self._interval):
            try:
                db.execute(
                    "UPDATE worker_heartbeats SET beat_at = ? WHERE worker_id = ?",
                    [now_iso(), self.worker_id],
                )
            except Exception:  # a busy or broken database: try again next time, loudly
                logger.exception("could not write the worker heartbeat")
        db.close()


def forget_worker(db: Database, worker_id: str) -> None:
    """Remove a worker's heartbeat row."""
    db.execute("DELETE FROM worker_heartbeats WHERE worker_id = ?", [worker_id])


def forget_process(db: Database, pid: int) -> None:
    """Remove the heartbeat rows of a process of this host that is known to be dead."""
    db.execute(
        "DELETE FROM worker_heartbeats WHERE hostname = ? AND pid = ?", [socket.gethostname(), pid]
    )


def live_workers(db: Database, stale_seconds: float) -> int:
    """How many workers have beaten within the last ``stale_seconds``."""
    cutoff = to_iso(utcnow() - timedelta(seconds=stale_seconds))
    row = db.execute("SELECT COUNT(*) FROM worker_heartbeats WHERE beat_at > ?", [cutoff])
    return int(row.fetchone()[0])
