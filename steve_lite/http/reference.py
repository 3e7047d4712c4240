"""The API reference: tags in the order an integrator meets them, each operation's rules
(status codes, idempotency, rate bucket), and request and response examples.

Route decorators take their ``tags``, ``summary`` and ``description`` from here; the examples
are added to the rendered OpenAPI document by :func:`add_examples` (``/openapi.json`` and the
docs page, which Swagger UI shows offline).
"""

from __future__ import annotations

from typing import Any

from litestar.openapi import ResponseSpec
from litestar.openapi.spec import Example, Tag

WORKFLOWS = "Workflows"
SESSIONS = "Sessions"
SESSION_SHORTCUTS = "Session shortcuts"
JOBS = "Jobs"
WEBHOOKS = "Webhooks"
SUBMISSIONS = "Submissions"
REVIEW = "Submission review"
FRAUD = "Fraud"
COMPANIES = "Companies"
SERVICE = "Service"

TAGS = [
    Tag(
        name=WORKFLOWS,
        description="Discover the workflows your company may use and their "
        "upload and output contracts.",
    ),
    Tag(
        name=SESSIONS,
        description="Open an upload session, PUT the files to the presigned "
        "URLs it returns, then submit it for processing.",
    ),
    Tag(
        name=SESSION_SHORTCUTS,
        description="The same session routes for the system workflows "
        "`document-ocr` and `compliance-vm`, without a slug in the path.",
    ),
    Tag(name=JOBS, description="Poll a session's state and, once processed, its result."),
    Tag(
        name=WEBHOOKS,
        description="Check that a webhook URL receives events. Production "
        "events are signed; see docs/webhooks.md.",
    ),
    Tag(
        name=SUBMISSIONS,
        description="Every submission of your company, with files, result and history.",
    ),
    Tag(name=REVIEW, description="Correct, approve, reject or cancel a submission."),
    Tag(
        name=FRAUD,
        description="Near-duplicate images and repeated receipt data found by "
        "processing, and their resolution.",
    ),
    Tag(name=COMPANIES, description="The active companies (also for legacy keys)."),
    Tag(name=SERVICE, description="Health, readiness and metrics for operators; no key."),
]

LIMITS = {
    "read": "300",
    "session": "60",
    "submit": "20",
    "webhook_test": "10",
    "review": "60",
}
COMMON_ERRORS = (
    "400 `bad-request` (malformed body, parameter, cursor or `X-Request-Id`), "
    "401 `unauthorized` (missing, malformed or unknown key), 403 `forbidden` (revoked key or "
    "deactivated company) or `key-not-company-scoped` (a legacy key on a company route), "
    "429 `rate-limit-exceeded` (with `Retry-After`)"
)


def rules(
    text: str,
    *,
    bucket: str,
    success: str,
    errors: str = "",
    idempotency: str = "",
    legacy_keys: bool = False,
) -> str:
    """An operation's description: what it does, then its rules in a fixed order."""
    parts = [
        text,
        f"**Answers:** {success}" + (f"; {errors}." if errors else "."),
        f"**Like every `/api/v1` route:** {COMMON_ERRORS}; 500 `internal-error` (logged with "
        "the request id).",
        f"**Idempotency:** {idempotency or 'safe to retry: it changes nothing'}.",
        f"**Rate bucket:** `{bucket}`, {LIMITS[bucket]} requests per key per 60-second window "
        f"by default (`STEVE_RATE_LIMIT_{bucket.upper()}`); every answer carries "
        "`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.",
        "**Keys:** company keys and legacy keys (no company)."
        if legacy_keys
        else "**Keys:** company keys only.",
    ]
    return "\n\n".join(parts)


