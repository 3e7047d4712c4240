"""Upload sessions: create (idempotently), submit after checking the uploads, expire."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from functools import partial
from typing import Any

import anyio

from steve_lite.clock import parse_iso, to_iso, utcnow
from steve_lite.db import Database, transaction
from steve_lite.errors import (
    Conflict,
    Expired,
    FieldError,
    FilesMissing,
    Invalid,
    NotFound,
    NotPending,
)
from steve_lite.formats import DISPLAY_NAMES, FORMATS, accepted_names, sniff_format
from steve_lite.ids import new_id
from steve_lite.security.api_keys import ApiKey
from steve_lite.security.urls import UrlRejected, validate_webhook_url
from steve_lite.services import ApiServices
from steve_lite.sessions import store
from steve_lite.sessions.schemas import SessionCreate
from steve_lite.sessions.store import SessionRow, SessionState, SubmissionStatus
from steve_lite.settings import Settings
from steve_lite.storage.s3 import (
    ObjectChangedError,
    ObjectHead,
    ObjectNotFoundError,
    ObjectStorage,
    StorageError,
)
from steve_lite.submissions.events import append_event
from steve_lite.webhooks.outbox import record_event
from steve_lite.workflows.schemas import UploadContract, WorkflowDefinition
from steve_lite.workflows.service import find_assigned, get_definition

EXPIRED_REASON = "session expired"


def object_key(company_id: str, session_id: str, file_index: int) -> str:
    """Derived from ids only, never from caller input."""
    return f"companies/{company_id}/sessions/{session_id}/{file_index}"


def sealed_key_for(upload_key: str) -> str:
    """Where submit seals the upload at ``upload_key``: a key no presigned PUT is signed for."""
    return f"sealed/{upload_key}"


CANONICAL_JSON = json.JSONEncoder(separators=(",", ":"))


def fingerprint(slug: str, body: SessionCreate) -> str:
    """What makes two creates "the same" for idempotency: workflow, fileCount, contentTypes."""
    canonical = CANONICAL_JSON.encode([slug, body.file_count, body.content_types])
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_against_workflow(
    body: SessionCreate, upload: UploadContract, settings: Settings
) -> list[FieldError]:
    """The rules that need the published version and the settings."""
    errors = []
    if not upload.min_files <= body.file_count <= upload.max_files:
        errors.append(
            FieldError(
                "fileCount",
                f"must be between {upload.min_files} and {upload.max_files}",
                "out_of_range",
            )
        )
    if len(body.content_types) != body.file_count:
        errors.append(
            FieldError(
                "contentTypes",
                f"must list one content type per file ({body.file_count})",
                "length_mismatch",
            )
        )
    for index, content_type in enumerate(body.content_types):
        if content_type not in upload.accepted_formats:
            errors.append(
                FieldError(
                    f"contentTypes[{index}]",
                    f"must be one of {', '.join(upload.accepted_formats)}",
                    "unsupported_format",
                )
            )
    if body.webhook_url is not None:
        try:
            validate_webhook_url(body.webhook_url, allow_private=settings.webhook_allow_private)
        except UrlRejected as exc:
            errors.append(FieldError("webhookUrl", str(exc), "url_rejected"))
    return errors


def published_definition(
    ctx: ApiServices, slug: str, company_id: str
) -> tuple[dict[str, Any], WorkflowDefinition]:
    """The assigned workflow and its published definition, or 404."""
    workflow = find_assigned(ctx.db, ctx.cache, slug, company_id)
    if workflow is None:
        raise NotFound(f"workflow {slug!r} not found")
    definition = get_definition(ctx.db, workflow["id"], workflow["published_version"])
    assert definition is not None
    return workflow, definition


async def create_session(
    ctx: ApiServices, key: ApiKey, slug: str, body: SessionCreate
) -> tuple[dict[str, Any], bool]:
    """Create a session and its submission, or replay an identical pending one.

    Returns the answer and whether it was newly created (201) or replayed (200).
    """
    settings = ctx.settings
    workflow, definition = published_definition(ctx, slug, key.company)
    errors = check_against_workflow(body, definition.upload, settings)
    if errors:
        raise Invalid(
            "the request body is invalid: " + ", ".join(e.field for e in errors), errors=errors
        )
    session, files, created = await ctx.writes.run(
        partial(
            store_session,
            key=key,
            workflow=workflow,
            definition=definition,
            body=body,
            request_print=fingerprint(slug, body),
            ttl=timedelta(seconds=settings.session_ttl_seconds),
        )
    )
    return session_answer(ctx, session, files, definition), created


def store_session(
    db: Database,
    *,
    key: ApiKey,
    workflow: dict[str, Any],
    definition: WorkflowDefinition,
    body: SessionCreate,
    request_print: str,
    ttl: timedelta,
) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    """Insert a new session, or find the one to replay; with its files and whether it is new."""
    with transaction(db):
        existing = store.find_by_client_id(db, key.id, body.client_submission_id)
        if existing is None:
            session, files = insert_session(db, key, workflow, definition, body, request_print, ttl)
            return session, files, True
        session = dict(existing)
        check_replay(session, request_print)
        return session, session_files(db, session["id"]), False


def check_replay(session: dict[str, Any], request_print: str) -> None:
    """Replay only an identical create of a pending, unexpired session; else 409."""
    state = store.visible_state(session)
    if session["fingerprint"] != request_print:
        raise Conflict(
            f"clientSubmissionId was already used for session {session['id']} (state {state}) "
            "with a different workflow, fileCount or contentTypes"
        )
    if state != SessionState.PENDING:
        raise Conflict(
            f"clientSubmissionId was already used for session {session['id']}, which is {state}"
        )


def insert_session(
    db: Database,
    key: ApiKey,
    workflow: dict[str, Any],
    definition: WorkflowDefinition,
    body: SessionCreate,
    request_print: str,
    ttl: timedelta,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Insert the session, its file slots and its submission (status ``created``)."""
    created = utcnow()
    now, expires_at = to_iso(created), to_iso(created + ttl)
    session = {
        "id": new_id("ses"),
        "company_id": key.company,
        "api_key_id": key.id,
        "workflow_id": workflow["id"],
        "workflow_version": workflow["published_version"],
        "client_submission_id": body.client_submission_id,
        "fingerprint": request_print,
        "file_count": body.file_count,
        "webhook_url": body.webhook_url,
        "metadata": json.dumps(body.metadata) if body.metadata is not None else None,
        "external_user": (
            body.external_user.model_dump_json(by_alias=True) if body.external_user else None
        ),
        "created_at": now,
        "expires_at": expires_at,
    }
    files = [
        {
            "session_id": session["id"],
            "file_index": index,
            "label": definition.upload.label_for(index),
            "content_type": content_type,
            "object_key": object_key(key.company, session["id"], index),
        }
        for index, content_type in enumerate(body.content_types)
    ]
    submission_id = new_id("sub")
    store.insert_session(db, session, files, submission_id)
    event = store.TRANSITIONS["create"].event
    append_event(db, submission_id, event, actor=key.id, data={"sessionId": session["id"]})
    answer = {**session, "state": SessionState.PENDING, "submission_id": submission_id}
    return {**answer, "submission_status": SubmissionStatus.CREATED}, files


