"""steve_lite.client, sync and async, against a live API with the embedded S3 server and a real
worker process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from steve_lite.client import AsyncSteveClient, SteveClient, SteveError, verify_webhook
from steve_lite.security.api_keys import hash_key
from steve_lite.signatures import signature_headers
from steve_lite.storage.embedded import EmbeddedS3
from tests.fixtures.receiver import WebhookReceiver
from tests.support.api import LiveApi, Tenant, make_settings, start_live_api
from tests.support.uploads import jpeg
from tests.support.worker import JOB_KEYS, WorkerStack, start_stack


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[WorkerStack]:
    """The API (which may probe local webhook URLs) and one single-threaded worker."""
    stack = start_stack(tmp_path_factory.mktemp("client"), embedded_s3, webhook_allow_private=True)
    try:
        stack.start_worker(STEVE_WORKERS="1")
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def tight_api(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[LiveApi]:
    """An API that allows 2 reads per key per 1-second window."""
    settings = make_settings(
        tmp_path_factory.mktemp("tight"), rate_limit_read=2, rate_limit_window_seconds=1
    )
    api, server = start_live_api(settings, embedded_s3)
    yield api
    server.stop()


def client_for(api: LiveApi, tenant: Tenant, **kwargs: int) -> SteveClient:
    return SteveClient(api.url, tenant.key, **kwargs)


def async_client_for(api: LiveApi, tenant: Tenant, **kwargs: int) -> AsyncSteveClient:
    return AsyncSteveClient(api.url, tenant.key, **kwargs)


def start_of_window() -> None:
    """Sleep until just after a 1-second boundary, so that a test's calls share one window."""
    time.sleep(1 - time.time() % 1 + 0.02)


# ---------------------------------------------------------------- the whole flow


def test_process_runs_the_whole_flow_and_returns_the_job_view(stack: WorkerStack) -> None:
    tenant = stack.api.tenant()
    with client_for(stack.api, tenant) as steve:
        assert [w["slug"] for w in steve.list_workflows()] == [
            "compliance-vm",
            "document-ocr",
            "receipt-ocr",
        ]
        summary = steve.get_workflow("compliance-vm")
        version = steve.get_workflow_version("compliance-vm", summary["publishedVersion"])
        assert version["workflow"]["slug"] == "compliance-vm"
        sent: dict[int, int] = {}
        job = steve.process(
            "compliance-vm",
            [jpeg(seed=21)],
            metadata={"order": "A-1"},
            client_submission_id="order-A-1",
            on_progress=lambda index, done, total: sent.update({index: done}),
        )
        assert set(job) == JOB_KEYS
        assert job["state"] == "completed"
        assert job["clientSubmissionId"] == "order-A-1" and job["metadata"] == {"order": "A-1"}
        assert job["result"]["extractedData"]["photos"][0]["fileIndex"] == 0
        assert sent == {0: len(jpeg(seed=21))}
        detail = steve.get_submission(job["submissionId"])
        assert detail["sessionId"] == job["sessionId"]
        assert detail["files"][0]["sizeBytes"] == len(jpeg(seed=21))


def test_async_process_takes_paths(stack: WorkerStack, tmp_path: Path) -> None:
    tenant = stack.api.tenant()
    photo = tmp_path / "photo.png"
    photo.write_bytes(jpeg(seed=22))  # a JPEG whatever the name says: the bytes decide

    async def run() -> dict:
        async with async_client_for(stack.api, tenant) as steve:
            job = await steve.process("compliance-vm", [photo])
            return {"job": job, "workflows": await steve.list_workflows()}

    outcome = asyncio.run(run())
    assert outcome["job"]["state"] == "completed" and set(outcome["job"]) == JOB_KEYS
    assert len(outcome["workflows"]) == 3