PAGINATION = (
    "Pages: `limit` (default 20, 1..100) and the opaque `cursor` of `pagination.nextCursor`."
)
REVIEW_ANSWER = "200 the submission detail, with the new event first in `events`"
TOO_LARGE = "413 `payload-too-large` (a body over 64 KiB)"
REVIEW_ERRORS = (
    "404 `not-found` (no such submission in your company), 409 `conflict` (the submission is "
    f"not in a state this transition starts from), {TOO_LARGE}, 422 `validation-error` naming "
    "the field"
)
REVIEW_IDEMPOTENCY = (
    "not repeatable: the second call finds the submission in its new state and answers 409"
)

LIST_COMPANIES = rules(
    "Your own company; for a legacy key (migration tooling), every active company, oldest "
    "first. " + PAGINATION,
    bucket="read",
    success="200 a page of `{id, name, slug, createdAt}`",
    legacy_keys=True,
)
UPLOAD_RULES = (
    " `upload.acceptedFormats` lists the content types a session may declare: `image/jpeg`, "
    "`image/png`, `image/webp`, `image/heic`, `image/heif` (one container: either fits any HEIF "
    "brand) and `application/pdf`; the leading bytes of each file must be that format at "
    "submit. A version that accepts PDF also states `upload.maxPages` (default 20): the most "
    "pages a session's files may have together, an image counting as one page; a PDF page "
    "with a text layer is read from it, any other is rendered and OCRed."
)
LIST_WORKFLOWS = rules(
    "The workflows assigned to your company, by slug, each with its published version's upload "
    "contract and the address of its full contract. " + PAGINATION,
    bucket="read",
    success="200 a page of workflow summaries",
)
GET_WORKFLOW = rules(
    "One workflow's summary: the published version and its upload contract." + UPLOAD_RULES,
    bucket="read",
    success="200 the summary",
    errors="404 `not-found` (no such workflow, or not assigned to your company)",
)
GET_WORKFLOW_VERSION = rules(
    "The immutable contract of one version: upload rules, output fields and the JSON Schema "
    "of `result.extractedData`." + UPLOAD_RULES,
    bucket="read",
    success="200 the version",
    errors="404 `not-found` (no such workflow or version, or not assigned to your company)",
)
CREATE_SESSION = rules(
    "Open an upload session for the workflow's published version (pinned for the session's "
    "life): one presigned `PUT` URL per file, valid 15 minutes; the session stays open 30 "
    "minutes. Creating it also creates its submission, in status `created`.",
    bucket="session",
    success="201 the new session; 200 an idempotent replay",
    errors="404 `not-found` (no such workflow assigned to you), 409 `conflict` (the "
    "`clientSubmissionId` is taken by a different body or a session no longer pending), 413 "
    "`payload-too-large` (a body over 64 KiB), 422 `validation-error` naming each field",
    idempotency="`clientSubmissionId` is the idempotency key, per API key: the same body "
    "while that session is pending and unexpired answers 200 with the same ids and freshly "
    "signed URLs; concurrent identical creates make exactly one session",
)
SUBMIT_SESSION = rules(
    "Check every uploaded file (size and leading bytes, one small ranged read each), seal it "
    "(a server-side copy that processing, `sizeBytes` and `downloadUrl` use from then on) and "
    "queue the session for processing. The session becomes `submitted`, its submission "
    "`processing`. No body.",
    bucket="submit",
    success="200 the submitted session",
    errors="400 `conflict` (the session is not pending), 404 `not-found` (no such session of "
    "this workflow for this key), 409 `conflict` (an upload was replaced while it was being "
    "submitted: `files[i]`; submit again), 410 `gone` (the session expired), 422 `files-missing` "
    "(fewer uploaded files than `minFiles`, each missing `files[i]` listed) or "
    "`validation-error` (`files[i]` too large, `files[i].contentType` not what the bytes are), "
    "503 (object storage unavailable, with `Retry-After`)",
    idempotency="not repeatable: a second submit answers 400 `conflict`; processing itself "
    "runs exactly once",
)
GET_JOB = rules(
    "The session's state (`pending`, `submitted`, `completed`, `failed`, `expired`), its "
    "submission's status and, once processed, the result. A pending session past its TTL "
    "reads `expired` at once. Only the key that created the session sees it.",
    bucket="read",
    success="200 the job view",
    errors="404 `not-found` (no such session, or created by another key)",
    legacy_keys=True,
)
TEST_WEBHOOK = rules(
    'POST an unsigned `{"type": "webhook.test", "timestamp": ...}` to the URL (5-second '
    "timeout, no redirects followed) and report what happened; `success` is true only for a "
    "2xx in time. The URL must pass the same rules as a session's `webhookUrl`. At most 8 "
    "tests run at once per server process; more wait their turn.",
    bucket="webhook_test",
    success="200 the probe result (also when the receiver failed: see `success`)",
    errors=f"{TOO_LARGE}, 422 `validation-error` on `webhookUrl` (not https, a private or "
    "reserved address, user-info, malformed)",
    idempotency="each call sends one more test event; nothing is stored",
    legacy_keys=True,
)
LIST_SUBMISSIONS = rules(
    "Your company's submissions, newest first, optionally filtered by `workflow` (slug), "
    "`status` and `fraudStatus`. " + PAGINATION,
    bucket="read",
    success="200 a page of submissions",
    errors="400 `bad-request` (an unknown `status` or `fraudStatus`, or a `limit` that is not "
    "a number: `errors` names the parameter)",
)
GET_SUBMISSION = rules(
    "One submission with its files (presigned download URLs of the sealed copies, valid one "
    "hour, answered as attachments of the checked image type), result, fraud "
    "matches and events (newest first, at most 100).",
    bucket="read",
    success="200 the detail",
    errors="404 `not-found` (no such submission in your company)",
)
APPROVE_SUBMISSION = rules(
    "Approve a submission in `review`; an optional `note` is kept in the event. Emits the "
    "`submission.approved` webhook.",
    bucket="review",
    success=REVIEW_ANSWER,
    errors=REVIEW_ERRORS,
    idempotency=REVIEW_IDEMPOTENCY,
)
REJECT_SUBMISSION = rules(
    "Reject a submission in `review`; `reason` (1..1000 characters) is required. Emits the "
    "`submission.rejected` webhook.",
    bucket="review",
    success=REVIEW_ANSWER,
    errors=REVIEW_ERRORS,
    idempotency=REVIEW_IDEMPOTENCY,
)
CANCEL_SUBMISSION = rules(
    "Cancel a submission that is `created`, `processing` or in `review`; an optional `reason`. "
    "A cancel that lands while processing runs wins. Emits the `submission.cancelled` webhook.",
    bucket="review",
    success=REVIEW_ANSWER,
    errors=REVIEW_ERRORS,
    idempotency=REVIEW_IDEMPOTENCY,
)
CORRECT_SUBMISSION = rules(
    "Correct what processing read, for integrators with their own review tool: "
    "`extractedData` holds the corrected fields by name (others stay as they are). Each name "
    "must be a field of the workflow version and the corrected data must satisfy its "
    "`outputJsonSchema`. Each changed field becomes a `corrected` event (`field`, `before`, "
    "`after`) and an entry of `result.corrections`; later webhooks carry the corrected data. "
    "No webhook of its own.",
    bucket="review",
    success="200 the submission detail, with the corrected `extractedData`",
    errors="404 `not-found` (no such submission in your company), 409 `conflict` (the "
    f"submission is not in `review`), {TOO_LARGE}, 422 `validation-error` naming each field "
    "(`extractedData.totalAmount`)",
    idempotency="safe to retry: the same values again change nothing and add no event",
)
LIST_FRAUD_MATCHES = rules(
    "The submission's fraud matches: `image_duplicate` (a near or exact duplicate photo in "
    "another submission of your company) and `data_duplicate` (the same merchant, total, date "
    "and receipt number). " + PAGINATION,
    bucket="read",
    success="200 a page of fraud matches",
    errors="404 `not-found` (no such submission in your company)",
)
RESOLVE_FRAUD_MATCH = rules(
    "Resolve an open match as `false_positive` or `confirmed_fraud`, with an optional `note`. "
    "When every match is a false positive the submission's `fraudStatus` becomes `clean`; a "
    "confirmed fraud makes it `blocked`. Emits the `submission.fraud_match_resolved` webhook.",
    bucket="review",
    success="200 the resolved match",
    errors="404 `not-found` (no such submission or match), 409 `conflict` (already resolved), "
    f"{TOO_LARGE}, 422 `validation-error` on `resolution`",
    idempotency="not repeatable: a second resolve answers 409",
)

