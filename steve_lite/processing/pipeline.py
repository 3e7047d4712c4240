"""Processing one submitted session (contract 2.5), idempotently.

Steps: load; mark processing (event ``processing_started``, once); download, check and decode
every file; store a perceptual hash per image; run the workflow's processor; run fraud checks;
decide the outcome; store result, fraud matches, events and the webhook outbox row in one
transaction. That last transaction only commits if the session is still ``submitted``, so a
task that runs twice, or is killed and re-queued, leaves exactly one outcome.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from steve_lite.clock import now_iso, to_iso, utcnow
from steve_lite.db import transaction
from steve_lite.processing import fraud
from steve_lite.processing.compliance import (
    ComplianceThresholds,
    check_photos,
    compliance_confidence,
)
from steve_lite.processing.images import (
    DecodedImage,
    ImageDecodeError,
    decode_image,
    perceptual_hash,
)
from steve_lite.processing.ocr import OcrPage, document_confidence, document_result
from steve_lite.processing.receipts import extract_receipt
from steve_lite.storage.s3 import ObjectChangedError, ObjectNotFoundError, ObjectTooLargeError
from steve_lite.submissions.events import append_event, has_event
from steve_lite.webhooks.outbox import record_event
from steve_lite.workflows.schemas import FORMATS, WorkflowDefinition
from steve_lite.workflows.service import get_definition

if TYPE_CHECKING:
    from steve_lite.worker import Runtime

logger = logging.getLogger("steve_lite.processing")


class FileFailure(Exception):
    """A file that cannot be processed; the session fails with this reason."""


@dataclass(frozen=True)
class Outcome:
    """What processing decided."""

    status: str
    result: dict[str, Any]
    confidence: float
    matches: list[fraud.Match]


def load_submitted(db: Database, session_id: str) -> dict[str, Any] | None:
    row = db.execute(
        "SELECT s.*, sub.id AS submission_id, sub.status AS submission_status "
        "FROM sessions s JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
        [session_id],
    ).fetchone()
    return dict(row) if row else None


def renew_lease(db: Database, session_id: str, seconds: int) -> None:
    """Push the lease forward so the sweep does not re-queue a session that is progressing."""
    db.execute(
        "UPDATE sessions SET lease_until = ? WHERE id = ? AND state = 'submitted'",
        [to_iso(utcnow() + timedelta(seconds=seconds)), session_id],
    )


def mark_started(db: Database, session: dict[str, Any], lease_seconds: int) -> None:
    """Event ``processing_started`` once, however many times the task runs."""
    with transaction(db):
        renew_lease(db, session["id"], lease_seconds)
        if not has_event(db, session["submission_id"], "processing_started"):
            append_event(db, session["submission_id"], "processing_started")


def present_files(db: Database, session_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT * FROM session_files WHERE session_id = ? AND size_bytes > 0 ORDER BY file_index",
        [session_id],
    )
    return [dict(row) for row in rows]


def load_images(
    runtime: Runtime, session: dict[str, Any], files: list[dict[str, Any]], accepted: list[str]
) -> list[DecodedImage]:
    """Download and decode the sealed copy of every file; a bad file raises
    :class:`FileFailure` naming it.

    Storage outages raise ``StorageError`` so that the task is retried.
    """
    limit_bytes = max(f["size_bytes"] for f in files) + 1
    images = []
    for file in files:
        name = f"file {file['file_index']} ({file['label']})"
        try:
            data = runtime.storage.download(
                file["sealed_key"], max_bytes=limit_bytes, etag=file["sealed_etag"]
            )
            images.append(decode_image(data, accepted))
        except ObjectNotFoundError:
            raise FileFailure(f"{name}: the uploaded object is gone") from None
        except ObjectChangedError:
            raise FileFailure(f"{name}: the sealed copy changed after submit") from None
        except ObjectTooLargeError:
            raise FileFailure(f"{name}: the object changed size after submit") from None
        except ImageDecodeError as exc:
            raise FileFailure(f"{name}: {exc}") from None
        renew_lease(runtime.db, session["id"], runtime.settings.processing_lease_seconds)
    return images


def store_hashes(
    db: Database, session_id: str, files: list[dict[str, Any]], images: list[DecodedImage]
) -> list[fraud.HashedFile]:
    """Compute and store a perceptual hash and SHA-256 per image, before anything else."""
    hashed = [
        fraud.HashedFile(f["file_index"], perceptual_hash(image.image), image.sha256)
        for f, image in zip(files, images, strict=True)
    ]
    with transaction(db):
        for item in hashed:
            db.execute(
                "UPDATE session_files SET phash = ?, sha256 = ? "
                "WHERE session_id = ? AND file_index = ?",
                [item.phash, item.sha256, session_id, item.file_index],
            )
    return hashed


def read_pages(
    runtime: Runtime, session_id: str, files: list[dict[str, Any]], images: list[DecodedImage]
) -> list[OcrPage]:
    """OCR every page; store each page's text for later fraud checks."""
    pages = []
    for file, image in zip(files, images, strict=True):
        page = runtime.ocr.read(image.image)
        pages.append(page)
        runtime.db.execute(
            "UPDATE session_files SET ocr_text = ? WHERE session_id = ? AND file_index = ?",
            [page.text, session_id, file["file_index"]],
        )
        renew_lease(runtime.db, session_id, runtime.settings.processing_lease_seconds)
    return pages


