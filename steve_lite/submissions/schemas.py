"""Wire models of submissions and their review."""

from __future__ import annotations

from typing import Any, Literal, TypedDict

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from steve_lite.pagination import Pagination
from steve_lite.schemas import RequestModel
from steve_lite.sessions.store import SubmissionStatus

STATUSES = tuple(status.value for status in SubmissionStatus)
FRAUD_STATUSES = ("clean", "flagged", "blocked")


class ApproveRequest(RequestModel):
    note: str | None = Field(None, max_length=1000)


class RejectRequest(RequestModel):
    reason: str = Field(min_length=1, max_length=1000)


class CancelRequest(RequestModel):
    reason: str | None = Field(None, max_length=1000)


MAX_CORRECTIONS = 100


class CorrectRequest(RequestModel):
    """Corrected values of ``extractedData`` fields, by name; fields left out stay as read."""

    extracted_data: dict[str, Any]

    @field_validator("extracted_data")
    @classmethod
    def _size(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The size rule as pydantic words it for Field(min_length=1, max_length=100), checked
        # here because Litestar documents a dict with length bounds as an array.
        if not value:
            raise PydanticCustomError(
                "too_short", "Dictionary should have at least 1 item after validation, not 0"
            )
        if len(value) > MAX_CORRECTIONS:
            raise PydanticCustomError(
                "too_long", "Dictionary should have at most 100 items after validation, not more"
            )
        return value


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