def session_files(db: Database, session_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT * FROM session_files WHERE session_id = ? ORDER BY file_index", [session_id]
    )
    return [dict(row) for row in rows]


def session_answer(
    ctx: ApiServices,
    session: dict[str, Any],
    files: list[dict[str, Any]],
    definition: WorkflowDefinition,
) -> dict[str, Any]:
    """The create answer, with freshly signed upload URLs."""
    ttl = timedelta(seconds=ctx.settings.upload_url_ttl_seconds)
    urls_expire = min(utcnow() + ttl, parse_iso(session["expires_at"]))
    upload_urls = []
    for file in files:
        key = file["object_key"]
        upload_urls.append(
            {
                "fileIndex": file["file_index"],
                "uploadUrl": ctx.storage.presign_put(key, ttl),
                "r2Url": ctx.storage.object_url(key),
                "method": "PUT",
                "contentType": file["content_type"],
                "label": file["label"],
                "headers": {"Content-Type": file["content_type"]},
            }
        )
    return {
        "sessionId": session["id"],
        "submissionId": session["submission_id"],
        "state": SessionState.PENDING,
        "submissionStatus": session["submission_status"],
        "workflow": {"slug": definition.slug, "version": session["workflow_version"]},
        "uploadUrls": upload_urls,
        "expiresAt": session["expires_at"],
        "uploadUrlsExpireAt": to_iso(urls_expire),
    }


