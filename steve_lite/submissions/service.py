"""Submissions: listing, detail, the review state machine (approve, reject, cancel, resolve
fraud matches) and reviewers' corrections. Every transition appends an event and writes its
webhook to the outbox in the same transaction; a correction appends its events with the change."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from jsonschema import Draft202012Validator

from steve_lite.clock import now_iso, to_iso, utcnow
from steve_lite.db import Database, transaction
from steve_lite.errors import Conflict, FieldError, Invalid, Malformed, NotFound
from steve_lite.formats import EXTENSIONS
from steve_lite.http.bodies import field_path
from steve_lite.pagination import paginate
from steve_lite.sessions import store
from steve_lite.sessions.service import sealed_key_for
from steve_lite.storage.s3 import ObjectStorage
from steve_lite.submissions.events import append_event
from steve_lite.submissions.schemas import FRAUD_STATUSES, STATUSES
from steve_lite.webhooks.outbox import record_event
from steve_lite.workflows.schemas import WorkflowDefinition
from steve_lite.workflows.service import get_definition

MAX_EVENTS = 100
WEBHOOK_EVENTS = {
    "approve": "submission.approved",
    "reject": "submission.rejected",
    "cancel": "submission.cancelled",
}

SUBMISSION_COLUMNS = (
    "sub.*, s.client_submission_id, s.external_user, s.metadata, "
    "w.slug AS workflow_slug, w.name AS workflow_name"
)
SUBMISSION_JOINS = (
    "FROM submissions sub JOIN sessions s ON s.id = sub.session_id "
    "JOIN workflows w ON w.id = sub.workflow_id"
)


def loads(value: str | None) -> Any:
    return json.loads(value) if value else None


def item_json(row: dict[str, Any]) -> dict[str, Any]:
    """The list item of one submission row."""
    result = loads(row["result"])
    return {
        "id": row["id"],
        "sessionId": row["session_id"],
        "submissionStatus": row["status"],
        "fraudStatus": row["fraud_status"],
        "fraudScore": row["fraud_score"],
        "workflow": {
            "slug": row["workflow_slug"],
            "name": row["workflow_name"],
            "version": row["workflow_version"],
        },
        "extractedData": result["extractedData"] if result else None,
        "confidence": row["confidence"],
        "clientSubmissionId": row["client_submission_id"],
        "externalUser": loads(row["external_user"]),
        "metadata": loads(row["metadata"]),
        "createdAt": row["created_at"],
        "updatedAt": row["updated_at"],
    }


def check_filters(status: str | None, fraud_status: str | None) -> None:
    """Unknown filter values are invalid query parameters: 400, naming each one."""
    errors = []
    if status is not None and status not in STATUSES:
        errors.append(FieldError("status", f"must be one of {', '.join(STATUSES)}", "enum"))
    if fraud_status is not None and fraud_status not in FRAUD_STATUSES:
        errors.append(
            FieldError("fraudStatus", f"must be one of {', '.join(FRAUD_STATUSES)}", "enum")
        )
    if errors:
        raise Malformed("invalid request parameters", errors=errors)


def list_submissions(
    db: Database,
    company_id: str,
    *,
    workflow: str | None = None,
    status: str | None = None,
    fraud_status: str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of the company's submissions, newest first, and the next cursor."""
    check_filters(status, fraud_status)
    where, params = ["sub.company_id = ?"], [company_id]
    for column, value in (
        ("w.slug", workflow),
        ("sub.status", status),
        ("sub.fraud_status", fraud_status),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)

    def fetch(after: int | None, count: int) -> list[dict[str, Any]]:
        clauses = [*where, "sub.seq < ?"] if after is not None else where
        args = [*params, after] if after is not None else params
        sql = (
            f"SELECT {SUBMISSION_COLUMNS} {SUBMISSION_JOINS} WHERE {' AND '.join(clauses)} "
            "ORDER BY sub.seq DESC LIMIT ?"
        )
        return [dict(row) for row in db.execute(sql, [*args, count])]

    scope = f"submissions:{company_id}:{workflow}:{status}:{fraud_status}"
    rows, next_cursor = paginate(
        db, scope=scope, limit=limit, cursor=cursor, fetch=fetch, position=lambda r: r["seq"]
    )
    return [item_json(row) for row in rows], next_cursor


def load_submission(db: Database, company_id: str, submission_id: str) -> dict[str, Any]:
    """The submission when it belongs to ``company_id``; else 404."""
    row = db.execute(
        f"SELECT {SUBMISSION_COLUMNS} {SUBMISSION_JOINS} WHERE sub.id = ? AND sub.company_id = ?",
        [submission_id, company_id],
    ).fetchone()
    if row is None:
        raise NotFound(f"submission {submission_id!r} not found")
    return dict(row)


def match_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "kind": row["kind"],
        "score": row["score"],
        "fileIndex": row["file_index"],
        "matchedSubmissionId": row["matched_submission_id"],
        "matchedFileIndex": row["matched_file_index"],
        "details": loads(row["details"]) or {},
        "status": row["status"],
        "resolution": row["resolution"],
        "note": row["note"],
        "resolvedAt": row["resolved_at"],
    }