def test_review_fraud_matches_and_transitions(stack: WorkerStack) -> None:
    tenant = stack.api.tenant()
    photo = jpeg(seed=23, blur=6)  # blurred: the submission goes to review
    with client_for(stack.api, tenant) as steve:
        first = steve.process("compliance-vm", [photo])
        second = steve.process("compliance-vm", [photo])
        assert second["result"]["fraudStatus"] == "blocked"
        assert second["submissionStatus"] == "review"

        matches = steve.list_fraud_matches(second["submissionId"])
        assert matches and {m["matchedSubmissionId"] for m in matches} == {first["submissionId"]}
        for match in matches:
            resolved = steve.resolve_fraud_match(
                second["submissionId"], match["id"], "false_positive", note="sent twice"
            )
            assert resolved["status"] == "resolved" and resolved["note"] == "sent twice"
        with pytest.raises(SteveError) as again:
            steve.resolve_fraud_match(second["submissionId"], matches[0]["id"], "false_positive")
        assert (again.value.slug, again.value.status) == ("conflict", 409)

        approved = steve.approve(second["submissionId"], note="checked")
        assert approved["submissionStatus"] == "approved" and approved["fraudStatus"] == "clean"
        with pytest.raises(SteveError) as twice:
            steve.approve(second["submissionId"])
        assert twice.value.slug == "conflict" and "approved" in twice.value.detail

        rejected = steve.reject(first["submissionId"], "too blurred")
        assert (rejected["submissionStatus"], rejected["rejectReason"]) == (
            "rejected",
            "too blurred",
        )
        pending = steve.create_session("compliance-vm", ["image/jpeg"])
        cancelled = steve.cancel(pending["submissionId"], reason="changed my mind")
        assert cancelled["submissionStatus"] == "cancelled"


# ---------------------------------------------------------------- errors


def test_errors_carry_the_problem(stack: WorkerStack) -> None:
    tenant = stack.api.tenant()
    with client_for(stack.api, tenant) as steve:
        with pytest.raises(SteveError) as missing:
            steve.get_workflow("no-such-flow")
        error = missing.value
        assert (error.slug, error.status) == ("not-found", 404)
        assert "no-such-flow" in error.detail and error.request_id.startswith("req_")
        assert error.problem["instance"] == "/api/v1/workflows/no-such-flow"

        with pytest.raises(SteveError) as invalid:
            steve.create_session("compliance-vm", ["image/jpeg", "text/plain"])
        assert (invalid.value.slug, invalid.value.status) == ("validation-error", 422)
        assert [e["field"] for e in invalid.value.errors] == ["contentTypes[1]"]
        assert "contentTypes[1]" in str(invalid.value)

        session = steve.create_session("compliance-vm", ["image/jpeg"])
        with pytest.raises(SteveError) as empty:
            steve.submit("compliance-vm", session["sessionId"])
        assert empty.value.slug == "files-missing"
        assert [e["field"] for e in empty.value.errors] == ["files[0]"]

    stranger = SteveClient(stack.api.url, "aok_" + "0" * 64)
    with stranger, pytest.raises(SteveError) as unknown:
        stranger.list_workflows()
    assert (unknown.value.slug, unknown.value.status) == ("unauthorized", 401)


def test_async_errors_carry_the_problem(stack: WorkerStack) -> None:
    tenant = stack.api.tenant()

    async def run() -> SteveError:
        async with async_client_for(stack.api, tenant) as steve:
            try:
                await steve.get_job("ses_unknown")
            except SteveError as error:
                return error
        raise AssertionError("no error")

    error = asyncio.run(run())
    assert (error.slug, error.status) == ("not-found", 404)
    assert error.request_id and error.request_id.startswith("req_")


def test_wait_gives_up_at_its_deadline(stack: WorkerStack) -> None:
    with client_for(stack.api, stack.api.tenant()) as steve:
        session = steve.create_session("compliance-vm", ["image/jpeg"])  # never submitted
        started = time.monotonic()
        with pytest.raises(SteveError) as late:
            steve.wait(session["sessionId"], timeout=0.6)
    assert late.value.slug == "timeout" and "'pending'" in late.value.detail
    assert 0.6 <= time.monotonic() - started < 3


def test_answers_that_are_not_problems_become_steve_errors(
    webhook_receiver: WebhookReceiver,
) -> None:
    webhook_receiver.script([502])
    proxy_client = SteveClient(webhook_receiver.url, "aok_" + "0" * 64)
    with proxy_client, pytest.raises(SteveError) as proxy:
        proxy_client.get_job("ses_1")
    assert (proxy.value.slug, proxy.value.status) == ("unexpected-response", 502)
    assert "ok" in proxy.value.detail  # the receiver's body


def test_network_errors_become_steve_errors() -> None:
    nobody = SteveClient("http://127.0.0.1:9", "aok_" + "0" * 64)  # the discard port
    with nobody, pytest.raises(SteveError) as unreachable:
        nobody.list_workflows()
    assert unreachable.value.slug == "network-error" and unreachable.value.status is None


