"""Submission routes: list, detail, review transitions and fraud matches."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from litestar import Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from steve_lite.http import reference as docs
from steve_lite.http.openapi import OptionalBody, problem_responses
from steve_lite.pagination import page
from steve_lite.security.api_keys import ApiKey
from steve_lite.submissions import service
from steve_lite.submissions.schemas import (
    ApproveRequest,
    CancelRequest,
    CorrectRequest,
    FraudMatchJson,
    FraudMatchPage,
    RejectRequest,
    ResolveRequest,
    SubmissionDetail,
    SubmissionPage,
)
from steve_lite.webhooks.outbox import dispatch

REVIEW = {"bucket": "review"}
REVIEW_RESPONSES = problem_responses(404, 409, 413, 422)
NO_APPROVAL_NOTE = ApproveRequest()
NO_CANCEL_REASON = CancelRequest()


def detail(request: Request[ApiKey, Any, Any], submission_id: str) -> SubmissionDetail:
    state = request.app.state
    return service.submission_detail(  # type: ignore[return-value]
        state.db,
        state.storage,
        request.user.company,
        submission_id,
        state.settings.download_url_ttl_seconds,
    )


@get(
    "/submissions",
    tags=[docs.SUBMISSIONS],
    summary="List submissions",
    description=docs.LIST_SUBMISSIONS,
    responses=problem_responses(),
)
async def list_submissions(
    request: Request[ApiKey, Any, Any],
    workflow: FromQuery[str | None] = None,
    status: FromQuery[str | None] = None,
    fraud_status: Annotated[str | None, QueryParameter(name="fraudStatus")] = None,
    limit: FromQuery[int | None] = None,
    cursor: FromQuery[str | None] = None,
) -> SubmissionPage:
    """The company's submissions, newest first, filtered by workflow, status and fraudStatus."""
    items, next_cursor = service.list_submissions(
        request.app.state.db,
        request.user.company,
        workflow=workflow,
        status=status,
        fraud_status=fraud_status,
        limit=limit,
        cursor=cursor,
    )
    return page(items, next_cursor)  # type: ignore[return-value]


@get(
    "/submissions/{submission_id:str}",
    tags=[docs.SUBMISSIONS],
    summary="Get a submission",
    description=docs.GET_SUBMISSION,
    responses=problem_responses(404),
)
async def get_submission(
    request: Request[ApiKey, Any, Any], submission_id: FromPath[str]
) -> SubmissionDetail:
    """Files with download URLs valid one hour, result, fraud matches and events."""
    return detail(request, submission_id)


async def review(
    request: Request[ApiKey, Any, Any],
    submission_id: str,
    action: str,
    body: ApproveRequest | RejectRequest | CancelRequest,
) -> SubmissionDetail:
    event_id = await request.app.state.writes.run(
        partial(
            service.transition,
            company_id=request.user.company,
            submission_id=submission_id,
            action=action,
            actor=request.user.id,
            reason=getattr(body, "reason", None),
            note=getattr(body, "note", None),
        )
    )
    dispatch(request.app.state.queue, event_id)
    return detail(request, submission_id)


@post(
    "/submissions/{submission_id:str}/approve",
    opt=REVIEW,
    status_code=200,
    tags=[docs.REVIEW],
    summary="Approve a submission",
    description=docs.APPROVE_SUBMISSION,
    responses=REVIEW_RESPONSES,
    operation_class=OptionalBody,
)
async def approve_submission(
    request: Request[ApiKey, Any, Any],
    submission_id: FromPath[str],
    data: JSONBody[ApproveRequest] = NO_APPROVAL_NOTE,
) -> SubmissionDetail:
    """Approve a submission in ``review``."""
    return await review(request, submission_id, "approve", data)


@post(
    "/submissions/{submission_id:str}/reject",
    opt=REVIEW,
    status_code=200,
    tags=[docs.REVIEW],
    summary="Reject a submission",
    description=docs.REJECT_SUBMISSION,
    responses=REVIEW_RESPONSES,
)
async def reject_submission(
    request: Request[ApiKey, Any, Any], submission_id: FromPath[str], data: JSONBody[RejectRequest]
) -> SubmissionDetail:
    """Reject a submission in ``review``; ``reason`` is required."""
    return await review(request, submission_id, "reject", data)


@post(
    "/submissions/{submission_id:str}/cancel",
    opt=REVIEW,
    status_code=200,
    tags=[docs.REVIEW],
    summary="Cancel a submission",
    description=docs.CANCEL_SUBMISSION,
    responses=REVIEW_RESPONSES,
    operation_class=OptionalBody,
)
async def cancel_submission(
    request: Request[ApiKey, Any, Any],
    submission_id: FromPath[str],
    data: JSONBody[CancelRequest] = NO_CANCEL_REASON,
) -> SubmissionDetail:
    """Cancel a submission that is ``created``, ``processing`` or in ``review``."""
    return await review(request, submission_id, "cancel", data)


@patch(
    "/submissions/{submission_id:str}",
    opt=REVIEW,
    status_code=200,
    tags=[docs.REVIEW],
    summary="Correct a submission's extracted data",
    description=docs.CORRECT_SUBMISSION,
    responses=REVIEW_RESPONSES,
)
async def correct_submission(
    request: Request[ApiKey, Any, Any],
    submission_id: FromPath[str],
    data: JSONBody[CorrectRequest],
) -> SubmissionDetail:
    """Correct ``extractedData`` fields of a submission in ``review``; each change is listed in
    ``result.corrections`` and recorded as a ``corrected`` event."""
    await request.app.state.writes.run(
        partial(
            service.correct,
            company_id=request.user.company,
            submission_id=submission_id,
            changes=data.extracted_data,
            actor=request.user.id,
        )
    )
    return detail(request, submission_id)


@get(
    "/submissions/{submission_id:str}/fraud-matches",
    tags=[docs.FRAUD],
    summary="List a submission's fraud matches",
    description=docs.LIST_FRAUD_MATCHES,
    responses=problem_responses(404),
)
async def list_fraud_matches(
    request: Request[ApiKey, Any, Any],
    submission_id: FromPath[str],
    limit: FromQuery[int | None] = None,
    cursor: FromQuery[str | None] = None,
) -> FraudMatchPage:
    """The submission's fraud matches."""
    items, next_cursor = service.list_fraud_matches(
        request.app.state.db, request.user.company, submission_id, limit=limit, cursor=cursor
    )
    return page(items, next_cursor)  # type: ignore[return-value]


@post(
    "/submissions/{submission_id:str}/fraud-matches/{match_id:str}/resolve",
    opt=REVIEW,
    status_code=200,
    tags=[docs.FRAUD],
    summary="Resolve a fraud match",
    description=docs.RESOLVE_FRAUD_MATCH,
    responses=REVIEW_RESPONSES,
)
async def resolve_fraud_match(
    request: Request[ApiKey, Any, Any],
    submission_id: FromPath[str],
    match_id: FromPath[str],
    data: JSONBody[ResolveRequest],
) -> FraudMatchJson:
    """Resolve a match as ``false_positive`` or ``confirmed_fraud``."""
    match, event_id = await request.app.state.writes.run(
        partial(
            service.resolve_fraud_match,
            company_id=request.user.company,
            submission_id=submission_id,
            match_id=match_id,
            resolution=data.resolution,
            note=data.note,
            actor=request.user.id,
        )
    )
    dispatch(request.app.state.queue, event_id)
    return match


ROUTES = [
    list_submissions,
    get_submission,
    correct_submission,
    approve_submission,
    reject_submission,
    cancel_submission,
    list_fraud_matches,
    resolve_fraud_match,
]
