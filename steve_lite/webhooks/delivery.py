"""Delivering one outbox event: claim an attempt, sign, send, then record and reschedule."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from steve_lite import metrics
from steve_lite.clock import now_iso, parse_iso, to_iso, utcnow
from steve_lite.db import Database, transaction
from steve_lite.services import WorkerServices
from steve_lite.signatures import signature_headers
from steve_lite.webhooks.sender import SendResult, send_webhook

logger = logging.getLogger("steve_lite.webhooks")

IN_FLIGHT_GRACE_SECONDS = 30
EARLY_TOLERANCE_SECONDS = 1


def claim_attempt(db: Database, event_id: str, in_flight_seconds: float) -> dict[str, Any] | None:
    """Take the next attempt of a due, pending event; None when it is not ours to send.

    The claim moves ``next_attempt_at`` past the attempt's deadline, so the sweep only
    re-dispatches it if this worker dies mid-attempt.
    """
    now = utcnow()
    with transaction(db):
        row = db.execute(
            "SELECT e.*, k.key_hash FROM webhook_events e JOIN api_keys k ON k.id = e.api_key_id "
            "WHERE e.id = ?",
            [event_id],
        ).fetchone()
        if row is None or row["status"] != "pending":
            return None
        if parse_iso(row["next_attempt_at"]) > now + timedelta(seconds=EARLY_TOLERANCE_SECONDS):
            return None
        db.execute(
            "UPDATE webhook_events SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?",
            [to_iso(now + timedelta(seconds=in_flight_seconds)), event_id],
        )
    return {**dict(row), "attempts": row["attempts"] + 1}


def record_attempt(
    db: Database, event: dict[str, Any], result: SendResult, retry_delays: list[float]
) -> float | None:
    """Store the attempt's outcome; return the delay before the next attempt, or None."""
    now = utcnow()
    attempt = event["attempts"]
    retry_in = None if result.success or attempt > len(retry_delays) else retry_delays[attempt - 1]
    status = "delivered" if result.success else ("pending" if retry_in is not None else "failed")
    next_at = to_iso(now + timedelta(seconds=retry_in)) if retry_in is not None else to_iso(now)
    with transaction(db):
        db.execute(
            "UPDATE webhook_events SET status = ?, next_attempt_at = ?, last_status_code = ?, "
            "last_error = ?, delivered_at = ? WHERE id = ?",
            [
                status,
                next_at,
                result.status_code,
                result.error,
                now_iso() if result.success else None,
                event["id"],
            ],
        )
    return retry_in


def deliver(runtime: WorkerServices, event_id: str) -> None:
    """The task: one attempt at delivering ``event_id``."""
    settings = runtime.settings
    timeout = settings.webhook_timeout_seconds
    event = claim_attempt(runtime.db, event_id, timeout + IN_FLIGHT_GRACE_SECONDS)
    if event is None:
        return
    body = event["payload"].encode()
    headers = signature_headers(
        secret_hex=event["key_hash"],
        event_id=event["id"],
        event_type=event["event_type"],
        body=body,
        timestamp=int(time.time()),
    )
    result = send_webhook(
        event["url"], body, headers, timeout=timeout, allow_private=settings.webhook_allow_private
    )
    retry_in = record_attempt(runtime.db, event, result, settings.retry_delays)
    metrics.webhook_attempted(event, result.success, retry_in)
    logger.info(
        "webhook %s %s attempt %s: %s",
        event["id"],
        event["event_type"],
        event["attempts"],
        "delivered" if result.success else result.error,
    )
    if retry_in is not None:
        runtime.queue.enqueue_delivery(event_id, delay=retry_in)
