"""The lifecycle of sessions and their submissions: states, the transition table, and the SQL.

Every read and write of a session's state or its submission's status goes through this
module, so that the rules live in one place: the states and statuses (:class:`SessionState`,
:class:`SubmissionStatus`), which transition may leave which state (:data:`TRANSITIONS`), and
when a pending session counts as expired (:func:`is_expired`). Writes are conditional updates
(``... WHERE state = 'pending'``): of two racing changes one wins and the other learns it from
the return value. Callers run them inside :func:`steve_lite.db.transaction` together with the
events and outbox rows they cause; the store itself commits nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple, TypedDict, cast

from steve_lite.clock import now_iso, parse_iso, to_iso, utcnow
from steve_lite.db import Database
from steve_lite.errors import NotPending


class SessionState(StrEnum):
    PENDING = "pending"
    SUBMITTED = "submitted"
    COMPLETED = "completed"
    FAILED = "failed"
    EXPIRED = "expired"


class SubmissionStatus(StrEnum):
    CREATED = "created"
    PROCESSING = "processing"
    REVIEW = "review"
    APPROVED = "approved"
    SYNCED = "synced"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class Transition:
    """What one change requires and leaves: ``sessions`` and ``submissions`` are the states
    it may start from (empty: any, or no row yet), ``to_session`` and ``to_submission`` where
    it leaves them (None: unchanged, or decided by the outcome), ``event`` the submission event
    it records."""

    sessions: tuple[SessionState, ...]
    to_session: SessionState | None
    submissions: tuple[SubmissionStatus, ...]
    to_submission: SubmissionStatus | None
    event: str


S, B = SessionState, SubmissionStatus
TRANSITIONS: dict[str, Transition] = {
    "create": Transition((), S.PENDING, (), B.CREATED, "created"),
    "submit": Transition((S.PENDING,), S.SUBMITTED, (B.CREATED,), B.PROCESSING, "submitted"),
    # A submission cancelled before keeps its reason and history: expiry adds nothing to it.
    "expire": Transition((S.PENDING,), S.EXPIRED, (B.CREATED,), B.CANCELLED, "cancelled"),
    "start": Transition((S.SUBMITTED,), None, (), None, "processing_started"),
    # The outcome decides review or approved; a submission cancelled meanwhile stays cancelled.
    "complete": Transition(
        (S.SUBMITTED,), S.COMPLETED, (B.PROCESSING,), None, "processing_completed"
    ),
    "fail": Transition(
        (S.SUBMITTED,), S.FAILED, (B.CREATED, B.PROCESSING), B.FAILED, "processing_failed"
    ),
    "approve": Transition((), None, (B.REVIEW,), B.APPROVED, "approved"),
    "reject": Transition((), None, (B.REVIEW,), B.REJECTED, "rejected"),
    "cancel": Transition((), None, (B.CREATED, B.PROCESSING, B.REVIEW), B.CANCELLED, "cancelled"),
    # Resolving a fraud match changes fraudStatus, never the status.
    "resolve": Transition((), None, (), None, "fraud_match_resolved"),
}
REVIEW_ACTIONS = ("approve", "reject", "cancel")


class SessionRow(TypedDict):
    """A session joined with its workflow's slug and its submission."""

    id: str
    company_id: str
    api_key_id: str
    workflow_id: str
    workflow_version: int
    client_submission_id: str
    fingerprint: str
    state: str
    file_count: int
    webhook_url: str | None
    metadata: str | None
    external_user: str | None
    failed_reason: str | None
    created_at: str
    expires_at: str
    submitted_at: str | None
    processed_at: str | None
    lease_until: str | None
    objects_purged_at: str | None
    processing_attempts: int
    workflow_slug: str
    submission_id: str
    submission_status: str
    result: str | None


SESSION_SELECT = (
    "SELECT s.*, w.slug AS workflow_slug, sub.id AS submission_id, "
    "sub.status AS submission_status, sub.result AS result "
    "FROM sessions s JOIN workflows w ON w.id = s.workflow_id "
    "JOIN submissions sub ON sub.session_id = s.id"
)