# ---------------------------------------------------------------- examples

NOT_READY = ResponseSpec(
    dict[str, Any],
    description="Not ready: a check failed (with `STEVE_READY_REQUIRES_WORKER`, also when no "
    "worker has beaten recently)",
    generate_examples=False,
    examples=[
        Example(
            summary="no worker",
            value={
                "status": "unavailable",
                "checks": {"database": True, "storage": True, "worker": False},
            },
        )
    ],
)

COMPANY_ID = "co_0193a5f2c4e1a3f9c2d47b8e61a0"
KEY_ID = "key_0193a5f2c5107d3e9a44c1b2f3e4"
SESSION_ID = "ses_0193a5f3e8b2c0ffee1d5a7e9b3c4d2f"
SUBMISSION_ID = "sub_0193a5f3e8b2a17c5e0d9f3b6a8c1e44"
OTHER_SUBMISSION_ID = "sub_0193a5e1027c9b3a4d5e6f708192a3b4"
MATCH_ID = "fm_0193a5f4011d2e3f4a5b6c7d8e9f0a1b"
CREATED_AT = "2026-03-25T10:05:30.000Z"
UPLOAD = {
    "minFiles": 1,
    "maxFiles": 5,
    "acceptedFormats": [
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "image/heif",
        "application/pdf",
    ],
    "fileLabels": ["receipt"],
    "maxFileSizeMb": 10,
    "maxPages": 20,
}
WORKFLOW_SUMMARY = {
    "id": "wf_receipt-ocr",
    "slug": "receipt-ocr",
    "name": "Receipt OCR",
    "description": "OCR of receipt photos, with merchant, total, currency, date and line items.",
    "icon": "receipt",
    "color": "#2f855a",
    "publishedVersion": 2,
    "contractUrl": "/api/v1/workflows/receipt-ocr/versions/2",
    "upload": UPLOAD,
}
PAGE_END = {"hasMore": False, "nextCursor": None}
SESSION_BODY = {
    "fileCount": 1,
    "contentTypes": ["image/jpeg"],
    "clientSubmissionId": "order-A-17",
    "webhookUrl": "https://hooks.example.com/steve",
    "metadata": {"order": "A-17", "store": {"id": 42}},
    "externalUser": {"id": "u-981", "name": "Ada Lovelace", "email": "ada@example.com"},
}
OBJECT_KEY = f"companies/{COMPANY_ID}/sessions/{SESSION_ID}/0"
UPLOAD_URL = (
    f"https://<account>.r2.cloudflarestorage.com/steve-uploads/{OBJECT_KEY}"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=20260325T100530Z"
    "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=..."
)
SESSION_CREATED = {
    "sessionId": SESSION_ID,
    "submissionId": SUBMISSION_ID,
    "state": "pending",
    "submissionStatus": "created",
    "workflow": {"slug": "receipt-ocr", "version": 2},
    "uploadUrls": [
        {
            "fileIndex": 0,
            "uploadUrl": UPLOAD_URL,
            "r2Url": f"https://<account>.r2.cloudflarestorage.com/steve-uploads/{OBJECT_KEY}",
            "method": "PUT",
            "contentType": "image/jpeg",
            "label": "receipt",
            "headers": {"Content-Type": "image/jpeg"},
        }
    ],
    "expiresAt": "2026-03-25T10:35:30.000Z",
    "uploadUrlsExpireAt": "2026-03-25T10:20:30.000Z",
}
SESSION_SUBMITTED = {
    "sessionId": SESSION_ID,
    "submissionId": SUBMISSION_ID,
    "state": "submitted",
    "submissionStatus": "processing",
    "workflow": {"slug": "receipt-ocr", "version": 2},
}
EXTRACTED = {
    "merchantName": "Corner Grocery",
    "totalAmount": 72.08,
    "currency": "EUR",
    "purchaseDate": "2026-03-24",
    "receiptNumber": "4471-0032",
    "taxId": "DE123456789",
    "lineItems": [{"description": "Coffee beans 1 kg", "quantity": 2, "amount": 31.8}],
}
RESULT = {
    "extractedData": EXTRACTED,
    "confidence": 0.93,
    "fraudStatus": "clean",
    "fraudScore": 0,
    "pages": [
        {
            "fileIndex": 0,
            "pageIndex": 0,
            "filePageIndex": 0,
            "source": "ocr",
            "lineCount": 31,
            "confidence": 0.93,
        }
    ],
    "missingFields": [],
    "reviewReasons": [],
}
JOB = {
    "sessionId": SESSION_ID,
    "submissionId": SUBMISSION_ID,
    "workflow": {"slug": "receipt-ocr", "version": 2},
    "companyId": COMPANY_ID,
    "state": "completed",
    "submissionStatus": "approved",
    "result": RESULT,
    "failedReason": None,
    "clientSubmissionId": "order-A-17",
    "metadata": {"order": "A-17", "store": {"id": 42}},
    "createdAt": CREATED_AT,
    "expiresAt": "2026-03-25T10:35:30.000Z",
    "submittedAt": "2026-03-25T10:05:41.000Z",
    "processedAt": "2026-03-25T10:05:43.000Z",
    "webhookDeliveryStatus": "delivered",
}
SUBMISSION_ITEM = {
    "id": SUBMISSION_ID,
    "sessionId": SESSION_ID,
    "submissionStatus": "review",
    "fraudStatus": "flagged",
    "fraudScore": 60,
    "workflow": {"slug": "receipt-ocr", "name": "Receipt OCR", "version": 2},
    "extractedData": EXTRACTED,
    "confidence": 0.93,
    "clientSubmissionId": "order-A-17",
    "externalUser": {"id": "u-981", "name": "Ada Lovelace", "email": "ada@example.com"},
    "metadata": {"order": "A-17", "store": {"id": 42}},
    "createdAt": CREATED_AT,
    "updatedAt": "2026-03-25T10:05:43.000Z",
}
FRAUD_MATCH = {
    "id": MATCH_ID,
    "kind": "image_duplicate",
    "score": 60,
    "fileIndex": 0,
    "matchedSubmissionId": OTHER_SUBMISSION_ID,
    "matchedFileIndex": 0,
    "details": {"distance": 4},
    "status": "open",
    "resolution": None,
    "note": None,
    "resolvedAt": None,
}
RESOLVED_MATCH = {
    **FRAUD_MATCH,
    "status": "resolved",
    "resolution": "false_positive",
    "note": "same customer, second visit",
    "resolvedAt": "2026-03-25T11:00:00.000Z",
}