def page_summaries(files: list[dict[str, Any]], pages: list[OcrPage]) -> list[dict[str, Any]]:
    return [
        {"fileIndex": f["file_index"], "lineCount": len(p.lines), "confidence": p.confidence}
        for f, p in zip(files, pages, strict=True)
    ]


def run_processor(
    runtime: Runtime,
    session: dict[str, Any],
    definition: WorkflowDefinition,
    files: list[dict[str, Any]],
    images: list[DecodedImage],
    hashed: list[fraud.HashedFile],
) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """The workflow's processor: extractedData, confidence, and the pages or photos summary."""
    if definition.processor == "compliance-vm":
        thresholds = ComplianceThresholds.from_dict(definition.compliance)
        data = check_photos(images, [h.phash for h in hashed], thresholds, utcnow())
        index_of = [f["file_index"] for f in files]
        for photo in data["photos"]:
            photo["fileIndex"] = index_of[photo["fileIndex"]]
        for issue in data["issues"]:
            issue["fileIndex"] = index_of[issue["fileIndex"]]
        photos = [{"fileIndex": p["fileIndex"], "passed": p["passed"]} for p in data["photos"]]
        return data, round(compliance_confidence(data), 4), {"photos": photos}
    pages = read_pages(runtime, session["id"], files, images)
    summary = {"pages": page_summaries(files, pages)}
    if definition.processor == "receipt-ocr":
        data = extract_receipt(pages)
        return data, round(document_confidence(pages), 4), summary
    data = document_result(pages)
    for page, file in zip(data["pages"], files, strict=True):
        page["pageIndex"] = file["file_index"]
    return data, round(document_confidence(pages), 4), summary


def missing_required(definition: WorkflowDefinition, data: dict[str, Any]) -> list[str]:
    """Required fields without a value: absent, null or an empty string. An empty list is a
    value: compliance-vm's required ``issues`` is ``[]`` exactly when every check passed."""
    return [name for name in definition.required_fields() if data.get(name) in (None, "")]


def decide(
    db: Database,
    session: dict[str, Any],
    definition: WorkflowDefinition,
    hashed: list[fraud.HashedFile],
    data: dict[str, Any],
    confidence: float,
    summary: dict[str, Any],
) -> Outcome:
    """Fraud checks and the outcome: ``approved`` or ``review``, with the reasons."""
    texts = dict(
        db.execute(
            "SELECT file_index, ocr_text FROM session_files WHERE session_id = ?", [session["id"]]
        ).fetchall()
    )
    hashed = [replace(h, text=texts.get(h.file_index)) for h in hashed]
    matches = fraud.image_matches(db, session["company_id"], session["submission_id"], hashed)
    if definition.processor == "receipt-ocr":
        matches += fraud.data_matches(db, session["company_id"], session["submission_id"], data)
    fraud_status, fraud_score = fraud.fraud_status(matches)
    reasons = []
    if fraud_status != "clean":
        reasons.append(f"fraud check: {fraud_status}")
    missing = missing_required(definition, data)
    if missing:
        reasons.append("missing required fields: " + ", ".join(missing))
    if confidence < definition.min_confidence:
        reasons.append(f"confidence {confidence:.2f} is below {definition.min_confidence:.2f}")
    if definition.processor == "compliance-vm" and not data["compliant"]:
        reasons.append("compliance checks failed")
    result = {
        "extractedData": data,
        "confidence": confidence,
        "fraudStatus": fraud_status,
        "fraudScore": fraud_score,
        **summary,
        "missingFields": missing,
        "reviewReasons": reasons,
    }
    status = "review" if reasons else "approved"
    return Outcome(status=status, result=result, confidence=confidence, matches=matches)