def _one(db: Database, where: str, params: list[Any]) -> SessionRow | None:
    row = db.execute(f"{SESSION_SELECT} WHERE {where}", params).fetchone()
    return cast(SessionRow, dict(row)) if row else None


# ---------------------------------------------------------------- reading


def load_session(db: Database, session_id: str) -> SessionRow | None:
    """The session with its workflow slug and submission, whoever created it."""
    return _one(db, "s.id = ?", [session_id])


def load_own_session(db: Database, session_id: str, api_key_id: str) -> SessionRow | None:
    """The session when the key ``api_key_id`` created it (sessions are visible to it only)."""
    return _one(db, "s.id = ? AND s.api_key_id = ?", [session_id, api_key_id])


def find_by_client_id(
    db: Database, api_key_id: str, client_submission_id: str
) -> SessionRow | None:
    """The key's session for an idempotency key, if any."""
    return _one(
        db, "s.api_key_id = ? AND s.client_submission_id = ?", [api_key_id, client_submission_id]
    )


def is_expired(session: SessionRow | dict[str, Any], now: datetime | None = None) -> bool:
    """The TTL rule: a pending session whose ``expires_at`` has come is expired, whether or
    not the sweep has marked it yet."""
    if session["state"] != SessionState.PENDING:
        return False
    return parse_iso(session["expires_at"]) <= (now or utcnow())


def visible_state(session: SessionRow | dict[str, Any]) -> str:
    """The state callers see: ``expired`` at once for a pending session past its TTL."""
    return SessionState.EXPIRED if is_expired(session) else str(session["state"])


def pending_past_ttl(db: Database) -> list[str]:
    """The ids of pending sessions past their TTL (the same rule as :func:`is_expired`)."""
    rows = db.execute(
        "SELECT id FROM sessions WHERE state = ? AND expires_at <= ?",
        [SessionState.PENDING, now_iso()],
    )
    return [row[0] for row in rows]


def unpurged_past_uploads(db: Database) -> list[tuple[str, str]]:
    """``(id, state)`` of sessions whose upload objects have not been deleted yet although no
    upload URL of theirs is valid any more: expired ones, and submitted ones past their TTL."""
    rows = db.execute(
        "SELECT id, state FROM sessions WHERE objects_purged_at IS NULL "
        "AND state != ? AND (state = ? OR expires_at <= ?)",
        [SessionState.PENDING, SessionState.EXPIRED, now_iso()],
    )
    return [(row[0], row[1]) for row in rows]


def submitted_past_lease(db: Database, now: datetime) -> list[tuple[str, int]]:
    """``(id, processing_attempts)`` of submitted sessions nobody has renewed the lease of."""
    rows = db.execute(
        "SELECT id, processing_attempts FROM sessions WHERE state = ? "
        "AND (lease_until IS NULL OR lease_until <= ?)",
        [SessionState.SUBMITTED, to_iso(now)],
    )
    return [(row[0], int(row[1])) for row in rows]


def oldest_submitted_at(db: Database) -> str | None:
    """When the oldest session still waiting for processing was submitted (None: none waits)."""
    row = db.execute(
        "SELECT MIN(submitted_at) FROM sessions WHERE state = ?", [SessionState.SUBMITTED]
    ).fetchone()
    return row[0] if row else None


def submission_status(db: Database, submission_id: str) -> str:
    return str(
        db.execute("SELECT status FROM submissions WHERE id = ?", [submission_id]).fetchone()[0]
    )


# ---------------------------------------------------------------- create and submit


class SealedFile(NamedTuple):
    """An upload checked at submit and its sealed copy (see ``sessions.service.seal_uploads``)."""

    file_index: int
    size_bytes: int
    sealed_key: str
    sealed_etag: str


def insert_session(
    db: Database, session: dict[str, Any], files: list[dict[str, Any]], submission_id: str
) -> None:
    """A new session (``pending``), its file slots and its submission (``created``)."""
    row = {**session, "state": TRANSITIONS["create"].to_session}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT INTO sessions ({columns}) VALUES ({marks})", list(row.values()))
    db.executemany(
        "INSERT INTO session_files (session_id, file_index, label, content_type, object_key) "
        "VALUES (:session_id, :file_index, :label, :content_type, :object_key)",
        files,
    )
    db.execute(
        "INSERT INTO submissions (id, seq, session_id, company_id, workflow_id, workflow_version, "
        "status, created_at, updated_at) VALUES (?, "
        "(SELECT COALESCE(MAX(seq), 0) + 1 FROM submissions), ?, ?, ?, ?, ?, ?, ?)",
        [
            submission_id,
            session["id"],
            session["company_id"],
            session["workflow_id"],
            session["workflow_version"],
            TRANSITIONS["create"].to_submission,
            session["created_at"],
            session["created_at"],
        ],
    )


