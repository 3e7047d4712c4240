"""``PATCH /api/v1/submissions/{id}``: corrections of extractedData over real HTTP.

Receipts land in ``review`` as exact duplicates of an earlier upload (real API and the test
session's real worker process). Each correction is checked in the detail (``extractedData``,
``result.corrections``), in the event log, and in the job view after approval.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.api import Tenant
from tests.support.console import receipt_in_review
from tests.support.worker import WorkerStack

SUBMISSIONS = "/api/v1/submissions"


@pytest.fixture(scope="module")
def tenant(worker_stack: WorkerStack) -> Tenant:
    return worker_stack.api.tenant()


def patch(stack: WorkerStack, tenant: Tenant, submission_id: str, body: Any) -> Any:
    with stack.api.client(tenant) as client:
        return client.patch(f"{SUBMISSIONS}/{submission_id}", json=body)


@pytest.fixture(scope="module")
def first_and_second(worker_stack: WorkerStack, tenant: Tenant) -> tuple[dict[str, Any], ...]:
    return receipt_in_review(worker_stack, tenant, seed=21)


@pytest.fixture(scope="module")
def waiting(worker_stack: WorkerStack, tenant: Tenant) -> dict[str, Any]:
    """A receipt in review that the tests below leave in review."""
    return receipt_in_review(worker_stack, tenant, seed=22)[1]


def test_a_correction_changes_extracted_data_and_is_listed(
    worker_stack: WorkerStack, tenant: Tenant, first_and_second: tuple[dict[str, Any], ...]
) -> None:
    job = first_and_second[1]
    read = job["result"]["extractedData"]
    answer = patch(
        worker_stack, tenant, job["submissionId"], {"extractedData": {"totalAmount": 99.95}}
    )
    assert answer.status_code == 200, answer.text
    limit = worker_stack.api.settings.rate_limit_review
    assert answer.headers["x-ratelimit-limit"] == str(limit)
    detail = answer.json()
    assert detail["extractedData"]["totalAmount"] == 99.95
    assert detail["result"]["extractedData"]["totalAmount"] == 99.95
    assert detail["extractedData"]["merchantName"] == read["merchantName"]
    [entry] = detail["result"]["corrections"]
    assert entry["field"] == "totalAmount"
    assert (entry["before"], entry["after"], entry["correctedBy"]) == (
        read["totalAmount"],
        99.95,
        tenant.key_id,
    )
    event = detail["events"][0]
    assert (event["type"], event["actor"]) == ("corrected", tenant.key_id)
    assert event["data"] == {"field": "totalAmount", "before": read["totalAmount"], "after": 99.95}

    # A second change of the same field keeps what processing read as ``before``; setting the
    # merchant back to what was read removes its entry.
    again = patch(
        worker_stack,
        tenant,
        job["submissionId"],
        {"extractedData": {"totalAmount": 12.0, "merchantName": "Elsewhere"}},
    ).json()
    assert {c["field"]: (c["before"], c["after"]) for c in again["result"]["corrections"]} == {
        "totalAmount": (read["totalAmount"], 12.0),
        "merchantName": (read["merchantName"], "Elsewhere"),
    }
    back = patch(
        worker_stack,
        tenant,
        job["submissionId"],
        {"extractedData": {"merchantName": read["merchantName"]}},
    ).json()
    assert [c["field"] for c in back["result"]["corrections"]] == ["totalAmount"]
    assert back["submissionStatus"] == "review"

    # The job view (whose snapshot is also the webhook payload: tests/e2e/test_console_browser.py
    # receives it) shows the corrected data once approved.
    with worker_stack.api.client(tenant) as client:
        assert client.post(f"{SUBMISSIONS}/{job['submissionId']}/approve").status_code == 200
        view = client.get(f"/api/v1/jobs/{job['sessionId']}").json()
    assert view["submissionStatus"] == "approved"
    assert view["result"]["extractedData"]["totalAmount"] == 12.0
    assert view["result"]["corrections"][0]["after"] == 12.0

    refused = patch(
        worker_stack, tenant, job["submissionId"], {"extractedData": {"totalAmount": 1.0}}
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/conflict")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"totalAmount": "twelve"}, "extractedData.totalAmount"),
        ({"totalAmount": -1}, "extractedData.totalAmount"),
        ({"currency": "euro"}, "extractedData.currency"),
        ({"purchaseDate": "2024-02-30"}, "extractedData.purchaseDate"),
        ({"lineItems": [{"description": "x"}]}, "extractedData.lineItems[0]"),
        ({"colour": "red"}, "extractedData.colour"),
    ],
)
def test_invalid_corrections_are_422_naming_the_field(
    worker_stack: WorkerStack,
    tenant: Tenant,
    waiting: dict[str, Any],
    change: dict[str, Any],
    field: str,
) -> None:
    submission_id = waiting["submissionId"]
    with worker_stack.api.client(tenant) as client:
        before = client.get(f"{SUBMISSIONS}/{submission_id}").json()
    answer = patch(worker_stack, tenant, submission_id, {"extractedData": change})
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert answer.headers["content-type"] == "application/problem+json"
    assert problem["type"].endswith("/validation-error")
    assert [e["field"] for e in problem["errors"]] == [field]
    with worker_stack.api.client(tenant) as client:
        after = client.get(f"{SUBMISSIONS}/{submission_id}").json()
    assert after["result"] == before["result"]
    assert after["events"] == before["events"]


@pytest.mark.parametrize("body", [{}, {"extractedData": {}}, {"extractedData": [1]}])
def test_a_body_without_corrections_is_refused(
    worker_stack: WorkerStack,
    tenant: Tenant,
    waiting: dict[str, Any],
    body: dict[str, Any],
) -> None:
    answer = patch(worker_stack, tenant, waiting["submissionId"], body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "extractedData"


def test_another_companys_submission_is_404(
    worker_stack: WorkerStack, waiting: dict[str, Any]
) -> None:
    other = worker_stack.api.tenant()
    answer = patch(worker_stack, other, waiting["submissionId"], {"extractedData": {"taxId": "x"}})
    assert answer.status_code == 404
