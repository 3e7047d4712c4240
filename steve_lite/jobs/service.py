"""The job view: a session and its submission as one document (contract 2.4)."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from steve_lite.clock import parse_iso, utcnow

COMPLETION_EVENTS = ("session.completed", "session.review_required", "session.failed")
# A session that ends without being submitted (cancelled while pending, or expired) ends with
# its submission's cancellation.
UNSUBMITTED_END_EVENT = "submission.cancelled"


def load_job(db: Database, session_id: str) -> dict[str, Any] | None:
    """The session row joined with its workflow slug and its submission."""
    row = db.execute(
        "SELECT s.*, w.slug AS workflow_slug, sub.id AS submission_id, "
        "sub.status AS submission_status, sub.result AS result "
        "FROM sessions s JOIN workflows w ON w.id = s.workflow_id "
        "JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
        [session_id],
    ).fetchone()
    return dict(row) if row else None


def visible_state(job: dict[str, Any]) -> str:
    """A pending session past its TTL reads ``expired`` at once, before the sweep marks it."""
    if job["state"] == "pending" and parse_iso(job["expires_at"]) <= utcnow():
        return "expired"
    return job["state"]


def delivery_status(db: Database, job: dict[str, Any]) -> str | None:
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


def snapshot(job: dict[str, Any]) -> dict[str, Any]:
    """The fields shared by the job view and webhook payloads."""
    return {
        "sessionId": job["id"],
        "submissionId": job["submission_id"],
        "workflow": {"slug": job["workflow_slug"], "version": job["workflow_version"]},
        "companyId": job["company_id"],
        "state": visible_state(job),
        "submissionStatus": job["submission_status"],
        "result": json.loads(job["result"]) if job["result"] else None,
        "failedReason": job["failed_reason"],
        "clientSubmissionId": job["client_submission_id"],
        "metadata": json.loads(job["metadata"]) if job["metadata"] else None,
    }


def job_view(db: Database, job: dict[str, Any]) -> dict[str, Any]:
    """The contract's job view of ``job`` (a row from :func:`load_job`)."""
    return {
        **snapshot(job),
        "createdAt": job["created_at"],
        "expiresAt": job["expires_at"],
        "submittedAt": job["submitted_at"],
        "processedAt": job["processed_at"],
        "webhookDeliveryStatus": delivery_status(db, job),
    }
