"""``SteveClient``: the API from synchronous code."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Unpack

import httpx

from steve_lite.client import protocol, uploads
from steve_lite.client.files import (
    FileInput,
    ProgressCallback,
    content_types,
    read_bytes,
)
from steve_lite.client.policy import Poll, RetryPolicy
from steve_lite.client.protocol import ApiRequest, Json, SessionOptions


class SteveClient:
    """A client of one steve-lite (or Steve) API.

    ``base_url`` and ``api_key`` default to ``STEVE_URL`` and ``STEVE_API_KEY``. Every failed
    call raises :class:`~steve_lite.client.SteveError`. A 429 is retried after its
    ``Retry-After`` up to ``rate_limit_retries`` times (0: raised at once). Uploads run
    ``upload_concurrency`` at a time and are retried ``upload_retries`` times on network errors
    and 5xx answers.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        rate_limit_retries: int = 0,
        upload_retries: int = 3,
        upload_concurrency: int = 4,
    ) -> None:
        self.base_url = protocol.base_url_from(base_url)
        headers = protocol.api_headers(protocol.api_key_from(api_key))
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)
        self._storage = httpx.Client(timeout=timeout)  # presigned URLs: no API key sent there
        self._policy = RetryPolicy(
            rate_limit_retries=rate_limit_retries, upload_retries=upload_retries
        )
        self._concurrency = max(1, upload_concurrency)

    def __enter__(self) -> SteveClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()
        self._storage.close()

    def _call(self, request: ApiRequest) -> Json:
        for attempt in itertools.count():
            try:
                response = self._http.request(
                    request.method, request.path, params=request.params, json=request.body
                )
            except httpx.TransportError as exc:
                raise protocol.network_error(exc, f"{request.method} {request.path}") from exc
            delay = self._policy.rate_limit_delay(response, attempt)
            if delay is None:
                break
            time.sleep(delay)
        return protocol.decode(response)

    def _items(self, request: ApiRequest) -> Iterator[Json]:
        page = self._call(request)
        yield from page["data"]
        while (cursor := protocol.next_cursor(page)) is not None:
            page = self._call(request.next_page(cursor))
            yield from page["data"]

    # ------------------------------------------------------------ workflows

    def list_workflows(self) -> list[Json]:
        """Every workflow assigned to the key's company (summaries)."""
        return list(self._items(protocol.list_workflows()))

    def get_workflow(self, slug: str) -> Json:
        """The summary of a workflow's published version."""
        return self._call(protocol.get_workflow(slug))

    def get_workflow_version(self, slug: str, version: int) -> Json:
        """The immutable contract of one version."""
        return self._call(protocol.get_workflow_version(slug, version))

    # ------------------------------------------------------------ sessions and jobs

    def create_session(
        self, workflow: str, content_types: Sequence[str], **options: Unpack[SessionOptions]
    ) -> Json:
        """Open a session for one file per content type; the answer holds the ``uploadUrls``.
        ``options``: ``client_submission_id``, ``webhook_url``, ``metadata``, ``external_user``."""
        return self._call(protocol.create_session(workflow, content_types, **options))

    def upload_files(
        self,
        session: Json,
        files: Sequence[FileInput],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """PUT each file (bytes or a path) to its presigned URL of ``session``, in parallel."""
        planned = uploads.plan(session, files)
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(planned) or 1)) as pool:
            list(pool.map(lambda upload: self._upload(upload, on_progress), planned))

    def _upload(self, upload: uploads.Upload, on_progress: ProgressCallback | None) -> None:
        for attempt in itertools.count():
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = self._storage.put(
                    upload.url,
                    content=upload.body(on_progress),
                    headers=upload.headers,
                )
            except httpx.TransportError as exc:
                outcome = exc
            delay = uploads.delay_after(self._policy, upload, attempt, outcome)
            if delay is None:
                return
            time.sleep(delay)

    def submit(self, workflow: str, session_id: str) -> Json:
        """Check the uploads and queue the session for processing."""
        return self._call(protocol.submit(workflow, session_id))

    def get_job(self, session_id: str) -> Json:
        """The job view of a session (its state and, once processed, its result)."""
        return self._call(protocol.get_job(session_id))

    def wait(self, session_id: str, *, timeout: float = 300.0) -> Json:
        """Poll the job, with backoff, until it is completed, failed or expired; its job view.
        Raises SteveError ``timeout`` after ``timeout`` seconds."""
        poll = Poll(session_id, timeout)
        while True:
            job = self.get_job(session_id)
            delay = poll.delay_after(job)
            if delay is None:
                return job
            time.sleep(delay)

    def process(
        self,
        workflow: str,
        files: Sequence[FileInput],
        *,
        timeout: float = 300.0,
        on_progress: ProgressCallback | None = None,
        **options: Unpack[SessionOptions],
    ) -> Json:
        """Create a session for ``files`` (content types from their bytes), upload them, submit
        and wait; the final job view. ``options`` as for ``create_session``."""
        data = [read_bytes(file) for file in files]
        created = self.create_session(
            workflow,
            content_types(files, data),
            **options,
        )
        self.upload_files(created, data, on_progress=on_progress)
        self.submit(workflow, created["sessionId"])
        return self.wait(created["sessionId"], timeout=timeout)

    # ------------------------------------------------------------ submissions

    def list_submissions(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        fraud_status: str | None = None,
        page_size: int = protocol.PAGE_SIZE,
    ) -> Iterator[Json]:
        """The company's submissions, newest first, fetching pages as the iteration goes."""
        yield from self._items(protocol.list_submissions(workflow, status, fraud_status, page_size))

    def get_submission(self, submission_id: str) -> Json:
        """A submission's detail: files, result, fraud matches and events."""
        return self._call(protocol.get_submission(submission_id))

    def approve(self, submission_id: str, *, note: str | None = None) -> Json:
        """Approve a submission in ``review``; its detail."""
        return self._call(protocol.review(submission_id, "approve", note=note))

    def reject(self, submission_id: str, reason: str) -> Json:
        """Reject a submission in ``review``; its detail."""
        return self._call(protocol.review(submission_id, "reject", reason=reason))

    def cancel(self, submission_id: str, *, reason: str | None = None) -> Json:
        """Cancel a submission that is ``created``, ``processing`` or in ``review``; its detail."""
        return self._call(protocol.review(submission_id, "cancel", reason=reason))

    def list_fraud_matches(self, submission_id: str) -> list[Json]:
        """Every fraud match of a submission."""
        return list(self._items(protocol.list_fraud_matches(submission_id)))

    def resolve_fraud_match(
        self, submission_id: str, match_id: str, resolution: str, *, note: str | None = None
    ) -> Json:
        """Resolve a match as ``false_positive`` or ``confirmed_fraud``; the match."""
        return self._call(protocol.resolve_fraud_match(submission_id, match_id, resolution, note))

    # ------------------------------------------------------------ webhooks

    def test_webhook(self, webhook_url: str) -> Json:
        """Have the server send a ``webhook.test`` event to ``webhook_url``; what happened."""
        return self._call(protocol.test_webhook(webhook_url))
