"""The submission event log: one row per transition, written with the transition."""

from __future__ import annotations

import json
from typing import Any

from steve_lite.clock import now_iso
from steve_lite.db import Database
from steve_lite.ids import new_id


def append_event(
    db: Database,
    submission_id: str,
    event_type: str,
    *,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> str:
    """Append an event; call it inside the transaction of the change it records."""
    event_id = new_id("evt")
    db.execute(
        "INSERT INTO submission_events (id, submission_id, type, occurred_at, actor, data) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [event_id, submission_id, event_type, now_iso(), actor, json.dumps(data or {})],
    )
    return event_id


def has_event(db: Database, submission_id: str, event_type: str) -> bool:
    return (
        db.execute(
            "SELECT 1 FROM submission_events WHERE submission_id = ? AND type = ? LIMIT 1",
            [submission_id, event_type],
        ).fetchone()
        is not None
    )
