"""Wire models of submissions and their review."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import Field

from steve_lite.http.pagination import Pagination
from steve_lite.sessions.schemas import RequestModel

STATUSES = (
    "created",
    "processing",
    "review",
    "approved",
    "synced",
    "rejected",
    "cancelled",
    "failed",
)
FRAUD_STATUSES = ("clean", "flagged", "blocked")


class ApproveRequest(RequestModel):
    note: str | None = Field(None, max_length=1000)


class RejectRequest(RequestModel):
    reason: str = Field(min_length=1, max_length=1000)


class CancelRequest(RequestModel):
    reason: str | None = Field(None, max_length=1000)


class CorrectRequest(RequestModel):
    """Corrected values of ``extractedData`` fields, by name; fields left out stay as read."""

    extracted_data: dict[str, Any] = Field(min_length=1, max_length=100)


class ResolveRequest(RequestModel):
    resolution: Literal["false_positive", "confirmed_fraud"]
    note: str | None = Field(None, max_length=1000)


class WorkflowOfSubmission(TypedDict):
    slug: str
    name: str
    version: int


class SubmissionItem(TypedDict):
    id: str
    sessionId: str
    submissionStatus: str
    fraudStatus: str | None
    fraudScore: int | None
    workflow: WorkflowOfSubmission
    extractedData: dict[str, Any] | None
    confidence: float | None
    clientSubmissionId: str
    externalUser: dict[str, Any] | None
    metadata: dict[str, Any] | None
    createdAt: str
    updatedAt: str


class SubmissionPage(TypedDict):
    data: list[SubmissionItem]
    pagination: Pagination


class FileJson(TypedDict):
    fileIndex: int
    label: str
    contentType: str
    sizeBytes: int | None
    downloadUrl: str
    downloadUrlExpiresAt: str


class FraudMatchJson(TypedDict):
    id: str
    kind: str
    score: int
    fileIndex: int | None
    matchedSubmissionId: str
    matchedFileIndex: int | None
    details: dict[str, Any]
    status: str
    resolution: str | None
    note: str | None
    resolvedAt: str | None


class FraudMatchPage(TypedDict):
    data: list[FraudMatchJson]
    pagination: Pagination


class EventJson(TypedDict):
    id: str
    type: str
    occurredAt: str
    actor: str | None
    data: dict[str, Any]


class SubmissionDetail(SubmissionItem):
    files: list[FileJson]
    result: dict[str, Any] | None
    fraudMatches: list[FraudMatchJson]
    events: list[EventJson]
    rejectReason: str | None
    cancelReason: str | None
