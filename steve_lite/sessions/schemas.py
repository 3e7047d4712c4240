"""Wire models of upload sessions."""

from __future__ import annotations

import json
import re
from typing import Any, TypedDict

from pydantic import Field, field_validator

from steve_lite.schemas import RequestModel, WorkflowPin

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_METADATA_BYTES = 4096
MAX_METADATA_DEPTH = 2


class ExternalUser(RequestModel):
    id: str | None = Field(None, min_length=1, max_length=200)
    name: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=320)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError("must be an email address")
        return value


def metadata_depth(value: dict[str, Any]) -> int:
    """Levels of objects: ``{"a": 1}`` is 1, ``{"a": {"b": 1}}`` is 2."""
    nested = [metadata_depth(v) for v in value.values() if isinstance(v, dict)]
    return 1 + max(nested, default=0)


def check_metadata_leaves(value: dict[str, Any]) -> None:
    for key, item in value.items():
        if isinstance(item, dict):
            check_metadata_leaves(item)
        elif item is None or not isinstance(item, str | int | float | bool):
            raise ValueError(f"metadata value of {key!r} must be a string, number or boolean")


class SessionCreate(RequestModel):
    """``POST /api/v1/workflows/{slug}/sessions``."""

    file_count: int = Field(strict=True, ge=1, le=100)
    content_types: list[str] = Field(min_length=1, max_length=100)
    client_submission_id: str = Field(min_length=1, max_length=128)
    webhook_url: str | None = Field(None, max_length=2048)
    metadata: dict[str, Any] | None = None
    external_user: ExternalUser | None = None

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {size} bytes serialized; the limit is 4096")
        if metadata_depth(value) > MAX_METADATA_DEPTH:
            raise ValueError("metadata may nest objects at most 2 levels deep")
        check_metadata_leaves(value)
        return value


class UploadUrl(TypedDict):
    fileIndex: int
    uploadUrl: str
    r2Url: str
    method: str
    contentType: str
    label: str
    headers: dict[str, str]


class SessionCreated(TypedDict):
    sessionId: str
    submissionId: str
    state: str
    submissionStatus: str
    workflow: WorkflowPin
    uploadUrls: list[UploadUrl]
    expiresAt: str
    uploadUrlsExpireAt: str


class SessionSubmitted(TypedDict):
    sessionId: str
    submissionId: str
    state: str
    submissionStatus: str
    workflow: WorkflowPin