# ---------------------------------------------------------------- submit


def expire_session(db: Database, session_id: str) -> bool:
    """Mark a pending session ``expired``; False if it is not pending.

    A submission still ``created`` becomes ``cancelled`` with reason "session expired", its
    event and its ``submission.cancelled`` webhook (in the same transaction). One cancelled
    before keeps its reason and history: expiry adds nothing to it.
    """
    with transaction(db):
        expiry = store.expire(db, session_id, EXPIRED_REASON)
        if expiry is None:
            return False
        if expiry.cancelled:
            event = store.TRANSITIONS["expire"].event
            append_event(db, expiry.submission_id, event, data={"reason": EXPIRED_REASON})
            record_event(db, session_id, "submission.cancelled", {"reason": EXPIRED_REASON})
    return True


async def check_submittable(
    ctx: ApiServices, key: ApiKey, slug: str, session_id: str
) -> SessionRow:
    """404, then 410 (marking the session expired), then 400 ``conflict``, in that order."""
    session = store.load_own_session(ctx.db, session_id, key.id)
    if session is None or session["workflow_slug"] != slug:
        raise NotFound(f"session {session_id!r} not found")
    if store.visible_state(session) == SessionState.EXPIRED:
        await ctx.writes.run(partial(expire_session, session_id=session_id))
        raise Expired(f"session {session_id} expired at {session['expires_at']}")
    if session["state"] != SessionState.PENDING:
        raise NotPending(f"session {session_id} is {session['state']}, not pending")
    if session["submission_status"] != SubmissionStatus.CREATED:
        raise NotPending(f"submission {session['submission_id']} is {session['submission_status']}")
    return session


def check_uploads(
    files: list[dict[str, Any]], heads: list[ObjectHead | None], definition: WorkflowDefinition
) -> list[dict[str, Any]]:
    """422 ``files-missing``, then size, then magic bytes; return the present files with sizes."""
    upload = definition.upload
    missing = [f for f, head in zip(files, heads, strict=True) if head is None or head.size == 0]
    if len(files) - len(missing) < upload.min_files:
        raise FilesMissing(
            f"{len(missing)} of {len(files)} files are missing; "
            f"at least {upload.min_files} must be uploaded",
            errors=[
                FieldError(f"files[{f['file_index']}]", "no file was uploaded", "missing")
                for f in missing
            ],
        )
    limit = int(upload.max_file_size_mb * 1024 * 1024)
    errors = [
        FieldError(
            f"files[{f['file_index']}]",
            f"file is {head.size} bytes; the limit is {upload.max_file_size_mb:g} MB",
            "too_large",
        )
        for f, head in zip(files, heads, strict=True)
        if head is not None and head.size > limit
    ]
    if errors:
        raise Invalid("files exceed the size limit", errors=errors)
    for f, head in zip(files, heads, strict=True):
        if head is None or head.size == 0:
            continue
        declared = FORMATS[f["content_type"]]
        actual = sniff_format(head.head)
        if actual != declared:
            errors.append(
                FieldError(
                    f"files[{f['file_index']}].contentType",
                    f"declared {f['content_type']} but the file is "
                    + (DISPLAY_NAMES[actual] if actual else f"not a {accepted_names()} file"),
                    "content_mismatch",
                )
            )
    if errors:
        raise Invalid("files do not match their declared content types", errors=errors)
    return [
        {**f, "size_bytes": head.size, "etag": head.etag}
        for f, head in zip(files, heads, strict=True)
        if head is not None and head.size > 0
    ]


