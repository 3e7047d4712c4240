"""``AsyncSteveClient``: the API from asyncio code, with the same methods as ``SteveClient``."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator, Sequence
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


class AsyncSteveClient:
    """The asyncio twin of :class:`~steve_lite.client.SteveClient`: same arguments, same
    methods (awaitable; ``list_submissions`` is an async iterator), same errors."""

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
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout)
        self._storage = httpx.AsyncClient(timeout=timeout)  # presigned URLs: no API key there
        self._policy = RetryPolicy(
            rate_limit_retries=rate_limit_retries, upload_retries=upload_retries
        )
        self._concurrency = max(1, upload_concurrency)

    async def __aenter__(self) -> AsyncSteveClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()
        await self._storage.aclose()

    async def _call(self, request: ApiRequest) -> Json:
        for attempt in itertools.count():
            try:
                response = await self._http.request(
                    request.method, request.path, params=request.params, json=request.body
                )
            except httpx.TransportError as exc:
                raise protocol.network_error(exc, f"{request.method} {request.path}") from exc
            delay = self._policy.rate_limit_delay(response, attempt)
            if delay is None:
                break
            await asyncio.sleep(delay)
        return protocol.decode(response)

    async def _items(self, request: ApiRequest) -> AsyncIterator[Json]:
        page = await self._call(request)
        for item in page["data"]:
            yield item
        while (cursor := protocol.next_cursor(page)) is not None:
            page = await self._call(request.next_page(cursor))
            for item in page["data"]:
                yield item

    # ------------------------------------------------------------ workflows

    async def list_workflows(self) -> list[Json]:
        """Every workflow assigned to the key's company (summaries)."""
        return [item async for item in self._items(protocol.list_workflows())]

    async def get_workflow(self, slug: str) -> Json:
        """The summary of a workflow's published version."""
        return await self._call(protocol.get_workflow(slug))

    async def get_workflow_version(self, slug: str, version: int) -> Json:
        """The immutable contract of one version."""
        return await self._call(protocol.get_workflow_version(slug, version))

    # ------------------------------------------------------------ sessions and jobs

    async def create_session(
        self, workflow: str, content_types: Sequence[str], **options: Unpack[SessionOptions]
    ) -> Json:
        """Open a session for one file per content type; the answer holds the ``uploadUrls``.
        ``options``: ``client_submission_id``, ``webhook_url``, ``metadata``, ``external_user``."""
        return await self._call(protocol.create_session(workflow, content_types, **options))

    async def upload_files(
        self,
        session: Json,
        files: Sequence[FileInput],
        *,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """PUT each file (bytes or a path) to its presigned URL of ``session``, in parallel."""
        limit = asyncio.Semaphore(self._concurrency)

        async def upload(item: uploads.Upload) -> None:
            async with limit:
                await self._upload(item, on_progress)

        planned = uploads.plan(session, files)
        outcomes = await asyncio.gather(*map(upload, planned), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _upload(self, upload: uploads.Upload, on_progress: ProgressCallback | None) -> None:
        for attempt in itertools.count():
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = await self._storage.put(
                    upload.url, content=_stream(upload.body(on_progress)), headers=upload.headers
                )
            except httpx.TransportError as exc:
                outcome = exc
            delay = uploads.delay_after(self._policy, upload, attempt, outcome)
            if delay is None:
                return
            await asyncio.sleep(delay)

    async def submit(self, workflow: str, session_id: str) -> Json:
        """Check the uploads and queue the session for processing."""
        return await self._call(protocol.submit(workflow, session_id))

    async def get_job(self, session_id: str) -> Json:
        """The job view of a session (its state and, once processed, its result)."""
        return await self._call(protocol.get_job(session_id))

    async def wait(self, session_id: str, *, timeout: float = 300.0) -> Json:
        """Poll the job, with backoff, until it is completed, failed or expired; its job view.
        Raises SteveError ``timeout`` after ``timeout`` seconds."""
        poll = Poll(session_id, timeout)
        while True:
            job = await self.get_job(session_id)
            delay = poll.delay_after(job)
            if delay is None:
                return job
            await asyncio.sleep(delay)

    async def process(
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
        created = await self.create_session(
            workflow,
            content_types(files, data),
            **options,
        )
        await self.upload_files(created, data, on_progress=on_progress)
        await self.submit(workflow, created["sessionId"])
        return await self.wait(created["sessionId"], timeout=timeout)

    # ------------------------------------------------------------ submissions

    async def list_submissions(
        self,
        *,
        workflow: str | None = None,
        status: str | None = None,
        fraud_status: str | None = None,
        page_size: int = protocol.PAGE_SIZE,
    ) -> AsyncIterator[Json]:
        """The company's submissions, newest first, fetching pages as the iteration goes."""
        request = protocol.list_submissions(workflow, status, fraud_status, page_size)
        async for item in self._items(request):
            yield item

    async def get_submission(self, submission_id: str) -> Json:
        """A submission's detail: files, result, fraud matches and events."""
        return await self._call(protocol.get_submission(submission_id))

    async def approve(self, submission_id: str, *, note: str | None = None) -> Json:
        """Approve a submission in ``review``; its detail."""
        return await self._call(protocol.review(submission_id, "approve", note=note))

    async def reject(self, submission_id: str, reason: str) -> Json:
        """Reject a submission in ``review``; its detail."""
        return await self._call(protocol.review(submission_id, "reject", reason=reason))

    async def cancel(self, submission_id: str, *, reason: str | None = None) -> Json:
        """Cancel a submission that is ``created``, ``processing`` or in ``review``; its detail."""
        return await self._call(protocol.review(submission_id, "cancel", reason=reason))

    async def list_fraud_matches(self, submission_id: str) -> list[Json]:
        """Every fraud match of a submission."""
        return [item async for item in self._items(protocol.list_fraud_matches(submission_id))]

    async def resolve_fraud_match(
        self, submission_id: str, match_id: str, resolution: str, *, note: str | None = None
    ) -> Json:
        """Resolve a match as ``false_positive`` or ``confirmed_fraud``; the match."""
        request = protocol.resolve_fraud_match(submission_id, match_id, resolution, note)
        return await self._call(request)

    # ------------------------------------------------------------ webhooks

    async def test_webhook(self, webhook_url: str) -> Json:
        """Have the server send a ``webhook.test`` event to ``webhook_url``; what happened."""
        return await self._call(protocol.test_webhook(webhook_url))


async def _stream(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk
