"""Processing (contract 2.5) through the real API and a real ``steve-lite worker`` process."""

from __future__ import annotations

import difflib
from datetime import UTC, datetime, timedelta

import pytest

from steve_lite.clock import parse_iso
from tests.factories.pages import render_page
from tests.factories.photos import make_corrupt_jpeg, make_photo
from tests.factories.receipts import random_receipt_spec, render_receipt
from tests.support.sessions import submit_files, wait_for_job
from tests.support.worker import JOB_KEYS, WorkerStack, event_types

PAGES = {
    0: [
        "Quarterly report for the north region",
        "Revenue grew by twelve percent",
        "Invoice 4711 was paid on time",
    ],
    1: [
        "Second page of the document",
        "The warehouse moved to the harbour",
        "Contact the office before Friday",
    ],
    3: ["Last page of the report", "Signed by the board of directors", "Thank you for reading"],
}
PAGE_WIDTH, PAGE_HEIGHT = 1000, 736  # OCR scales a shorter side up to 736 px: slower
PROCESSED_EVENTS = ["created", "submitted", "processing_started", "processing_completed"]


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def test_document_pages_come_back_as_text_per_page_in_order(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    files = [
        render_page(PAGES[i], width=PAGE_WIDTH, height=PAGE_HEIGHT) if i in PAGES else None
        for i in range(4)
    ]  # slot 2 left empty: 4 slots, 3 uploads (minFiles is 1)
    session = submit_files(api, tenant, "document-ocr", files, "image/png")
    job = wait_for_job(api, tenant, session["sessionId"])

    assert set(job) == JOB_KEYS
    assert (job["state"], job["submissionStatus"], job["failedReason"]) == (
        "completed",
        "approved",
        None,
    )
    result = job["result"]
    assert (result["fraudStatus"], result["fraudScore"]) == ("clean", 0)
    assert result["missingFields"] == [] and result["reviewReasons"] == []
    data = result["extractedData"]
    assert [page["pageIndex"] for page in data["pages"]] == [0, 1, 2]
    assert [page["fileIndex"] for page in data["pages"]] == [0, 1, 3]
    assert [page["fileIndex"] for page in result["pages"]] == [0, 1, 3]
    assert {(page["filePageIndex"], page["source"]) for page in data["pages"]} == {(0, "ocr")}
    for page in data["pages"]:
        expected = PAGES[page["fileIndex"]]
        texts = [line["text"] for line in page["lines"]]
        assert len(texts) == len(expected), texts
        for want, got in zip(expected, texts, strict=True):
            assert similarity(want, got) >= 0.9, (want, got)
        assert page["text"] == "\n".join(texts)
        tops = []
        for line in page["lines"]:
            assert 0.5 < line["confidence"] <= 1
            assert len(line["box"]) == 4 and all(len(point) == 2 for point in line["box"])
            assert all(0 <= x <= PAGE_WIDTH and 0 <= y <= PAGE_HEIGHT for x, y in line["box"])
            tops.append(min(y for _, y in line["box"]))
        assert tops == sorted(tops)  # top to bottom, as written
        assert 0.5 < page["confidence"] <= 1
    assert data["text"] == "\n\n".join(page["text"] for page in data["pages"])
    assert data["language"] == "en"
    assert 0.5 < result["confidence"] <= 1
    assert parse_iso(job["submittedAt"]) <= parse_iso(job["processedAt"])
    assert event_types(api.db, session["submissionId"]) == PROCESSED_EVENTS


FIELD_NAMES = ("merchantName", "totalAmount", "currency", "purchaseDate", "receiptNumber", "taxId")


def test_receipt_fields_are_extracted_exactly(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    specs = [random_receipt_spec(seed) for seed in (1, 2, 5)]  # EUR, USD and CAD receipts
    sessions = [
        submit_files(api, tenant, "receipt-ocr", [render_receipt(spec)]) for spec in specs
    ]  # all queued at once: the worker's two threads share them
    for spec, session in zip(specs, sessions, strict=True):
        job = wait_for_job(api, tenant, session["sessionId"])
        assert job["state"] == "completed", job
        reasons = job["result"]["reviewReasons"]
        assert job["submissionStatus"] == ("review" if reasons else "approved")
        # a doubt names its field: only merchants without a legal-entity suffix are doubted here
        assert all(reason.startswith("merchantName: ") for reason in reasons), reasons
        data = job["result"]["extractedData"]
        evidence = job["result"]["fieldEvidence"]
        assert set(evidence) == {name for name in FIELD_NAMES if data[name] is not None}
        assert evidence["totalAmount"]["pageIndex"] == 0
        assert len(evidence["totalAmount"]["box"]) == 4
        assert spec.total_label.split()[0].casefold() in evidence["totalAmount"]["text"].casefold()
        assert data["totalAmount"] == spec.total
        assert data["currency"] == spec.currency
        assert data["purchaseDate"] == spec.date.isoformat()
        assert data["receiptNumber"] == spec.receipt_number
        assert data["merchantName"].casefold() == spec.merchant.casefold()
        assert (job["result"]["fraudStatus"], job["result"]["fraudScore"]) == ("clean", 0)
        assert job["result"]["missingFields"] == []


def test_a_receipt_without_required_fields_goes_to_review(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    page = render_page(
        ["Meeting notes", "We discussed the garden party", "Bring chairs and some music"],
        width=PAGE_WIDTH,
        height=PAGE_HEIGHT,
        fmt="JPEG",
    )
    session = submit_files(api, tenant, "receipt-ocr", [page])
    job = wait_for_job(api, tenant, session["sessionId"])
    assert (job["state"], job["submissionStatus"]) == ("completed", "review")
    result = job["result"]
    assert result["missingFields"] == ["totalAmount", "currency", "purchaseDate"]
    assert result["reviewReasons"][0] == (
        "missing required fields: totalAmount, currency, purchaseDate"
    )
    assert all(reason.startswith("merchantName: ") for reason in result["reviewReasons"][1:])
    data = result["extractedData"]
    assert (data["totalAmount"], data["currency"], data["purchaseDate"]) == (None, None, None)
    assert result["fraudStatus"] == "clean"
    assert event_types(api.db, session["submissionId"]) == PROCESSED_EVENTS


def test_a_sharp_recent_photo_with_exif_is_approved(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    taken = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    gps = (52.2297, -21.0122)
    photo = make_photo(seed=11, exif_datetime=taken, gps=gps)
    session = submit_files(api, tenant, "compliance-vm", [photo])
    job = wait_for_job(api, tenant, session["sessionId"])
    assert (job["state"], job["submissionStatus"]) == ("completed", "approved")
    result = job["result"]
    assert (result["fraudStatus"], result["fraudScore"]) == ("clean", 0)
    assert result["photos"] == [{"fileIndex": 0, "passed": True}]
    data = result["extractedData"]
    assert data["compliant"] is True and data["issues"] == []
    (checked,) = data["photos"]
    assert checked["fileIndex"] == 0
    assert (checked["width"], checked["height"]) == (1280, 960)
    assert checked["capturedAt"] == taken.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert checked["gps"] == {
        "latitude": pytest.approx(gps[0], abs=1e-6),
        "longitude": pytest.approx(gps[1], abs=1e-6),
    }
    assert checked["checks"] == {
        "resolution": True,
        "sharpness": True,
        "brightness": True,
        "age": True,
        "duplicate": True,
    }
    assert checked["passed"] is True
    assert checked["sharpness"] > 100 and 40 < checked["brightness"] < 220
    assert result["confidence"] == 1.0


def test_blurred_and_dark_photos_go_to_review_naming_the_check(
    worker_stack: WorkerStack,
) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    blurred = make_photo(seed=21, blur=6)
    dark = make_photo(seed=22, brightness=0.15)
    session = submit_files(api, tenant, "compliance-vm", [blurred, dark])
    job = wait_for_job(api, tenant, session["sessionId"])
    assert (job["state"], job["submissionStatus"]) == ("completed", "review")
    data = job["result"]["extractedData"]
    assert data["compliant"] is False
    # A dark photo also has little contrast, so it reads as soft as well as dark.
    assert [(i["fileIndex"], i["check"]) for i in data["issues"]] == [
        (0, "sharpness"),
        (1, "sharpness"),
        (1, "brightness"),
    ]
    assert "blurry" in data["issues"][0]["message"]
    assert "too dark" in data["issues"][2]["message"]
    assert [p["checks"]["age"] for p in data["photos"]] == [None, None]  # no EXIF date
    assert [p["passed"] for p in data["photos"]] == [False, False]
    assert job["result"]["reviewReasons"] == ["compliance checks failed"]
    assert job["result"]["fraudStatus"] == "clean"


def test_a_corrupt_image_fails_the_session_naming_the_file(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    corrupt = make_corrupt_jpeg()
    assert corrupt[:3] == b"\xff\xd8\xff"  # passes the submit-time magic-bytes check
    session = submit_files(api, tenant, "compliance-vm", [make_photo(seed=31), corrupt])
    job = wait_for_job(api, tenant, session["sessionId"])
    assert set(job) == JOB_KEYS
    assert (job["state"], job["submissionStatus"]) == ("failed", "failed")
    assert job["failedReason"] == "file 1 (photo): image is truncated"
    assert job["result"] is None
    assert job["processedAt"] is not None
    assert event_types(api.db, session["submissionId"]) == [
        "created",
        "submitted",
        "processing_started",
        "processing_failed",
    ]
    row = api.db.execute(
        "SELECT s.failed_reason, sub.status, sub.result FROM sessions s "
        "JOIN submissions sub ON sub.session_id = s.id WHERE s.id = ?",
        [session["sessionId"]],
    ).fetchone()
    assert tuple(row) == ("file 1 (photo): image is truncated", "failed", None)
