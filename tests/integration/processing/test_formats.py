"""HEIC/HEIF photos and PDF documents through the real API, storage and worker process."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from steve_lite.processing.ocr import OcrLine, assemble_page
from steve_lite.processing.receipts import read_receipt
from steve_lite.storage.embedded import EmbeddedS3
from steve_lite.workflows.service import assign, publish, system_catalog
from tests.factories.pages import render_page
from tests.factories.pdfs import (
    encrypted_pdf,
    huge_page_pdf,
    image_bomb_pdf,
    many_pages_pdf,
    scanned_pdf,
    slow_page_pdf,
    text_pdf,
)
from tests.factories.photos import make_photo
from tests.factories.receipts import draw_paper, photograph_on_table, random_receipt_spec
from tests.support.api import LiveApi, Tenant
from tests.support.sessions import submit_files, upload_and_submit, wait_for_job
from tests.support.uploads import create_body
from tests.support.worker import WorkerStack, start_stack

PDF = "application/pdf"


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.lower(), b.lower()).ratio()


def test_a_heic_photo_is_checked_upright_with_its_exif(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    taken = (datetime.now(UTC) - timedelta(days=3)).replace(microsecond=0)
    gps = (35.6586, 139.7454)
    photo = make_photo(seed=41, fmt="HEIF", exif_datetime=taken, gps=gps, orientation=6)

    session = submit_files(api, tenant, "compliance-vm", [photo], "image/heic")
    job = wait_for_job(api, tenant, session["sessionId"])

    assert (job["state"], job["failedReason"]) == ("completed", None)
    (checked,) = job["result"]["extractedData"]["photos"]
    assert (checked["width"], checked["height"]) == (960, 1280)  # turned upright
    assert checked["capturedAt"] == taken.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert checked["gps"] == {
        "latitude": pytest.approx(gps[0], abs=1e-6),
        "longitude": pytest.approx(gps[1], abs=1e-6),
    }
    assert checked["checks"]["age"] is True


def test_a_heif_page_is_read(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    page = render_page(["Delivery note 5512", "Forty boxes of paper"], fmt="HEIF")

    session = submit_files(api, tenant, "document-ocr", [page], "image/heif")
    job = wait_for_job(api, tenant, session["sessionId"])

    assert (job["state"], job["failedReason"]) == ("completed", None)
    text = job["result"]["extractedData"]["text"]
    assert "5512" in text and "paper" in text.lower()


def test_a_truncated_heic_fails_naming_the_file(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    photo = make_photo(seed=42, fmt="HEIF")

    session = submit_files(api, tenant, "compliance-vm", [photo[: len(photo) // 2]], "image/heic")
    job = wait_for_job(api, tenant, session["sessionId"])

    assert job["state"] == "failed"
    assert job["failedReason"] == "file 0 (photo): HEIC/HEIF image data is corrupt or incomplete"


def submit_typed(
    api: LiveApi, tenant: Tenant, slug: str, files: list[tuple[bytes | None, str]]
) -> dict[str, Any]:
    """Open a session with one slot per (bytes, content type), upload the bytes, submit."""
    with api.client(tenant) as http:
        body = {**create_body(len(files)), "contentTypes": [kind for _, kind in files]}
        response = http.post(f"/api/v1/workflows/{slug}/sessions", json=body)
        assert response.status_code == 201, response.text
        session = response.json()
        upload_and_submit(http, slug, session, [data for data, _ in files])
    return session


TEXT_PAGES = [
    ["Invoice 4711 for the north office", "Forty chairs and two tables", "Total due 1250.00 EUR"],
    ["Second page of the invoice", "Delivery within ten working days"],
]
SCANNED_LINES = ["Scanned letter from the harbour office", "Please confirm the new address"]


def test_pdf_pages_come_back_in_order_from_text_layers_and_ocr(
    worker_stack: WorkerStack,
) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    image = render_page(["A photographed page between two PDFs"], width=1000, height=736)
    files = [
        (text_pdf(TEXT_PAGES), PDF),
        (image, "image/png"),
        (scanned_pdf([SCANNED_LINES]), PDF),
    ]

    session = submit_typed(api, tenant, "document-ocr", files)
    job = wait_for_job(api, tenant, session["sessionId"])

    assert (job["state"], job["failedReason"]) == ("completed", None)
    pages = job["result"]["extractedData"]["pages"]
    assert [(p["pageIndex"], p["fileIndex"], p["filePageIndex"], p["source"]) for p in pages] == [
        (0, 0, 0, "text-layer"),
        (1, 0, 1, "text-layer"),
        (2, 1, 0, "ocr"),
        (3, 2, 0, "ocr"),
    ]
    for page, lines in zip(pages[:2], TEXT_PAGES, strict=True):
        # the text layer as written, not OCR: exact text, full confidence
        assert [line["text"] for line in page["lines"]] == lines
        assert {line["confidence"] for line in page["lines"]} == {1.0}
        tops = [line["box"][0][1] for line in page["lines"]]
        assert tops == sorted(tops) and 0 < tops[0] < 400  # pixels at 200 dpi, from the top
    scanned = [line["text"] for line in pages[3]["lines"]]
    assert len(scanned) == 2 and all(line["confidence"] < 1 for line in pages[3]["lines"])
    for want, got in zip(SCANNED_LINES, scanned, strict=True):
        assert similarity(want, got) >= 0.9, (want, got)
    assert [p["fileIndex"] for p in job["result"]["pages"]] == [0, 0, 1, 2]
    assert "1250.00" in job["result"]["extractedData"]["text"]


def test_a_pdf_receipt_is_read_from_its_text_layer(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    receipt = text_pdf(
        [
            [
                "NORTHWIND TRADING GMBH",
                "Hafenstrasse 12, 20457 Hamburg",
                "Beleg-Nr. 88213",
                "Datum 14.03.2026",
                "Kaffee 3.40",
                "Croissant 2.10",
                "SUMME EUR 5.50",
            ]
        ],
        size=(227, 500),
    )

    session = submit_typed(api, tenant, "receipt-ocr", [(receipt, PDF)])
    job = wait_for_job(api, tenant, session["sessionId"])

    assert job["state"] == "completed", job
    data = job["result"]["extractedData"]
    assert (data["totalAmount"], data["currency"], data["purchaseDate"]) == (
        5.5,
        "EUR",
        "2026-03-14",
    )
    evidence = job["result"]["fieldEvidence"]["totalAmount"]
    assert (evidence["pageIndex"], evidence["fileIndex"]) == (0, 0)
    assert job["result"]["pages"][0]["source"] == "text-layer"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (encrypted_pdf(), "PDF is encrypted with a password"),
        (text_pdf(TEXT_PAGES)[:-400], "PDF is truncated: it does not end with %%EOF"),
        (b"%PDF-1.7\n" + bytes(2000) + b"\n%%EOF\n", "not a valid PDF document"),
        (
            many_pages_pdf(5000),
            "the PDF has 5000 pages; the session's files have more than the 20 pages allowed "
            "(maxPages)",
        ),
        (
            huge_page_pdf(),
            "page 1 of 1 is 200000x200000 points: larger than the 14400-point (200-inch) side "
            "allowed",
        ),
        (
            image_bomb_pdf(),
            "page 1 of 1 holds a 60000x60000 pixel image: more than the 80000000 pixels allowed",
        ),
    ],
    ids=["encrypted", "truncated", "malformed", "page-count-bomb", "page-size-bomb", "image-bomb"],
)
def test_a_bad_pdf_fails_naming_the_file_and_the_worker_goes_on(
    worker_stack: WorkerStack, data: bytes, reason: str
) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    page = render_page(["Still reading after a bad file"], width=1000, height=736)

    bad = submit_typed(api, tenant, "document-ocr", [(page, "image/png"), (data, PDF)])
    good = submit_typed(api, tenant, "document-ocr", [(page, "image/png")])
    failed = wait_for_job(api, tenant, bad["sessionId"])
    completed = wait_for_job(api, tenant, good["sessionId"])

    assert failed["state"] == "failed"
    assert failed["failedReason"] == f"file 1 (page): {reason}"
    assert completed["state"] == "completed"
    assert all(worker.process.poll() is None for worker in worker_stack.workers)


@pytest.fixture(scope="module")
def impatient_stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_s3: EmbeddedS3
) -> Iterator[WorkerStack]:
    """An API and a worker that gives each page 1 s (rendering and reading it)."""
    stack = start_stack(tmp_path_factory.mktemp("impatient"), embedded_s3)
    stack.start_worker(STEVE_OCR_PAGE_TIMEOUT_SECONDS="1")
    yield stack
    stack.stop()


def test_a_pdf_page_too_slow_to_render_fails_the_file_and_the_worker_goes_on(
    impatient_stack: WorkerStack,
) -> None:
    api = impatient_stack.api
    tenant = api.tenant()
    slow = slow_page_pdf(["A quick first page"])

    bad = submit_typed(api, tenant, "document-ocr", [(slow, PDF)])
    failed = wait_for_job(api, tenant, bad["sessionId"])
    good = submit_typed(api, tenant, "document-ocr", [(text_pdf(TEXT_PAGES), PDF)])
    completed = wait_for_job(api, tenant, good["sessionId"])

    assert failed["state"] == "failed"
    assert failed["failedReason"] == (
        "file 0 (page): page 2: reading it took longer than the 1 s allowed per page"
    )
    assert completed["state"] == "completed"
    assert [page["source"] for page in completed["result"]["pages"]] == ["text-layer"] * 2
    (worker,) = impatient_stack.workers
    assert worker.process.poll() is None


def test_the_page_limit_counts_the_pages_of_every_file(worker_stack: WorkerStack) -> None:
    api = worker_stack.api
    tenant = api.tenant()
    eleven = text_pdf([[f"Page {n} of a long report"] for n in range(11)])

    session = submit_typed(api, tenant, "document-ocr", [(eleven, PDF), (eleven, PDF)])
    job = wait_for_job(api, tenant, session["sessionId"])

    assert job["failedReason"] == (
        "file 1 (page): the PDF has 11 pages; the session's files have more than the 20 pages "
        "allowed (maxPages)"
    )


def test_versions_without_pdf_keep_page_index_as_the_file_index(
    worker_stack: WorkerStack,
) -> None:
    """Revision 1 of document-ocr, published as an operator's workflow: its contract as before."""
    api = worker_stack.api
    tenant = api.tenant()
    legacy = next(e.definition for e in system_catalog() if e.definition.slug == "document-ocr")
    slug = f"legacy-{tenant.company['id'][-6:].lower()}"
    publish(api.db, legacy.model_copy(update={"slug": slug}))
    assign(api.db, slug, tenant.company["id"])
    page = render_page(["Page with a single line"], width=1000, height=736)

    session = submit_files(api, tenant, slug, [page, None, page], "image/png")
    job = wait_for_job(api, tenant, session["sessionId"])

    pages = job["result"]["extractedData"]["pages"]
    assert [p["pageIndex"] for p in pages] == [0, 2]
    assert all("source" not in p and "fileIndex" not in p for p in pages)
    assert job["result"]["pages"][0].keys() == {"fileIndex", "lineCount", "confidence"}