def submit(
    db: Database,
    session_id: str,
    submission_id: str,
    files: Iterable[SealedFile],
    lease: timedelta,
) -> bool:
    """``pending`` -> ``submitted`` with the uploads' sizes and sealed copies and a lease, and
    the submission ``created`` -> ``processing``. False when the session stopped being
    pending; :class:`NotPending` when its submission was cancelled meanwhile (the caller's
    transaction then rolls the session back)."""
    rule = TRANSITIONS["submit"]
    now = utcnow()
    cursor = db.execute(
        "UPDATE sessions SET state = ?, submitted_at = ?, lease_until = ? "
        "WHERE id = ? AND state = ?",
        [rule.to_session, to_iso(now), to_iso(now + lease), session_id, *rule.sessions],
    )
    if cursor.rowcount != 1:
        return False
    db.executemany(
        "UPDATE session_files SET size_bytes = ?, sealed_key = ?, sealed_etag = ? "
        "WHERE session_id = ? AND file_index = ?",
        [(f.size_bytes, f.sealed_key, f.sealed_etag, session_id, f.file_index) for f in files],
    )
    cursor = db.execute(
        "UPDATE submissions SET status = ?, updated_at = ? WHERE id = ? AND status = ?",
        [rule.to_submission, to_iso(now), submission_id, *rule.submissions],
    )
    if cursor.rowcount != 1:
        raise NotPending(f"submission {submission_id} was cancelled")
    return True


# ---------------------------------------------------------------- expiry


class Expiry(NamedTuple):
    """A session that expired: its submission, and whether expiry cancelled it (False when it
    was cancelled before)."""

    submission_id: str
    cancelled: bool


def expire(db: Database, session_id: str, reason: str) -> Expiry | None:
    """``pending`` -> ``expired``, its submission ``cancelled`` with ``reason`` when still
    ``created``; None when the session was not pending."""
    rule = TRANSITIONS["expire"]
    cursor = db.execute(
        "UPDATE sessions SET state = ? WHERE id = ? AND state = ?",
        [rule.to_session, session_id, *rule.sessions],
    )
    if cursor.rowcount != 1:
        return None
    submission_id = str(
        db.execute("SELECT id FROM submissions WHERE session_id = ?", [session_id]).fetchone()[0]
    )
    cursor = db.execute(
        "UPDATE submissions SET status = ?, cancel_reason = ?, updated_at = ? "
        "WHERE id = ? AND status = ?",
        [rule.to_submission, reason, now_iso(), submission_id, *rule.submissions],
    )
    return Expiry(submission_id, cancelled=cursor.rowcount == 1)


def file_keys(db: Database, session_id: str) -> list[tuple[str, str | None]]:
    """``(object_key, sealed_key)`` of each file slot (no sealed copy before submit)."""
    rows = db.execute(
        "SELECT object_key, sealed_key FROM session_files WHERE session_id = ?", [session_id]
    )
    return [(row[0], row[1]) for row in rows]


def mark_purged(db: Database, session_id: str) -> None:
    db.execute("UPDATE sessions SET objects_purged_at = ? WHERE id = ?", [now_iso(), session_id])


# ---------------------------------------------------------------- processing


def renew_lease(db: Database, session_id: str, seconds: float) -> None:
    """Push the lease of a submitted session forward (the sweep re-queues lapsed ones)."""
    db.execute(
        "UPDATE sessions SET lease_until = ? WHERE id = ? AND state = ?",
        [to_iso(utcnow() + timedelta(seconds=seconds)), session_id, SessionState.SUBMITTED],
    )


