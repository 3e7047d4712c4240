"""The webhook outbox: events written in the transaction of the change that causes them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from steve_lite.clock import now_iso
from steve_lite.db import Database
from steve_lite.ids import new_id
from steve_lite.jobs.service import snapshot
from steve_lite.sessions.store import load_session

if TYPE_CHECKING:
    from steve_lite.queue import Queue


def record_event(
    db: Database, session_id: str, event_type: str, extra: dict[str, Any] | None = None
) -> str | None:
    """Write an outbox row for ``event_type`` when the session has a webhook URL.

    Call it inside the transaction of the state change, after the change: the payload is the
    state as that transaction leaves it. Returns the event id, or None without a webhook URL.
    """
    job = load_session(db, session_id)
    if job is None or not job["webhook_url"]:
        return None
    event_id = new_id("evt")
    now = now_iso()
    payload = {
        "eventId": event_id,
        "eventType": event_type,
        "occurredAt": now,
        **snapshot(job),
        **(extra or {}),
    }
    db.insert(
        "webhook_events",
        {
            "id": event_id,
            "session_id": session_id,
            "api_key_id": job["api_key_id"],
            "event_type": event_type,
            "url": job["webhook_url"],
            "payload": json.dumps(payload, separators=(",", ":")),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        },
    )
    return event_id


def dispatch(queue: Queue | None, event_id: str | None) -> None:
    """Queue the first delivery attempt of an event committed to the outbox.

    Without a queue (or if this enqueue is lost) the worker's sweep picks the event up.
    """
    if queue is not None and event_id is not None:
        queue.enqueue_delivery(event_id)
