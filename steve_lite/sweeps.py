"""Periodic upkeep run by the worker: expire sessions, re-queue lost work, prune counters."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from steve_lite.clock import to_iso, utcnow
from steve_lite.processing.pipeline import INTERNAL_FAILURE_REASON, fail
from steve_lite.security.rate_limit import prune_windows
from steve_lite.services import WorkerServices
from steve_lite.sessions import store
from steve_lite.sessions.service import expire_session
from steve_lite.storage.s3 import StorageError

logger = logging.getLogger("steve_lite.sweeps")

LOST_DELIVERY_GRACE_SECONDS = 5


def expire_stale_sessions(runtime: WorkerServices) -> int:
    """Mark pending sessions past their TTL ``expired`` (submission ``cancelled``)."""
    db = runtime.db
    return sum(expire_session(db, session_id) for session_id in store.pending_past_ttl(db))


def purge_expired_objects(runtime: WorkerServices) -> int:
    """Delete whatever was uploaded for expired sessions."""
    db = runtime.db
    session_ids = store.expired_unpurged(db)
    for session_id in session_ids:
        runtime.storage.delete(store.object_keys(db, session_id))
        store.mark_purged(db, session_id)
    return len(session_ids)


def requeue_stale_submissions(runtime: WorkerServices) -> int:
    """Queue again sessions left ``submitted`` past their lease (lost enqueue, dead worker);
    fail those that already had every attempt (each attempt ended by a crash, for example)."""
    db = runtime.db
    now = utcnow()
    rows = store.submitted_past_lease(db, now)
    lease = now + timedelta(seconds=runtime.settings.processing_lease_seconds)
    for session_id, attempts in rows:
        if attempts >= runtime.settings.processing_max_attempts:
            session = store.load_session(db, session_id)
            assert session is not None
            fail(runtime, session, INTERNAL_FAILURE_REASON.format(attempts=attempts))
            logger.warning("session %s failed: %s attempts did not finish", session_id, attempts)
            continue
        store.set_lease(db, session_id, lease)
        runtime.queue.enqueue_processing(session_id)
        logger.warning("re-queued session %s after its lease ended", session_id)
    return len(rows)


def redispatch_lost_deliveries(runtime: WorkerServices) -> int:
    """Queue again webhook events whose attempt is overdue (lost enqueue, dead worker)."""
    cutoff = to_iso(utcnow() - timedelta(seconds=LOST_DELIVERY_GRACE_SECONDS))
    rows = runtime.db.execute(
        "SELECT id FROM webhook_events WHERE status = 'pending' AND next_attempt_at <= ?",
        [cutoff],
    ).fetchall()
    for row in rows:
        runtime.queue.enqueue_delivery(row[0])
    return len(rows)


def sweep(runtime: WorkerServices) -> None:
    """Run every upkeep step; the worker runs this at start and then every minute."""
    expired = expire_stale_sessions(runtime)
    try:
        purged = purge_expired_objects(runtime)
    except StorageError as exc:
        logger.warning("could not delete objects of expired sessions: %s", exc)
        purged = 0
    requeued = requeue_stale_submissions(runtime)
    redispatched = redispatch_lost_deliveries(runtime)
    window = runtime.settings.rate_limit_window_seconds
    prune_windows(runtime.db, now=time.time(), window=window)
    if expired or purged or requeued or redispatched:
        logger.info(
            "sweep: %s expired, %s purged, %s re-queued, %s deliveries re-dispatched",
            expired,
            purged,
            requeued,
            redispatched,
        )
