"""Fraud checks within a company, through the real API and a real worker process.

Matches are read from the ``fraud_matches`` table (no HTTP route lists them yet).
"""

from __future__ import annotations

import json
from typing import Any

from steve_lite.db import Database
from steve_lite.processing.fraud import NEAR_DUPLICATE_DISTANCE
from tests.factories.pages import render_page
from tests.factories.photos import make_photo, near_duplicate
from tests.factories.receipts import random_receipt_spec, render_receipt
from tests.support.api import LiveApi, Tenant
from tests.support.sessions import submit_files, wait_for_job
from tests.support.worker import WorkerStack


def process(api: LiveApi, tenant: Tenant, slug: str, files: list[bytes]) -> dict[str, Any]:
    """Submit one session and wait for its outcome; the job view."""
    session = submit_files(api, tenant, slug, files)
    job = wait_for_job(api, tenant, session["sessionId"])
    assert job["state"] == "completed", job
    return job


def matches_of(db: Database, submission_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT * FROM fraud_matches WHERE submission_id = ? ORDER BY kind, file_index",
        [submission_id],
    )
    return [{**dict(row), "details": json.loads(row["details"])} for row in rows]


def test_the_same_image_twice_is_blocked(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    photo = make_photo(seed=41)
    first = process(api, tenant, "compliance-vm", [photo])
    assert (first["submissionStatus"], first["result"]["fraudStatus"]) == ("approved", "clean")
    second = process(api, tenant, "compliance-vm", [photo])
    assert second["submissionStatus"] == "review"
    assert (second["result"]["fraudStatus"], second["result"]["fraudScore"]) == ("blocked", 100)
    assert second["result"]["reviewReasons"] == ["fraud check: blocked"]
    (match,) = matches_of(api.db, second["submissionId"])
    assert match["id"].startswith("fm_")
    assert {k: match[k] for k in ("kind", "score", "file_index", "status", "resolution")} == {
        "kind": "image_duplicate",
        "score": 100,
        "file_index": 0,
        "status": "open",
        "resolution": None,
    }
    assert (match["matched_submission_id"], match["matched_file_index"]) == (
        first["submissionId"],
        0,
    )
    assert match["details"] == {"exactDuplicate": True, "hammingDistance": 0}
    assert matches_of(api.db, first["submissionId"]) == []
    row = api.db.execute(
        "SELECT fraud_status, fraud_score FROM submissions WHERE id = ?", [second["submissionId"]]
    ).fetchone()
    assert tuple(row) == ("blocked", 100)


def test_a_near_duplicate_photo_is_flagged(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    photo = make_photo(seed=42)
    first = process(api, tenant, "compliance-vm", [photo])
    second = process(api, tenant, "compliance-vm", [near_duplicate(photo)])
    assert second["submissionStatus"] == "review"
    (match,) = matches_of(api.db, second["submissionId"])
    distance = match["details"]["hammingDistance"]
    assert match["details"] == {"exactDuplicate": False, "hammingDistance": distance}
    assert 0 <= distance <= NEAR_DUPLICATE_DISTANCE
    expected_score = round(95 - distance * 35 / NEAR_DUPLICATE_DISTANCE)
    assert (match["kind"], match["score"]) == ("image_duplicate", expected_score)
    assert match["matched_submission_id"] == first["submissionId"]
    assert second["result"]["fraudStatus"] == "flagged"
    assert second["result"]["fraudScore"] == expected_score


def test_another_companys_identical_image_is_clean(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    photo = make_photo(seed=43)
    first = process(api, api.tenant(), "compliance-vm", [photo])
    other = process(api, api.tenant(), "compliance-vm", [photo])
    for job in (first, other):
        assert (job["submissionStatus"], job["result"]["fraudStatus"]) == ("approved", "clean")
        assert job["result"]["fraudScore"] == 0
        assert matches_of(api.db, job["submissionId"]) == []


def test_the_same_receipt_data_twice_is_a_data_duplicate(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    spec = random_receipt_spec(2)
    straight, rotated = render_receipt(spec), render_receipt(spec, rotate_degrees=3)
    assert straight != rotated
    first = process(api, tenant, "receipt-ocr", [straight])
    assert first["result"]["fraudStatus"] == "clean"
    second = process(api, tenant, "receipt-ocr", [rotated])
    assert second["submissionStatus"] == "review"
    assert (second["result"]["fraudStatus"], second["result"]["fraudScore"]) == ("flagged", 90)
    (match,) = matches_of(api.db, second["submissionId"])
    assert {k: match[k] for k in ("kind", "score", "file_index", "matched_file_index")} == {
        "kind": "data_duplicate",
        "score": 90,
        "file_index": None,
        "matched_file_index": None,
    }
    assert match["matched_submission_id"] == first["submissionId"]
    assert match["details"] == {
        "merchantName": first["result"]["extractedData"]["merchantName"],
        "totalAmount": spec.total,
        "purchaseDate": spec.date.isoformat(),
        "receiptNumber": spec.receipt_number,
    }


def test_different_documents_of_one_company_are_clean(worker_stack: WorkerStack) -> None:
    """Different text on the same white paper is not a duplicate; the same file again is."""
    api = worker_stack.api
    tenant = api.tenant()
    letters = [
        ["Dear customer", "Your order 1001 has shipped"],
        ["Minutes of the board meeting", "All motions were carried"],
    ]
    jobs = [
        process(
            api, tenant, "document-ocr", [render_page(lines, width=736, height=736, fmt="JPEG")]
        )
        for lines in letters
    ]
    for job in jobs:
        assert (job["submissionStatus"], job["result"]["fraudStatus"]) == ("approved", "clean")
        assert matches_of(api.db, job["submissionId"]) == []
    again = process(
        api, tenant, "document-ocr", [render_page(letters[0], width=736, height=736, fmt="JPEG")]
    )
    assert (again["result"]["fraudStatus"], again["result"]["fraudScore"]) == ("blocked", 100)
    (match,) = matches_of(api.db, again["submissionId"])
    assert match["matched_submission_id"] == jobs[0]["submissionId"]


def test_different_receipts_and_pages_are_not_near_duplicates(worker_stack: WorkerStack) -> None:
    """Sparse text on white paper looks alike to a perceptual hash: documents that read
    differently must not be flagged, while a re-encoded copy of one still is."""
    api = worker_stack.api
    tenant = api.tenant()
    receipts = [render_receipt(random_receipt_spec(seed)) for seed in (11, 12, 13)]
    pages = [
        render_page(
            [f"Invoice {n}", "Net 30 days", f"Amount due {n * 17}.00"],
            width=736,
            height=736,
            fmt="JPEG",
        )
        for n in (1, 2)
    ]
    clean = [process(api, tenant, "receipt-ocr", [data]) for data in receipts]
    clean += [process(api, tenant, "document-ocr", [data]) for data in pages]
    assert [job["result"]["fraudStatus"] for job in clean] == ["clean"] * 5
    copy = process(api, tenant, "receipt-ocr", [near_duplicate(receipts[0])])
    assert copy["result"]["fraudStatus"] == "flagged"
    assert {m["matched_submission_id"] for m in matches_of(api.db, copy["submissionId"])} == {
        clean[0]["submissionId"]
    }
