"""Periodic upkeep run by the worker: expire sessions, re-queue lost work, prune counters."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from steve_lite.clock import to_iso, utcnow
from steve_lite.processing.pipeline import INTERNAL_FAILURE_REASON, dispatch_events, fail
from steve_lite.security.rate_limit import prune_windows
from steve_lite.services import WorkerServices
from steve_lite.sessions import store
from steve_lite.sessions.service import expire_session, sealed_key_for
from steve_lite.storage.s3 import StorageError

logger = logging.getLogger("steve_lite.sweeps")

LOST_DELIVERY_GRACE_SECONDS = 5


def expire_stale_sessions(runtime: WorkerServices) -> int:
    """Mark pending sessions past their TTL ``expired`` (a submission still ``created``:
    ``cancelled``, with its webhook sent now)."""
    expired = 0
    for session_id in store.pending_past_ttl(runtime.db):
        if expire_session(runtime.db, session_id):
            dispatch_events(runtime, session_id)
            expired += 1
    return expired


def purge_uploads(runtime: WorkerServices) -> int:
    """Delete upload objects no one needs any more, once no upload URL of their session is valid
    (the session's expiry): every object of an expired session; the upload originals of a
    submitted one, whose sealed copies stay."""
    db = runtime.db
    sessions = store.unpurged_past_uploads(db)
    for session_id, state in sessions:
        files = store.file_keys(db, session_id)
        if state == store.SessionState.EXPIRED:  # a submit that lost a race with expiry
            keys = [key for upload, _ in files for key in (upload, sealed_key_for(upload))]
        else:  # files submitted before sealing existed have their upload as sealed copy
            keys = [upload for upload, sealed in files if sealed != upload]
        runtime.storage.delete(keys)
        store.mark_purged(db, session_id)
    return len(sessions)


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
        purged = purge_uploads(runtime)
    except StorageError as exc:
        logger.warning("could not delete upload objects: %s", exc)
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