def event(
    number: int, type_: str, occurred_at: str, data: dict[str, Any], actor: str | None = None
) -> dict[str, Any]:
    return {
        "id": f"evt_0193a5f3e8b2{number:024x}",
        "type": type_,
        "occurredAt": occurred_at,
        "actor": actor,
        "data": data,
    }


def submission_detail(status: str, events: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        **SUBMISSION_ITEM,
        "submissionStatus": status,
        "files": [
            {
                "fileIndex": 0,
                "label": "receipt",
                "contentType": "image/jpeg",
                "sizeBytes": 482113,
                "downloadUrl": UPLOAD_URL.replace("X-Amz-Expires=900", "X-Amz-Expires=3600"),
                "downloadUrlExpiresAt": "2026-03-25T12:10:00.000Z",
            }
        ],
        "result": {**RESULT, "fraudStatus": "flagged", "fraudScore": 60},
        "fraudMatches": [FRAUD_MATCH],
        "events": events,
        "rejectReason": None,
        "cancelReason": None,
        **extra,
    }


HISTORY = [
    event(
        4,
        "processing_completed",
        "2026-03-25T10:05:43.000Z",
        {"outcome": "review", "fraudStatus": "flagged", "confidence": 0.93, "cancelled": False},
    ),
    event(3, "processing_started", "2026-03-25T10:05:41.500Z", {}),
    event(2, "submitted", "2026-03-25T10:05:41.000Z", {"files": 1}),
    event(1, "created", CREATED_AT, {"sessionId": SESSION_ID}, actor=KEY_ID),
]
SUBMISSION = "/api/v1/submissions/{submission_id}"
SUBMIT = "/api/v1/workflows/{slug}/sessions/{session_id}/submit"