RECEIPT_FIELDS = ("totalAmount", "purchaseDate", "currency", "receiptNumber")


def test_a_receipt_on_a_table_is_cut_out_and_read_better_than_the_whole_photo(
    worker_stack: WorkerStack,
) -> None:
    """Through the worker: receipt-ocr cuts each receipt out; document-ocr reads the same
    photos whole (no cut), and the receipt rules run here on its lines, for comparison."""
    api = worker_stack.api
    cropped_tenant, whole_tenant = api.tenant(), api.tenant()
    specs = [random_receipt_spec(seed) for seed in (0, 5)]
    photos = [
        photograph_on_table(draw_paper(spec), seed=seed)
        for spec, seed in zip(specs, (0, 5), strict=True)
    ]
    cropped_sessions = [
        submit_files(api, cropped_tenant, "receipt-ocr", [data]) for data, _ in photos
    ]
    whole_sessions = [submit_files(api, whole_tenant, "document-ocr", [data]) for data, _ in photos]
    cropped_right = whole_right = 0
    for spec, (_, corners), cropped, whole in zip(
        specs, photos, cropped_sessions, whole_sessions, strict=True
    ):
        expected = dict(
            zip(
                RECEIPT_FIELDS,
                (spec.total, spec.date.isoformat(), spec.currency, spec.receipt_number),
                strict=True,
            )
        )
        job = wait_for_job(api, cropped_tenant, cropped["sessionId"])
        assert job["state"] == "completed", job
        (page,) = job["result"]["pages"]
        assert page["crop"]["method"] == "perspective"
        for found, true in zip(page["crop"]["corners"], corners, strict=True):
            assert math.dist(found, true) < 40
        # boxes are in pixels of the photo: on the paper, not on the cut
        xs = [x for line in page["lines"] for x, _ in line["box"]]
        assert min(xs) > min(x for x, _ in corners) - 10
        assert max(xs) < max(x for x, _ in corners) + 10
        data = job["result"]["extractedData"]
        cropped_right += sum(data[name] == value for name, value in expected.items())
        plain = wait_for_job(api, whole_tenant, whole["sessionId"])
        lines = [
            OcrLine(line["text"], line["confidence"], line["box"])
            for line in plain["result"]["extractedData"]["pages"][0]["lines"]
        ]
        read = read_receipt([assemble_page(lines)]).data
        whole_right += sum(read[name] == value for name, value in expected.items())
    assert cropped_right == len(RECEIPT_FIELDS) * len(specs)
    assert cropped_right > whole_right