async def read_heads(
    storage: ObjectStorage, files: list[dict[str, Any]]
) -> list[ObjectHead | None]:
    """One small ranged GET per file, concurrently, off the event loop."""
    heads: list[ObjectHead | None] = [None] * len(files)

    async def read(index: int, key: str) -> None:
        heads[index] = await anyio.to_thread.run_sync(storage.read_head, key, 16)

    try:
        async with anyio.create_task_group() as group:
            for index, file in enumerate(files):
                group.start_soon(read, index, file["object_key"])
    except* StorageError as failed:  # the task group wraps it; callers handle StorageError
        raise failed.exceptions[0] from None
    return heads


async def seal_uploads(
    storage: ObjectStorage, present: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Copy each checked upload to its sealed key on the server, only while its ETag is the one
    the checks read (so the sealed bytes are the checked ones); the files with their seal.

    An upload replaced or deleted since its head was read: 409 ``conflict`` naming the file."""
    sealed: list[dict[str, Any]] = [{} for _ in present]
    changed: dict[int, FieldError] = {}

    async def seal(index: int, file: dict[str, Any]) -> None:
        target = sealed_key_for(file["object_key"])
        copy = partial(storage.copy_if_unchanged, file["object_key"], target, file["etag"])
        try:
            etag = await anyio.to_thread.run_sync(copy)
        except (ObjectChangedError, ObjectNotFoundError):
            message = "the upload changed while it was being submitted; submit again"
            slot = file["file_index"]
            changed[slot] = FieldError(f"files[{slot}]", message, "changed")
            return
        sealed[index] = {**file, "sealed_key": target, "sealed_etag": etag}

    try:
        async with anyio.create_task_group() as group:
            for index, file in enumerate(present):
                group.start_soon(seal, index, file)
    except* StorageError as failed:
        raise failed.exceptions[0] from None
    if changed:
        errors = [changed[slot] for slot in sorted(changed)]
        raise Conflict("uploads changed while they were being submitted", errors=errors)
    return sealed


def mark_submitted(
    db: Database, session: SessionRow, present: list[dict[str, Any]], lease_seconds: int
) -> bool:
    """Session ``submitted``, submission ``processing``, in one transaction with its event.

    The lease lets the reconciler re-queue a session whose enqueue was lost.
    Returns False when the session stopped being pending meanwhile.
    """
    sealed = [
        store.SealedFile(f["file_index"], f["size_bytes"], f["sealed_key"], f["sealed_etag"])
        for f in present
    ]
    lease = timedelta(seconds=lease_seconds)
    with transaction(db):
        if not store.submit(db, session["id"], session["submission_id"], sealed, lease):
            return False
        event = store.TRANSITIONS["submit"].event
        append_event(db, session["submission_id"], event, data={"files": len(present)})
    return True


async def submit_session(
    ctx: ApiServices, key: ApiKey, slug: str, session_id: str
) -> dict[str, Any]:
    """Check the session and its uploads, seal them, then mark it submitted. The caller
    enqueues."""
    session = await check_submittable(ctx, key, slug, session_id)
    definition = get_definition(ctx.db, session["workflow_id"], session["workflow_version"])
    assert definition is not None
    files = session_files(ctx.db, session_id)
    heads = await read_heads(ctx.storage, files)
    present = await seal_uploads(ctx.storage, check_uploads(files, heads, definition))
    submitted = await ctx.writes.run(
        partial(
            mark_submitted,
            session=session,
            present=present,
            lease_seconds=ctx.settings.processing_lease_seconds,
        )
    )
    if not submitted:
        current = store.load_own_session(ctx.db, session_id, key.id)
        state = current["state"] if current else "gone"
        raise NotPending(f"session {session_id} is {state}, not pending")
    return {
        "sessionId": session_id,
        "submissionId": session["submission_id"],
        "state": SessionState.SUBMITTED,
        "submissionStatus": SubmissionStatus.PROCESSING,
        "workflow": {"slug": slug, "version": session["workflow_version"]},
    }
