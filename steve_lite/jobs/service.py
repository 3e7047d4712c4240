"""The job view: a session and its submission as one document (contract 2.4)."""

from __future__ import annotations

import json
from typing import Any

from steve_lite.db import Database
from steve_lite.sessions import store
from steve_lite.sessions.store import SessionRow

COMPLETION_EVENTS = ("session.completed", "session.review_required", "session.failed")
# A session that ends without being submitted (cancelled while pending, or expired) ends with
# its submission's cancellation.
UNSUBMITTED_END_EVENT = "submission.cancelled"


def delivery_status(db: Database, job: SessionRow) -> str | None:
    """The delivery status of the event that ended the session (null without a webhook URL):
    its completion once submitted, else its submission's cancellation."""
    if not job["webhook_url"]:
        return None
    ending = COMPLETION_EVENTS if job["submitted_at"] else (UNSUBMITTED_END_EVENT,)
    marks = ", ".join("?" for _ in ending)
    row = db.execute(
        f"SELECT status FROM webhook_events WHERE session_id = ? AND event_type IN ({marks}) "
        "ORDER BY created_at LIMIT 1",
        [job["id"], *ending],
    ).fetchone()
    return row[0] if row else "pending"


def snapshot(job: SessionRow) -> dict[str, Any]:
    """The fields shared by the job view and webhook payloads."""
    return {
        "sessionId": job["id"],
        "submissionId": job["submission_id"],
        "workflow": {"slug": job["workflow_slug"], "version": job["workflow_version"]},
        "companyId": job["company_id"],
        "state": store.visible_state(job),
        "submissionStatus": job["submission_status"],
        "result": json.loads(job["result"]) if job["result"] else None,
        "failedReason": job["failed_reason"],
        "clientSubmissionId": job["client_submission_id"],
        "metadata": json.loads(job["metadata"]) if job["metadata"] else None,
    }


def job_view(db: Database, job: SessionRow) -> dict[str, Any]:
    """The contract's job view of ``job``."""
    return {
        **snapshot(job),
        "createdAt": job["created_at"],
        "expiresAt": job["expires_at"],
        "submittedAt": job["submitted_at"],
        "processedAt": job["processed_at"],
        "webhookDeliveryStatus": delivery_status(db, job),
    }
