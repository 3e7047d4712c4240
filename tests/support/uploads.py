"""Uploading files to presigned URLs the way an integrator would."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories.photos import make_photo


def put_file(upload: dict[str, Any], data: bytes) -> httpx.Response:
    """PUT ``data`` to one entry of ``uploadUrls`` with the headers it asks for."""
    return httpx.put(upload["uploadUrl"], content=data, headers=upload["headers"], timeout=30)


def jpeg(seed: int = 0, **kwargs: Any) -> bytes:
    return make_photo(seed=seed, fmt="JPEG", **kwargs)


def png(seed: int = 0, **kwargs: Any) -> bytes:
    return make_photo(seed=seed, fmt="PNG", **kwargs)


def create_body(count: int = 1, content_type: str = "image/jpeg", **extra: Any) -> dict[str, Any]:
    import uuid

    return {
        "fileCount": count,
        "contentTypes": [content_type] * count,
        "clientSubmissionId": extra.pop("clientSubmissionId", f"cs-{uuid.uuid4().hex}"),
        **extra,
    }