# (path, method): {"request": body example, "<status>": response example}
EXAMPLES: dict[tuple[str, str], dict[str, Any]] = {
    ("/api/v1/companies", "get"): {
        "200": {
            "data": [{"id": COMPANY_ID, "name": "Demo", "slug": "demo", "createdAt": CREATED_AT}],
            "pagination": PAGE_END,
        }
    },
    ("/api/v1/workflows", "get"): {"200": {"data": [WORKFLOW_SUMMARY], "pagination": PAGE_END}},
    ("/api/v1/workflows/{slug}", "get"): {"200": WORKFLOW_SUMMARY},
    ("/api/v1/workflows/{slug}/versions/{version}", "get"): {
        "200": {
            "workflow": {
                k: WORKFLOW_SUMMARY[k]
                for k in ("id", "slug", "name", "description", "icon", "color")
            },
            "version": 2,
            "upload": UPLOAD,
            "outputSchema": [
                {
                    "name": "totalAmount",
                    "label": "Total",
                    "type": "number",
                    "required": True,
                    "description": "The amount paid, tax included.",
                    "validation": {"minimum": 0},
                }
            ],
            "outputJsonSchema": {
                "type": "object",
                "properties": {"totalAmount": {"type": ["number", "null"], "minimum": 0}},
            },
        }
    },
    ("/api/v1/workflows/{slug}/sessions", "post"): {
        "request": SESSION_BODY,
        "201": SESSION_CREATED,
        "200": SESSION_CREATED,
    },
    (SUBMIT, "post"): {"200": SESSION_SUBMITTED},
    ("/api/v1/ocr/sessions", "post"): {
        "request": {**SESSION_BODY, "contentTypes": ["image/png"]},
        "201": {**SESSION_CREATED, "workflow": {"slug": "document-ocr", "version": 2}},
        "200": {**SESSION_CREATED, "workflow": {"slug": "document-ocr", "version": 2}},
    },
    ("/api/v1/ocr/sessions/{session_id}/submit", "post"): {
        "200": {**SESSION_SUBMITTED, "workflow": {"slug": "document-ocr", "version": 2}},
    },
    ("/api/v1/compliance/sessions", "post"): {
        "request": SESSION_BODY,
        "201": {**SESSION_CREATED, "workflow": {"slug": "compliance-vm", "version": 2}},
        "200": {**SESSION_CREATED, "workflow": {"slug": "compliance-vm", "version": 2}},
    },
    ("/api/v1/compliance/sessions/{session_id}/submit", "post"): {
        "200": {**SESSION_SUBMITTED, "workflow": {"slug": "compliance-vm", "version": 2}},
    },
    ("/api/v1/jobs/{session_id}", "get"): {"200": JOB},
    ("/api/v1/webhooks/test", "post"): {
        "request": {"webhookUrl": "https://hooks.example.com/steve"},
        "200": {
            "success": True,
            "statusCode": 204,
            "error": None,
            "checkedAt": "2026-03-25T10:04:00.000Z",
        },
    },
    ("/api/v1/submissions", "get"): {"200": {"data": [SUBMISSION_ITEM], "pagination": PAGE_END}},
    (SUBMISSION, "get"): {"200": submission_detail("review", HISTORY)},
    (SUBMISSION, "patch"): {
        "request": {"extractedData": {"totalAmount": 27.08}},
        "200": submission_detail(
            "review",
            [
                event(
                    5,
                    "corrected",
                    "2026-03-25T11:01:00.000Z",
                    {"field": "totalAmount", "before": 72.08, "after": 27.08},
                    actor=KEY_ID,
                ),
                *HISTORY,
            ],
            extractedData={**EXTRACTED, "totalAmount": 27.08},
            result={
                **RESULT,
                "extractedData": {**EXTRACTED, "totalAmount": 27.08},
                "fraudStatus": "flagged",
                "fraudScore": 60,
                "corrections": [
                    {
                        "field": "totalAmount",
                        "before": 72.08,
                        "after": 27.08,
                        "correctedBy": KEY_ID,
                        "correctedAt": "2026-03-25T11:01:00.000Z",
                    }
                ],
            },
        ),
    },
    (f"{SUBMISSION}/approve", "post"): {
        "request": {"note": "checked against the paper receipt"},
        "200": submission_detail(
            "approved",
            [
                event(
                    5,
                    "approved",
                    "2026-03-25T11:02:00.000Z",
                    {"note": "checked against the paper receipt"},
                    actor=KEY_ID,
                ),
                *HISTORY,
            ],
        ),
    },
    (f"{SUBMISSION}/reject", "post"): {
        "request": {"reason": "the total does not match the photo"},
        "200": submission_detail(
            "rejected",
            [
                event(
                    5,
                    "rejected",
                    "2026-03-25T11:02:00.000Z",
                    {"reason": "the total does not match the photo"},
                    actor=KEY_ID,
                ),
                *HISTORY,
            ],
            rejectReason="the total does not match the photo",
        ),
    },
    (f"{SUBMISSION}/cancel", "post"): {
        "request": {"reason": "customer withdrew the claim"},
        "200": submission_detail(
            "cancelled",
            [
                event(
                    5,
                    "cancelled",
                    "2026-03-25T11:02:00.000Z",
                    {"reason": "customer withdrew the claim"},
                    actor=KEY_ID,
                ),
                *HISTORY,
            ],
            cancelReason="customer withdrew the claim",
        ),
    },
    (f"{SUBMISSION}/fraud-matches", "get"): {
        "200": {"data": [FRAUD_MATCH], "pagination": PAGE_END}
    },
    (f"{SUBMISSION}/fraud-matches/{{match_id}}/resolve", "post"): {
        "request": {"resolution": "false_positive", "note": "same customer, second visit"},
        "200": RESOLVED_MATCH,
    },
}
PROBLEM_EXAMPLE = {
    "type": "https://docs.steve.openloyalty.io/errors/validation-error",
    "title": "Validation Error",
    "status": 422,
    "detail": "the request body is invalid",
    "instance": "/api/v1/workflows/receipt-ocr/sessions",
    "requestId": "req_0193a5f2c4e1a3f9c2d47b8e61a0b1c2d3e4",
    "errors": [
        {"field": "contentTypes[0]", "message": "image/gif is not accepted", "code": "invalid"}
    ],
}


def add_examples(document: dict[str, Any]) -> dict[str, Any]:
    """Put the request and response examples into a rendered OpenAPI document (in place)."""
    for (path, method), examples in EXAMPLES.items():
        operation = document.get("paths", {}).get(path, {}).get(method)
        if operation is None:
            continue
        for status, example in examples.items():
            if status == "request":
                target = operation.get("requestBody", {}).get("content", {})
            else:
                target = operation.get("responses", {}).get(status, {}).get("content", {})
            for media in target.values():
                media["example"] = example
        unprocessable = operation.get("responses", {}).get("422", {}).get("content", {})
        for media in unprocessable.values():
            media["example"] = PROBLEM_EXAMPLE
    return document