def fraud_matches(
    db: Database, submission_id: str, *, after: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The submission's fraud matches, oldest first (``after`` a match id; all without a
    ``limit``)."""
    sql = "SELECT * FROM fraud_matches WHERE submission_id = ?"
    params: list[Any] = [submission_id]
    if after is not None:
        sql += " AND (created_at, id) > (SELECT created_at, id FROM fraud_matches WHERE id = ?)"
        params.append(after)
    sql += " ORDER BY created_at, id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [dict(row) for row in db.execute(sql, params)]


def list_fraud_matches(
    db: Database, company_id: str, submission_id: str, *, limit: int | None, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    load_submission(db, company_id, submission_id)
    rows, next_cursor = paginate(
        db,
        scope=f"fraud-matches:{submission_id}",
        limit=limit,
        cursor=cursor,
        fetch=lambda after, n: fraud_matches(db, submission_id, after=after, limit=n),
        position=lambda row: row["id"],
    )
    return [match_json(row) for row in rows], next_cursor


def download_url(
    storage: ObjectStorage, submission_id: str, row: dict[str, Any], ttl: timedelta
) -> str:
    """A presigned GET of the file's sealed copy (of nothing yet before submit), answered as an
    attachment of its checked image type: never as what the uploader sent."""
    key = row["sealed_key"] or sealed_key_for(row["object_key"])
    content_type = row["content_type"]  # submit refused files whose bytes are not this type
    filename = f"{submission_id}-{row['file_index']}.{EXTENSIONS[content_type]}"
    return storage.presign_get(key, ttl, content_type=content_type, filename=filename)


def files_json(
    db: Database, storage: ObjectStorage, submission_id: str, session_id: str, ttl_seconds: int
) -> list[dict[str, Any]]:
    """Every file slot with a presigned GET URL (valid ``ttl_seconds``)."""
    ttl = timedelta(seconds=ttl_seconds)
    expires = to_iso(utcnow() + ttl)
    rows = db.execute(
        "SELECT * FROM session_files WHERE session_id = ? ORDER BY file_index", [session_id]
    )
    return [
        {
            "fileIndex": row["file_index"],
            "label": row["label"],
            "contentType": row["content_type"],
            "sizeBytes": row["size_bytes"],
            "downloadUrl": download_url(storage, submission_id, dict(row), ttl),
            "downloadUrlExpiresAt": expires,
        }
        for row in rows
    ]


def events_json(db: Database, submission_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT * FROM submission_events WHERE submission_id = ? ORDER BY seq DESC LIMIT ?",
        [submission_id, MAX_EVENTS],
    )
    return [
        {
            "id": row["id"],
            "type": row["type"],
            "occurredAt": row["occurred_at"],
            "actor": row["actor"],
            "data": loads(row["data"]) or {},
        }
        for row in rows
    ]


def submission_detail(
    db: Database, storage: ObjectStorage, company_id: str, submission_id: str, url_ttl: int
) -> dict[str, Any]:
    """The detail view: the list item plus files, result, matches, events and reasons."""
    row = load_submission(db, company_id, submission_id)
    return {
        **item_json(row),
        "files": files_json(db, storage, submission_id, row["session_id"], url_ttl),
        "result": loads(row["result"]),
        "fraudMatches": [match_json(m) for m in fraud_matches(db, submission_id)],
        "events": events_json(db, submission_id),
        "rejectReason": row["reject_reason"],
        "cancelReason": row["cancel_reason"],
    }


def transition(
    db: Database,
    company_id: str,
    submission_id: str,
    action: str,
    *,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
) -> str | None:
    """Approve, reject or cancel: 409 ``conflict`` from any state the action does not allow.

    Returns the id of the webhook event written to the outbox (None without a webhook URL).

    The conditional update decides races: of two concurrent approvals one changes the row and
    the other finds it already ``approved``.
    """
    rule = store.TRANSITIONS[action]
    with transaction(db):
        row = load_submission(db, company_id, submission_id)
        if not store.review(db, submission_id, action, reason):
            raise Conflict(
                f"submission {submission_id} is {row['status']}; {action} needs "
                + " or ".join(rule.submissions)
            )
        data = {"from": row["status"], **({"reason": reason} if reason else {})}
        if note:
            data["note"] = note
        append_event(db, submission_id, rule.event, actor=actor, data=data)
        extra = {"reason": reason} if action in ("reject", "cancel") else None
        return record_event(db, row["session_id"], WEBHOOK_EVENTS[action], extra)


def resolve_fraud_match(
    db: Database,
    company_id: str,
    submission_id: str,
    match_id: str,
    *,
    resolution: str,
    note: str | None,
    actor: str,
) -> tuple[dict[str, Any], str | None]:
    """Resolve one open match (409 when already resolved) and update ``fraudStatus``:
    ``clean`` once every match is a false positive, ``blocked`` on confirmed fraud.

    Returns the resolved match and the id of its outbox event."""
    with transaction(db):
        submission = load_submission(db, company_id, submission_id)
        now = now_iso()
        cursor = db.execute(
            "UPDATE fraud_matches SET status = 'resolved', resolution = ?, note = ?, "
            "resolved_at = ? WHERE id = ? AND submission_id = ? AND status = 'open'",
            [resolution, note, now, match_id, submission_id],
        )
        match = db.execute(
            "SELECT * FROM fraud_matches WHERE id = ? AND submission_id = ?",
            [match_id, submission_id],
        ).fetchone()
        if match is None:
            raise NotFound(f"fraud match {match_id!r} not found")
        if cursor.rowcount != 1:
            raise Conflict(f"fraud match {match_id} is already resolved")
        resolutions = [
            r[0]
            for r in db.execute(
                "SELECT resolution FROM fraud_matches WHERE submission_id = ?", [submission_id]
            )
        ]
        fraud_status = submission["fraud_status"]
        if "confirmed_fraud" in resolutions:
            fraud_status = "blocked"
        elif all(r == "false_positive" for r in resolutions):
            fraud_status = "clean"
        store.set_fraud_status(db, submission_id, fraud_status)
        resolved = match_json(dict(match))
        append_event(
            db,
            submission_id,
            store.TRANSITIONS["resolve"].event,
            actor=actor,
            data={"matchId": match_id, "resolution": resolution, "fraudStatus": fraud_status},
        )
        event_id = record_event(
            db,
            submission["session_id"],
            "submission.fraud_match_resolved",
            {"fraudMatch": resolved},
        )
    return resolved, event_id


def correction_errors(
    definition: WorkflowDefinition, data: dict[str, Any], changes: dict[str, Any]
) -> list[FieldError]:
    """What is wrong with ``changes`` to ``data``: fields the output schema does not name, and
    values the version's ``outputJsonSchema`` refuses once applied. Paths start with
    ``extractedData``."""
    names = {field.name for field in definition.output_schema}
    errors = [
        FieldError(f"extractedData.{name}", "is not a field of this workflow version", "unknown")
        for name in changes
        if name not in names
    ]
    if errors:
        return errors
    validator = Draft202012Validator(
        definition.output_json_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    for problem in validator.iter_errors({**data, **changes}):
        location = ("extractedData", *problem.absolute_path)
        if len(location) > 1 and location[1] in changes:
            errors.append(FieldError(field_path(location), problem.message, problem.validator))
    return errors


def correct(
    db: Database,
    company_id: str,
    submission_id: str,
    changes: dict[str, Any],
    *,
    actor: str,
) -> list[dict[str, Any]]:
    """Apply a reviewer's corrections to a submission in ``review`` (409 in any other state).

    Each field whose value changes becomes a ``corrected`` event (``field``, ``before``,
    ``after``) and an entry of ``result.corrections``, which keeps one entry per field: the value
    processing read (``before``), the current one (``after``), who changed it last and when. A
    field set back to what processing read leaves the list. Returns the corrections applied now.
    """
    with transaction(db):
        row = load_submission(db, company_id, submission_id)
        if row["status"] != "review":
            raise Conflict(
                f"submission {submission_id} is {row['status']}; corrections need review"
            )
        definition = get_definition(db, row["workflow_id"], row["workflow_version"])
        result = loads(row["result"])
        if definition is None or result is None:
            raise Conflict(f"submission {submission_id} has no result to correct")
        data = result["extractedData"]
        errors = correction_errors(definition, data, changes)
        if errors:
            fields = ", ".join(error.field for error in errors)
            raise Invalid(f"the corrections are invalid: {fields}", errors=errors)
        applied = [
            {"field": name, "before": data.get(name), "after": value}
            for name, value in changes.items()
            if data.get(name) != value
        ]
        if not applied:
            return []
        now = now_iso()
        earlier = {entry["field"]: entry for entry in result.get("corrections", [])}
        for change in applied:
            name = change["field"]
            read = earlier[name]["before"] if name in earlier else change["before"]
            earlier.pop(name, None)
            if read != change["after"]:
                earlier[name] = {
                    "field": name,
                    "before": read,
                    "after": change["after"],
                    "correctedBy": actor,
                    "correctedAt": now,
                }
            data[name] = change["after"]
            append_event(db, submission_id, "corrected", actor=actor, data=change)
        result["corrections"] = list(earlier.values())
        db.execute(
            "UPDATE submissions SET result = ?, updated_at = ? WHERE id = ?",
            [json.dumps(result), now, submission_id],
        )
    return applied


def review_with_corrections(
    db: Database,
    company_id: str,
    submission_id: str,
    *,
    changes: dict[str, Any],
    action: str | None,
    actor: str,
    reason: str | None = None,
    note: str | None = None,
) -> str | None:
    """Corrections, then the decision (``approve``, ``reject``, ``cancel`` or None), in one
    transaction: a refused decision keeps no correction. Returns the decision's outbox event id,
    so the ``submission.approved`` webhook carries the corrected data."""
    with transaction(db):
        if changes:
            correct(db, company_id, submission_id, changes, actor=actor)
        if action is None:
            return None
        return transition(
            db, company_id, submission_id, action, actor=actor, reason=reason, note=note
        )
