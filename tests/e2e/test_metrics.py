"""``GET /metrics`` after real traffic: the live API and a real ``steve-lite worker`` process,
parsed with prometheus_client's own parser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from steve_lite.storage.embedded import EmbeddedS3
from tests.fixtures.receiver import WebhookReceiver
from tests.support.sessions import submit_files, wait_for_job
from tests.support.uploads import jpeg
from tests.support.waiting import wait_until
from tests.support.worker import WorkerStack, start_stack

WORKER_ENV = {
    "STEVE_WORKERS": "1",
    "STEVE_OCR_WARMUP": "false",
    "STEVE_WEBHOOK_ALLOW_PRIVATE": "true",
}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[WorkerStack]:
    stack = start_stack(
        tmp_path_factory.mktemp("metrics") / "data",
        embedded_s3,
        worker_env=WORKER_ENV,
        webhook_allow_private=True,
        rate_limit_webhook_test=1,
    )
    yield stack
    stack.stop()


def scrape(stack: WorkerStack) -> dict[str, list[Sample]]:
    with stack.api.client() as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, list[Sample]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def value(samples: dict[str, list[Sample]], name: str, **labels: str) -> float:
    """The one sample ``name`` whose labels include ``labels``."""
    [sample] = [s for s in samples.get(name, []) if labels.items() <= s.labels.items()]
    return sample.value


def test_metrics_count_requests_processing_ocr_webhooks_and_refusals(
    stack: WorkerStack, webhook_receiver: WebhookReceiver
) -> None:
    worker = stack.start_worker(ready=False)
    tenant = stack.api.tenant()
    page = jpeg(seed=2101)
    session = submit_files(
        stack.api, tenant, "document-ocr", [page], webhookUrl=webhook_receiver.url
    )
    wait_for_job(stack.api, tenant, session["sessionId"], worker=worker)
    with stack.api.client(tenant) as client:
        assert client.get("/api/v1/workflows").status_code == 200
        assert client.get(f"/api/v1/jobs/{session['sessionId']}").status_code == 200
        assert client.get("/api/v1/no-such-route").status_code == 404
        probe = {"webhookUrl": webhook_receiver.url}
        assert client.post("/api/v1/webhooks/test", json=probe).status_code == 200
        assert client.post("/api/v1/webhooks/test", json=probe).status_code == 429
    with stack.api.client() as client:
        assert client.get("/api/v1/workflows").status_code == 401

    def delivered() -> bool:
        return value(scrape(stack), "steve_webhook_attempts_total", outcome="delivered") >= 1

    wait_until(
        lambda: "steve_webhook_attempts_total" in scrape(stack) and delivered(),
        60,
        "the delivery counted",
        worker,
    )
    samples = scrape(stack)

    workflows = {"route": "/api/v1/workflows", "method": "GET"}
    assert value(samples, "steve_http_requests_total", **workflows, status="200") >= 1
    assert value(samples, "steve_http_requests_total", **workflows, status="401") >= 1
    assert (
        value(samples, "steve_http_request_duration_seconds_count", **workflows, status="200") >= 1
    )
    assert value(samples, "steve_http_requests_total", route="unmatched", status="404") >= 1
    jobs = [
        s
        for s in samples["steve_http_requests_total"]
        if s.labels["route"].startswith("/api/v1/jobs/")
    ]
    # Other tests of this process may have counted other statuses of the route: one label each.
    assert {s.labels["route"] for s in jobs} == {"/api/v1/jobs/{session_id}"}
    labels = {v for ss in samples.values() for s in ss for v in s.labels.values()}
    assert not any(session["sessionId"] in v or "no-such-route" in v for v in labels)

    assert value(samples, "steve_rate_limit_refusals_total", bucket="webhook_test") == 1
    [outcome] = [
        s.labels["outcome"]
        for s in samples["steve_processing_duration_seconds_count"]
        if s.labels["workflow"] == "document-ocr"
    ]
    assert outcome in ("approved", "review")
    assert value(samples, "steve_processing_duration_seconds_sum", workflow="document-ocr") > 0
    assert value(samples, "steve_ocr_page_seconds_count") == 1
    assert value(samples, "steve_processed_files_total", workflow="document-ocr") == 1
    assert value(samples, "steve_processed_bytes_total", workflow="document-ocr") == len(page)
    assert value(samples, "steve_webhook_delivery_latency_seconds_count") == 1
    assert value(samples, "steve_queue_depth", state="pending") >= 0
    assert value(samples, "steve_queue_oldest_age_seconds", task="process_session") == 0
    assert value(samples, "steve_sessions", state="completed") >= 1
    assert value(samples, "steve_build_info") == 1
    assert value(samples, "steve_worker_heartbeats") == 1
    assert 0 <= value(samples, "steve_worker_heartbeat_age_seconds") < 60