def finish_completed(db: Database, session: dict[str, Any], outcome: Outcome) -> bool:
    """Store the outcome, matches, events and outbox row at once; False if already finished.

    A submission cancelled meanwhile keeps its status; the result is still stored, and the
    session's webhook still tells that the session completed (its payload says ``cancelled``).
    """
    now = now_iso()
    submission_id = session["submission_id"]
    with transaction(db):
        cursor = db.execute(
            "UPDATE sessions SET state = 'completed', processed_at = ?, lease_until = NULL "
            "WHERE id = ? AND state = 'submitted'",
            [now, session["id"]],
        )
        if cursor.rowcount != 1:
            return False
        status = db.execute(
            "SELECT status FROM submissions WHERE id = ?", [submission_id]
        ).fetchone()[0]
        cancelled = status == "cancelled"
        fraud_status = outcome.result["fraudStatus"]
        db.execute(
            "UPDATE submissions SET status = ?, result = ?, confidence = ?, fraud_status = ?, "
            "fraud_score = ?, updated_at = ? WHERE id = ?",
            [
                status if cancelled else outcome.status,
                json.dumps(outcome.result),
                outcome.confidence,
                fraud_status,
                outcome.result["fraudScore"],
                now,
                submission_id,
            ],
        )
        fraud.store_matches(db, submission_id, outcome.matches)
        append_event(
            db,
            submission_id,
            "processing_completed",
            data={
                "outcome": outcome.status,
                "fraudStatus": fraud_status,
                "confidence": outcome.confidence,
                "cancelled": cancelled,
            },
        )
        review = outcome.status == "review" and not cancelled
        record_event(
            db, session["id"], "session.review_required" if review else "session.completed"
        )
    return True


def finish_failed(db: Database, session: dict[str, Any], reason: str) -> bool:
    """Session and submission ``failed`` with the reason; False if already finished."""
    now = now_iso()
    with transaction(db):
        cursor = db.execute(
            "UPDATE sessions SET state = 'failed', failed_reason = ?, processed_at = ?, "
            "lease_until = NULL WHERE id = ? AND state = 'submitted'",
            [reason, now, session["id"]],
        )
        if cursor.rowcount != 1:
            return False
        db.execute(
            "UPDATE submissions SET status = 'failed', updated_at = ? "
            "WHERE id = ? AND status != 'cancelled'",
            [now, session["submission_id"]],
        )
        append_event(db, session["submission_id"], "processing_failed", data={"reason": reason})
        record_event(db, session["id"], "session.failed")
    return True


def process_session(runtime: Runtime, session_id: str) -> None:
    """The task: process one submitted session, at most one outcome however often it runs."""
    db = runtime.db
    session = load_submitted(db, session_id)
    if session is None or session["state"] != "submitted":
        logger.info("session %s is not waiting for processing; nothing to do", session_id)
        return
    mark_started(db, session, runtime.settings.processing_lease_seconds)
    definition = get_definition(db, session["workflow_id"], session["workflow_version"])
    assert definition is not None
    files = present_files(db, session_id)
    accepted = [FORMATS[mime] for mime in definition.upload.accepted_formats]
    try:
        images = load_images(runtime, session, files, accepted)
    except FileFailure as exc:
        if finish_failed(db, session, str(exc)):
            logger.info("session %s failed: %s", session_id, exc)
            dispatch_events(runtime, session_id)
        return
    hashed = store_hashes(db, session_id, files, images)
    data, confidence, summary = run_processor(runtime, session, definition, files, images, hashed)
    outcome = decide(db, session, definition, hashed, data, confidence, summary)
    if finish_completed(db, session, outcome):
        logger.info("session %s completed: %s", session_id, outcome.status)
        dispatch_events(runtime, session_id)
    else:
        logger.info("session %s was finished by another run; result discarded", session_id)


def dispatch_events(runtime: Runtime, session_id: str) -> None:
    """Queue delivery of the session's pending outbox rows (the sweep catches any missed)."""
    rows = runtime.db.execute(
        "SELECT id FROM webhook_events WHERE session_id = ? AND status = 'pending' "
        "AND attempts = 0",
        [session_id],
    )
    for row in rows.fetchall():
        runtime.queue.enqueue_delivery(row[0])
