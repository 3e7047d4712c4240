"""Uploads to presigned URLs, shared by the sync and async clients: which file goes where, and
what to do after each attempt."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx

from steve_lite.client.errors import UPLOAD_FAILED, SteveError
from steve_lite.client.files import FileInput, ProgressCallback, chunks, read_bytes
from steve_lite.client.policy import RetryPolicy
from steve_lite.client.protocol import Json


@dataclass(frozen=True)
class Upload:
    """One file and the presigned ``PUT`` it goes to."""

    index: int
    url: str
    headers: dict[str, str]
    data: bytes

    def body(self, on_progress: ProgressCallback | None) -> Iterator[bytes]:
        """The body of one attempt, reporting to ``on_progress`` as it is sent."""
        if on_progress is None:
            return chunks(self.data)
        return chunks(self.data, lambda sent: on_progress(self.index, sent, len(self.data)))


def plan(session: Json, files: Sequence[FileInput]) -> list[Upload]:
    """Pair the session's ``uploadUrls`` (by ``fileIndex``) with ``files``, in order."""
    slots = sorted(session["uploadUrls"], key=lambda slot: slot["fileIndex"])
    if len(slots) != len(files):
        raise ValueError(f"the session expects {len(slots)} file(s), got {len(files)}")
    uploads = []
    for slot, file in zip(slots, files, strict=True):
        data = read_bytes(file)
        headers = {**slot.get("headers", {}), "Content-Length": str(len(data))}
        uploads.append(Upload(slot["fileIndex"], slot["uploadUrl"], headers, data))
    return uploads


def delay_after(
    policy: RetryPolicy,
    upload: Upload,
    attempt: int,
    outcome: httpx.Response | httpx.TransportError,
) -> float | None:
    """None when the attempt stored the file, else the seconds to wait before the next one;
    raise SteveError (``upload-failed``) when there must be no next one."""
    if isinstance(outcome, httpx.Response) and outcome.is_success:
        return None
    status = outcome.status_code if isinstance(outcome, httpx.Response) else None
    delay = policy.upload_delay(status, attempt)
    if delay is not None:
        return delay
    if isinstance(outcome, httpx.Response):
        answer = outcome.text.strip()[:300] or "(empty body)"
        reason = f"object storage answered {outcome.status_code}: {answer}"
    else:
        reason = f"{type(outcome).__name__}: {outcome}".rstrip(": ")
    tries = attempt + 1
    raise SteveError(
        UPLOAD_FAILED,
        f"file {upload.index} was not uploaded after {tries} attempt(s): {reason}",
        status=status,
    )
