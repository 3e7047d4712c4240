"""Periodic upkeep run by the worker: expire sessions, re-queue lost work, prune counters."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from steve_lite.clock import now_iso, to_iso, utcnow
from steve_lite.processing.pipeline import (
    INTERNAL_FAILURE_REASON,
    dispatch_events,
    fail,
    load_submitted,
)
from steve_lite.security.rate_limit import prune_windows
from steve_lite.sessions.service import expire_session, sealed_key_for
from steve_lite.storage.s3 import StorageError

if TYPE_CHECKING:
    from steve_lite.worker import Runtime

logger = logging.getLogger("steve_lite.sweeps")

LOST_DELIVERY_GRACE_SECONDS = 5


def expire_stale_sessions(runtime: Runtime) -> int:
    """Mark pending sessions past their TTL ``expired`` (a submission still ``created``:
    ``cancelled``, with its webhook sent now)."""
    rows = runtime.db.execute(
        "SELECT id FROM sessions WHERE state = 'pending' AND expires_at <= ?", [now_iso()]
    ).fetchall()
    expired = 0
    for row in rows:
        if expire_session(runtime.db, row[0]):
            dispatch_events(runtime, row[0])
            expired += 1
    return expired


def purge_uploads(runtime: Runtime) -> int:
    """Delete upload objects no one needs any more, once no upload URL of their session is valid
    (the session's expiry): every object of an expired session; the upload originals of a
    submitted one, whose sealed copies stay."""
    db = runtime.db
    rows = db.execute(
        "SELECT id, state FROM sessions WHERE objects_purged_at IS NULL "
        "AND state != 'pending' AND (state = 'expired' OR expires_at <= ?)",
        [now_iso()],
    ).fetchall()
    for session_id, state in rows:
        files = db.execute(
            "SELECT object_key, sealed_key FROM session_files WHERE session_id = ?", [session_id]
        ).fetchall()
        if state == "expired":  # a submit that lost a race with expiry may have sealed copies
            keys = [key for upload, _ in files for key in (upload, sealed_key_for(upload))]
        else:  # files submitted before sealing existed have their upload as sealed copy
            keys = [upload for upload, sealed in files if sealed != upload]
        runtime.storage.delete(keys)
        db.execute(
            "UPDATE sessions SET objects_purged_at = ? WHERE id = ?", [now_iso(), session_id]
        )
    return len(rows)


def requeue_stale_submissions(runtime: Runtime) -> int:
    """Queue again sessions left ``submitted`` past their lease (lost enqueue, dead worker);
    fail those that already had every attempt (each attempt ended by a crash, for example)."""
    db = runtime.db
    now = utcnow()
    rows = db.execute(
        "SELECT id, processing_attempts FROM sessions WHERE state = 'submitted' "
        "AND (lease_until IS NULL OR lease_until <= ?)",
        [to_iso(now)],
    ).fetchall()
    lease = to_iso(now + timedelta(seconds=runtime.settings.processing_lease_seconds))
    for session_id, attempts in rows:
        if attempts >= runtime.settings.processing_max_attempts:
            session = load_submitted(db, session_id)
            assert session is not None
            fail(runtime, session, INTERNAL_FAILURE_REASON.format(attempts=attempts))
            logger.warning("session %s failed: %s attempts did not finish", session_id, attempts)
            continue
        db.execute("UPDATE sessions SET lease_until = ? WHERE id = ?", [lease, session_id])
        runtime.queue.enqueue_processing(session_id)
        logger.warning("re-queued session %s after its lease ended", session_id)
    return len(rows)


def redispatch_lost_deliveries(runtime: Runtime) -> int:
    """Queue again webhook events whose attempt is overdue (lost enqueue, dead worker)."""
    cutoff = to_iso(utcnow() - timedelta(seconds=LOST_DELIVERY_GRACE_SECONDS))
    rows = runtime.db.execute(
        "SELECT id FROM webhook_events WHERE status = 'pending' AND next_attempt_at <= ?",
        [cutoff],
    ).fetchall()
    for row in rows:
        runtime.queue.enqueue_delivery(row[0])
    return len(rows)


def sweep(runtime: Runtime) -> None:
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
