"""What the console pages show and how its forms become corrections.

The review rules themselves (state machine, corrections) live in
:mod:`steve_lite.submissions.service`; this module reads what a reviewer of one company may see
and turns form fields into typed values.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from steve_lite.db import Database
from steve_lite.errors import FieldError, Invalid, NotFound
from steve_lite.storage.s3 import ObjectStorage
from steve_lite.submissions.schemas import FRAUD_STATUSES, STATUSES
from steve_lite.submissions.service import (
    SUBMISSION_COLUMNS,
    SUBMISSION_JOINS,
    events_json,
    fraud_matches,
    load_submission,
    loads,
    match_json,
)
from steve_lite.workflows.schemas import OutputField, WorkflowDefinition
from steve_lite.workflows.service import get_definition

PAGE_SIZE = 25
ORDERS = ("newest", "oldest")
# Largest image the console serves (the workflows allow at most 100 MB per file).
MAX_IMAGE_BYTES = 100 * 1024 * 1024
IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


@dataclass(frozen=True)
class QueueFilters:
    """The queue's filters as the page's query string gives them (unknown values ignored)."""

    workflow: str | None = None
    status: str | None = None
    fraud_status: str | None = None
    order: str = "newest"
    page: int = 1

    @classmethod
    def parse(cls, query: dict[str, str]) -> QueueFilters:
        def pick(name: str, allowed: tuple[str, ...]) -> str | None:
            value = query.get(name) or None
            return value if value in allowed else None

        try:
            page = max(1, min(int(query.get("page") or 1), 100_000))
        except ValueError:
            page = 1
        return cls(
            workflow=query.get("workflow") or None,
            status=pick("status", STATUSES),
            fraud_status=pick("fraudStatus", FRAUD_STATUSES),
            order=pick("order", ORDERS) or "newest",
            page=page,
        )

    def query(self, **changes: Any) -> str:
        """The query string of these filters with ``changes``, for links."""
        values = {
            "workflow": self.workflow,
            "status": self.status,
            "fraudStatus": self.fraud_status,
            "order": self.order if self.order != "newest" else None,
            "page": self.page if self.page != 1 else None,
            **changes,
        }
        return urlencode({k: v for k, v in values.items() if v not in (None, "", 1)})


def waiting_count(db: Database, company_id: str) -> int:
    """How many of the company's submissions wait in ``review``."""
    return db.execute(
        "SELECT COUNT(*) FROM submissions WHERE company_id = ? AND status = 'review'", [company_id]
    ).fetchone()[0]