def take_lapsed_lease(db: Database, session_id: str, now: datetime, until: datetime) -> bool:
    """Give a submitted session whose lease has lapsed a new one ending at ``until``; False when
    another sweep (or a worker's renewal) moved it first."""
    cursor = db.execute(
        "UPDATE sessions SET lease_until = ? WHERE id = ? AND state = ? "
        "AND (lease_until IS NULL OR lease_until <= ?)",
        [to_iso(until), session_id, SessionState.SUBMITTED, to_iso(now)],
    )
    return cursor.rowcount == 1


def count_attempt(db: Database, session_id: str) -> int:
    """One more processing attempt; the attempt's number."""
    return int(
        db.execute(
            "UPDATE sessions SET processing_attempts = processing_attempts + 1 WHERE id = ? "
            "RETURNING processing_attempts",
            [session_id],
        ).fetchone()[0]
    )


def forgive_attempt(db: Database, session_id: str) -> None:
    """Take back an attempt (one that object storage cut short)."""
    db.execute(
        "UPDATE sessions SET processing_attempts = processing_attempts - 1 "
        "WHERE id = ? AND processing_attempts > 0",
        [session_id],
    )


def complete(db: Database, session_id: str) -> bool:
    """``submitted`` -> ``completed``; False when another run finished it first."""
    rule = TRANSITIONS["complete"]
    cursor = db.execute(
        "UPDATE sessions SET state = ?, processed_at = ?, lease_until = NULL "
        "WHERE id = ? AND state = ?",
        [rule.to_session, now_iso(), session_id, *rule.sessions],
    )
    return cursor.rowcount == 1


def store_outcome(
    db: Database,
    submission_id: str,
    *,
    status: str,
    result: str,
    confidence: float,
    fraud_status: str,
    fraud_score: int,
) -> None:
    """The submission's result and status once its session completed."""
    db.execute(
        "UPDATE submissions SET status = ?, result = ?, confidence = ?, fraud_status = ?, "
        "fraud_score = ?, updated_at = ? WHERE id = ?",
        [status, result, confidence, fraud_status, fraud_score, now_iso(), submission_id],
    )


def fail(db: Database, session_id: str, submission_id: str, reason: str) -> bool:
    """``submitted`` -> ``failed`` with ``reason``, the submission ``failed`` unless it was
    cancelled; False when another run finished it first."""
    rule = TRANSITIONS["fail"]
    now = now_iso()
    cursor = db.execute(
        "UPDATE sessions SET state = ?, failed_reason = ?, processed_at = ?, lease_until = NULL "
        "WHERE id = ? AND state = ?",
        [rule.to_session, reason, now, session_id, *rule.sessions],
    )
    if cursor.rowcount != 1:
        return False
    marks = ", ".join("?" for _ in rule.submissions)
    db.execute(
        f"UPDATE submissions SET status = ?, updated_at = ? WHERE id = ? AND status IN ({marks})",
        [rule.to_submission, now, submission_id, *rule.submissions],
    )
    return True


# ---------------------------------------------------------------- review


def review(db: Database, submission_id: str, action: str, reason: str | None) -> bool:
    """Approve, reject or cancel by :data:`TRANSITIONS`; False from any other status."""
    rule = TRANSITIONS[action]
    target = rule.to_submission
    marks = ", ".join("?" for _ in rule.submissions)
    cursor = db.execute(
        "UPDATE submissions SET status = ?, updated_at = ?, "
        "reject_reason = CASE WHEN ? = 'rejected' THEN ? ELSE reject_reason END, "
        "cancel_reason = CASE WHEN ? = 'cancelled' THEN ? ELSE cancel_reason END "
        f"WHERE id = ? AND status IN ({marks})",
        [target, now_iso(), target, reason, target, reason, submission_id, *rule.submissions],
    )
    return cursor.rowcount == 1


def set_fraud_status(db: Database, submission_id: str, fraud_status: str) -> None:
    """A resolved match's consequence: ``fraudStatus`` on the row and in its result."""
    db.execute(
        "UPDATE submissions SET fraud_status = ?, updated_at = ?, "
        "result = CASE WHEN result IS NULL THEN NULL "
        "ELSE json_set(result, '$.fraudStatus', ?) END WHERE id = ?",
        [fraud_status, now_iso(), fraud_status, submission_id],
    )