def test_url_and_key_fall_back_to_the_environment(
    stack: WorkerStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = stack.api.tenant()
    monkeypatch.setenv("STEVE_URL", stack.api.url)
    monkeypatch.setenv("STEVE_API_KEY", tenant.key)
    with SteveClient() as steve:
        assert steve.get_workflow("document-ocr")["slug"] == "document-ocr"
    monkeypatch.delenv("STEVE_API_KEY")
    with pytest.raises(ValueError, match="STEVE_API_KEY"):
        AsyncSteveClient()


# ---------------------------------------------------------------- rate limits


def test_429_is_retried_after_retry_after_when_allowed(tight_api: LiveApi) -> None:
    with client_for(tight_api, tight_api.tenant(), rate_limit_retries=2) as steve:
        start_of_window()
        started = time.monotonic()
        slugs = [steve.get_workflow("document-ocr")["slug"] for _ in range(3)]
        elapsed = time.monotonic() - started
    assert slugs == ["document-ocr"] * 3
    assert 0.5 <= elapsed < 3  # the third call waited for the next window


def test_429_is_raised_when_retries_are_not_allowed(tight_api: LiveApi) -> None:
    with client_for(tight_api, tight_api.tenant()) as steve:
        start_of_window()
        steve.get_workflow("document-ocr")
        steve.get_workflow("document-ocr")
        with pytest.raises(SteveError) as limited:
            steve.get_workflow("document-ocr")
    assert (limited.value.slug, limited.value.status) == ("rate-limit-exceeded", 429)


def test_async_429_is_retried(tight_api: LiveApi) -> None:
    tenant = tight_api.tenant()

    async def run() -> list[str]:
        async with async_client_for(tight_api, tenant, rate_limit_retries=2) as steve:
            start_of_window()
            return [(await steve.get_workflow("receipt-ocr"))["slug"] for _ in range(3)]

    assert asyncio.run(run()) == ["receipt-ocr"] * 3


# ---------------------------------------------------------------- pagination


def test_list_submissions_iterates_pages(stack: WorkerStack) -> None:
    tenant = stack.api.tenant()
    with client_for(stack.api, tenant) as steve:
        created = [steve.create_session("compliance-vm", ["image/jpeg"]) for _ in range(5)]
        newest_first = [session["submissionId"] for session in reversed(created)]
        listed = [item["id"] for item in steve.list_submissions(page_size=2)]
        assert listed == newest_first
        filtered = steve.list_submissions(workflow="compliance-vm", status="created", page_size=2)
        assert [item["id"] for item in filtered] == newest_first
        assert list(steve.list_submissions(workflow="document-ocr")) == []

    async def run() -> list[str]:
        async with async_client_for(stack.api, tenant) as steve:
            return [item["id"] async for item in steve.list_submissions(page_size=2)]

    assert asyncio.run(run()) == newest_first


# ---------------------------------------------------------------- webhooks


def test_test_webhook_reports_the_probe(
    stack: WorkerStack, webhook_receiver: WebhookReceiver
) -> None:
    tenant = stack.api.tenant()
    with client_for(stack.api, tenant) as steve:
        probe = steve.test_webhook(webhook_receiver.url)
    assert probe["success"] is True and probe["statusCode"] == 200
    assert json.loads(webhook_receiver.wait_for(1)[0].body)["type"] == "webhook.test"

    webhook_receiver.script([500])

    async def run() -> dict:
        async with async_client_for(stack.api, tenant) as steve:
            return await steve.test_webhook(webhook_receiver.url)

    failed = asyncio.run(run())
    assert failed["success"] is False and failed["statusCode"] == 500


def test_verify_webhook_accepts_both_schemes_and_refuses_forgeries() -> None:
    key = "aok_" + "ab" * 32
    body = b'{"eventId":"evt_1","eventType":"session.completed"}'
    now = int(time.time())
    headers = signature_headers(
        secret_hex=hash_key(key),
        event_id="evt_1",
        event_type="session.completed",
        body=body,
        timestamp=now,
    )
    steve_only = {k: v for k, v in headers.items() if not k.startswith("webhook-")}
    standard_only = {k: v for k, v in headers.items() if not k.startswith("X-Webhook")}
    lowercase = {k.lower(): v for k, v in headers.items()}

    for accepted in (headers, steve_only, standard_only, lowercase):
        assert verify_webhook(body, accepted, key)
    assert not verify_webhook(body + b" ", headers, key)
    assert not verify_webhook(body, headers, "aok_" + "cd" * 32)
    assert not verify_webhook(body, headers, key, now=now + 301)
    assert verify_webhook(body, headers, key, now=now + 600, tolerance_seconds=900)
    assert not verify_webhook(body, {"Content-Type": "application/json"}, key)
