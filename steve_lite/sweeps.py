"""Periodic upkeep run by the worker: expire sessions, re-queue lost work, prune counters."""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import timedelta

from steve_lite.clock import to_iso, utcnow
from steve_lite.db import Database
from steve_lite.processing.pipeline import INTERNAL_FAILURE_REASON, dispatch_events, fail
from steve_lite.security.rate_limit import prune_windows
from steve_lite.services import WorkerServices
from steve_lite.sessions import store
from steve_lite.sessions.service import expire_session, sealed_key_for
from steve_lite.storage.s3 import StorageError

logger = logging.getLogger("steve_lite.sweeps")

LOST_DELIVERY_GRACE_SECONDS = 5
CLAIM_SHARE_OF_PERIOD = 0.8


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
    """Queue again sessions left ``submitted`` past their lease (lost enqueue, a flushed queue,
    dead worker); fail those that already had every attempt (each attempt ended by a crash, for
    example). Each lapsed lease is taken by one sweep only, on any machine."""
    db = runtime.db
    now = utcnow()
    rows = store.submitted_past_lease(db, now)
    lease = now + timedelta(seconds=runtime.settings.processing_lease_seconds)
    handled = 0
    for session_id, attempts in rows:
        if attempts >= runtime.settings.processing_max_attempts:
            session = store.load_session(db, session_id)
            assert session is not None
            fail(runtime, session, INTERNAL_FAILURE_REASON.format(attempts=attempts))
            logger.warning("session %s failed: %s attempts did not finish", session_id, attempts)
        elif store.take_lapsed_lease(db, session_id, now, lease):
            runtime.queue.enqueue_processing(session_id)
            logger.warning("re-queued session %s after its lease ended", session_id)
        else:
            continue  # taken by another sweep, or renewed, since it was read
        handled += 1
    return handled


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


def claim_period(db: Database, name: str, period: float) -> bool:
    """Claim periodic work ``name`` for this period: True for the one caller (of any worker,
    on any machine) that finds the last claim over. A claim lasts a share of the period, so
    that the next period's first caller finds it over whatever the jitter of the schedulers."""
    now = utcnow()
    until = now + timedelta(seconds=period * CLAIM_SHARE_OF_PERIOD)
    cursor = db.execute(
        "INSERT INTO periodic_claims (name, holder, until) VALUES (?, ?, ?) "
        "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until "
        "WHERE periodic_claims.until <= ?",
        [name, f"{socket.gethostname()}:{os.getpid()}", to_iso(until), to_iso(now)],
    )
    return cursor.rowcount == 1


def periodic_sweep(runtime: WorkerServices, *, first: bool) -> None:
    """The periodic task: :func:`sweep`, by the first worker to ask in each period, and by each
    worker once at its start (``first``: one started to replace a dead one queues its work
    again at once)."""
    claimed = claim_period(runtime.db, "sweep", runtime.settings.sweep_interval_seconds)
    if claimed or first:
        sweep(runtime)
    else:
        logger.debug("sweep: another worker has swept in this period")


def sweep(runtime: WorkerServices) -> None:
    """Run every upkeep step (the worker claims a period first: :func:`periodic_sweep`)."""
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