def queue(db: Database, company_id: str, filters: QueueFilters) -> dict[str, Any]:
    """One page of the queue: submissions in ``review`` first, then the others, each group
    newest (or oldest) first; with the total matching and the count waiting."""
    where, params = ["sub.company_id = ?"], [company_id]
    for column, value in (
        ("w.slug", filters.workflow),
        ("sub.status", filters.status),
        ("sub.fraud_status", filters.fraud_status),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = " AND ".join(where)
    total = db.execute(f"SELECT COUNT(*) {SUBMISSION_JOINS} WHERE {clause}", params).fetchone()[0]
    direction = "DESC" if filters.order == "newest" else "ASC"
    rows = db.execute(
        f"SELECT {SUBMISSION_COLUMNS} {SUBMISSION_JOINS} WHERE {clause} "
        f"ORDER BY sub.status = 'review' DESC, sub.seq {direction} LIMIT ? OFFSET ?",
        [*params, PAGE_SIZE, (filters.page - 1) * PAGE_SIZE],
    )
    workflows = db.execute(
        "SELECT w.slug, w.name FROM company_workflows cw JOIN workflows w ON w.id = cw.workflow_id "
        "WHERE cw.company_id = ? ORDER BY w.name",
        [company_id],
    )
    return {
        "items": [queue_item(dict(row)) for row in rows],
        "total": total,
        "pages": max(1, math.ceil(total / PAGE_SIZE)),
        "waiting": waiting_count(db, company_id),
        "workflows": [dict(row) for row in workflows],
    }


def queue_item(row: dict[str, Any]) -> dict[str, Any]:
    result = loads(row["result"]) or {}
    return {
        "id": row["id"],
        "status": row["status"],
        "fraudStatus": row["fraud_status"],
        "workflow": row["workflow_name"],
        "workflowSlug": row["workflow_slug"],
        "confidence": row["confidence"],
        "reasons": result.get("reviewReasons", []),
        "clientSubmissionId": row["client_submission_id"],
        "createdAt": row["created_at"],
    }


def next_in_review(db: Database, company_id: str, submission_id: str) -> str | None:
    """The submission to open after this one: the next older one in ``review``, else the
    newest one in ``review`` (never this one)."""
    row = db.execute(
        "SELECT id FROM submissions WHERE company_id = ? AND status = 'review' AND id != ? "
        "ORDER BY seq < (SELECT seq FROM submissions WHERE id = ?) DESC, seq DESC LIMIT 1",
        [company_id, submission_id, submission_id],
    ).fetchone()
    return row[0] if row else None


def boxes_by_file(result: dict[str, Any] | None) -> dict[int, list[dict[str, Any]]]:
    """The boxes to draw over each file: OCR lines (``extractedData.pages[].lines`` of
    document-ocr, ``pages[].lines`` when a result carries them), and each field's evidence
    (``fieldEvidence``) tagged with its field name. Entries name their file by ``fileIndex``
    (results of versions without PDF name it ``pageIndex``); only a file's first page is drawn."""
    boxes: dict[int, list[dict[str, Any]]] = {}
    if not result:
        return boxes
    data = result.get("extractedData") or {}
    for pages in (data.get("pages"), result.get("pages")):
        for page in pages or []:
            if page.get("filePageIndex", 0) != 0:
                continue  # a later page of a PDF: not drawn over the file
            index = page.get("fileIndex", page.get("pageIndex"))
            for line in page.get("lines") or []:
                if isinstance(index, int) and valid_box(line.get("box")):
                    boxes.setdefault(index, []).append(
                        {"points": points(line["box"]), "text": line.get("text", ""), "field": None}
                    )
    for name, evidence in (result.get("fieldEvidence") or {}).items():
        index = (
            evidence.get("fileIndex", evidence.get("pageIndex"))
            if isinstance(evidence, dict)
            else None
        )
        if isinstance(index, int) and valid_box(evidence.get("box")):
            boxes.setdefault(index, []).append(
                {"points": points(evidence["box"]), "text": evidence.get("text", ""), "field": name}
            )
    return boxes


def valid_box(box: Any) -> bool:
    return (
        isinstance(box, list)
        and len(box) == 4
        and all(
            isinstance(p, list)
            and len(p) == 2
            and all(isinstance(v, int | float) and math.isfinite(v) for v in p)
            for p in box
        )
    )


def points(box: list[list[float]]) -> str:
    """An SVG ``points`` attribute."""
    return " ".join(f"{x:g},{y:g}" for x, y in box)


def form_value(field: OutputField, value: Any) -> str:
    """How a field's value appears in its input."""
    if value is None:
        return ""
    if field.type in ("array", "object"):
        return json.dumps(value, indent=1, ensure_ascii=False)
    if field.type == "boolean":
        return "true" if value else ""
    return str(value)


def actor_names(db: Database, company_id: str, actors: set[str]) -> dict[str, str]:
    """The reviewers' emails by id (API keys stay ids: nothing of a key reaches a page)."""
    if not actors:
        return {}
    marks = ", ".join("?" for _ in actors)
    rows = db.execute(
        f"SELECT id, email FROM reviewers WHERE company_id = ? AND id IN ({marks})",
        [company_id, *actors],
    )
    return {row["id"]: row["email"] for row in rows}


def submission_page(db: Database, company_id: str, submission_id: str) -> dict[str, Any]:
    """Everything the submission page shows; 404 for another company's submission."""
    row = load_submission(db, company_id, submission_id)
    definition = get_definition(db, row["workflow_id"], row["workflow_version"])
    assert definition is not None
    result = loads(row["result"])
    data = (result or {}).get("extractedData") or {}
    confidence = data.get("fieldConfidence") or {}
    evidence = (result or {}).get("fieldEvidence") or {}
    corrected = {c["field"]: c for c in (result or {}).get("corrections", [])}
    fields = [
        {
            "name": field.name,
            "label": field.label,
            "type": field.type,
            "required": field.required,
            "value": form_value(field, data.get(field.name)),
            "confidence": confidence.get(field.name),
            "evidence": evidence.get(field.name),
            "correction": corrected.get(field.name),
        }
        for field in definition.output_schema
        if definition.processor != "compliance-vm"  # photos are judged, not transcribed
    ]
    files = db.execute(
        "SELECT file_index, label, size_bytes FROM session_files WHERE session_id = ? "
        "AND size_bytes > 0 ORDER BY file_index",
        [row["session_id"]],
    )
    boxes = boxes_by_file(result)
    matches = [match_json(m) for m in fraud_matches(db, submission_id)]
    events = events_json(db, submission_id)
    return {
        "id": row["id"],
        "status": row["status"],
        "fraudStatus": row["fraud_status"],
        "fraudScore": row["fraud_score"],
        "workflow": {"slug": row["workflow_slug"], "name": row["workflow_name"]},
        "version": row["workflow_version"],
        "confidence": row["confidence"],
        "clientSubmissionId": row["client_submission_id"],
        "createdAt": row["created_at"],
        "rejectReason": row["reject_reason"],
        "cancelReason": row["cancel_reason"],
        "reasons": (result or {}).get("reviewReasons", []),
        "issues": data.get("issues", []) if definition.processor == "compliance-vm" else [],
        "fields": fields,
        "data": data,
        "files": [
            {"index": f["file_index"], "label": f["label"], "boxes": boxes.get(f["file_index"], [])}
            for f in files
        ],
        "matches": matches,
        "events": events,
        "actors": actor_names(db, company_id, {e["actor"] for e in events if e["actor"]}),
        "editable": row["status"] == "review" and result is not None,
        "cancellable": row["status"] in ("created", "processing", "review"),
    }


def parse_value(field: OutputField, text: str) -> Any:
    """A form input as the field's type; ``ValueError`` with a message when it is not one."""
    text = text.strip()
    if field.type == "boolean":
        return text in ("on", "true")
    if text == "":
        return [] if field.type == "array" else None
    if field.type == "number":
        normalised = text.replace(" ", "")
        if "," in normalised and "." not in normalised:
            normalised = normalised.replace(",", ".")
        try:
            value = float(normalised)
        except ValueError:
            raise ValueError("is not a number") from None
        if not math.isfinite(value):
            raise ValueError("is not a finite number")
        return value
    if field.type == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError("is not a whole number") from None
    if field.type in ("array", "object"):
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("is not valid JSON") from None
    return text


def form_changes(
    definition: WorkflowDefinition, data: dict[str, Any], form: dict[str, str]
) -> dict[str, Any]:
    """The fields of a review form (``field.<name>``) whose value differs from ``data``;
    422 naming ``extractedData.<name>`` for a value that is not of the field's type."""
    changes, errors = {}, []
    for field in definition.output_schema:
        key = f"field.{field.name}"
        if key not in form and field.type != "boolean":
            continue
        if field.type == "boolean" and f"present.{field.name}" not in form:
            continue
        try:
            value = parse_value(field, form.get(key, ""))
        except ValueError as exc:
            errors.append(FieldError(f"extractedData.{field.name}", str(exc), "invalid"))
            continue
        if value != data.get(field.name):
            changes[field.name] = value
    if errors:
        fields = ", ".join(error.field for error in errors)
        raise Invalid(f"the corrections are invalid: {fields}", errors=errors)
    return changes


def changes_from_form(
    db: Database, company_id: str, submission_id: str, form: dict[str, str]
) -> dict[str, Any]:
    """The corrections a review form asks for (none when the submission has no result)."""
    row = load_submission(db, company_id, submission_id)
    result = loads(row["result"])
    if result is None or row["status"] != "review":
        return {}
    definition = get_definition(db, row["workflow_id"], row["workflow_version"])
    assert definition is not None
    return form_changes(definition, result.get("extractedData") or {}, form)


def sniff_image(data: bytes) -> str | None:
    """The image type the bytes are (JPEG, PNG, WebP), whatever the uploader declared."""
    for signature, media_type in IMAGE_SIGNATURES:
        if data.startswith(signature):
            return media_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def file_object_key(db: Database, company_id: str, submission_id: str, file_index: int) -> str:
    """The key of a file's sealed copy (what was submitted, never the upload, which its
    uploader may still overwrite), after checking the submission is the company's; 404 else."""
    row = load_submission(db, company_id, submission_id)
    file = db.execute(
        "SELECT sealed_key FROM session_files WHERE session_id = ? AND file_index = ?",
        [row["session_id"], file_index],
    ).fetchone()
    if file is None or not file["sealed_key"]:
        raise NotFound(f"file {file_index} of submission {submission_id!r} not found")
    return file["sealed_key"]


def download_image(storage: ObjectStorage, object_key: str) -> tuple[bytes, str | None]:
    """The object's bytes and the image type sniffed from them. Blocking: call it off the
    event loop."""
    data = storage.download(object_key, max_bytes=MAX_IMAGE_BYTES)
    return data, sniff_image(data)
