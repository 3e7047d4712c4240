"""Processing one submitted session (contract 2.5), idempotently.

Steps: load; count the attempt and mark processing (event ``processing_started``, once);
download the session's PDFs once into private temporary files and count their pages (in an OCR
engine process) against ``maxPages``; then for each file, one at a time per page thread and
several files at once: download, decode, store its perceptual hash, OCR it (a receipt photo: its
receipt cut out first) or measure the photo, and release the image (a PDF is hashed and read
page by page in the OCR engine processes, text layers read instead of OCR, so that PDFium never
runs in the worker); run the workflow's
processor; run fraud checks; decide the outcome; store result, fraud matches, events and the
webhook outbox row in one transaction. That last transaction only commits if the session is
still ``submitted``, so a task that runs twice, or is killed and re-queued, leaves exactly one
outcome.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from PIL import Image

from steve_lite import metrics
from steve_lite.clock import utcnow
from steve_lite.db import Database, transaction
from steve_lite.processing import fraud
from steve_lite.processing.compliance import (
    ComplianceThresholds,
    PhotoFacts,
    check_photos,
    compliance_confidence,
    measure_photo,
)
from steve_lite.processing.images import (
    DecodedImage,
    ImageDecodeError,
    decode_image,
    perceptual_hash,
)
from steve_lite.processing.ocr import OcrPage, document_confidence, document_result
from steve_lite.processing.ocr_limits import PageShapeError
from steve_lite.processing.ocr_pool import OcrFailure
from steve_lite.processing.pdf import PdfError, PdfLimits
from steve_lite.processing.receipt_crop import Placement, find_receipt
from steve_lite.processing.receipts import read_receipt, required_confidence
from steve_lite.processing.receipts.decision import review_reasons
from steve_lite.queue import PROCESS_RETRY_DELAY
from steve_lite.services import WorkerServices
from steve_lite.sessions import store
from steve_lite.sessions.store import SessionRow, SessionState, SubmissionStatus
from steve_lite.storage.s3 import (
    ObjectChangedError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    StorageError,
)
from steve_lite.submissions.events import append_event, has_event
from steve_lite.webhooks.outbox import record_event
from steve_lite.workflows.schemas import FORMATS, PDF, WorkflowDefinition
from steve_lite.workflows.service import get_definition

logger = logging.getLogger("steve_lite.processing")
PDF_LIMITS = PdfLimits()


class FileFailure(Exception):
    """A file that cannot be processed; the session fails with this reason."""


@dataclass(frozen=True)
class Outcome:
    """What processing decided."""

    status: str
    result: dict[str, Any]
    confidence: float
    matches: list[fraud.Match]


def mark_started(db: Database, session: SessionRow, lease_seconds: int) -> int:
    """Count an attempt and record ``processing_started`` once; the attempt's number."""
    event = store.TRANSITIONS["start"].event
    with transaction(db):
        store.renew_lease(db, session["id"], lease_seconds)
        attempt = store.count_attempt(db, session["id"])
        if not has_event(db, session["submission_id"], event):
            append_event(db, session["submission_id"], event)
        return attempt


def present_files(db: Database, session_id: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT * FROM session_files WHERE session_id = ? AND size_bytes > 0 ORDER BY file_index",
        [session_id],
    )
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class PageRead:
    """One page of the result: its file, its page in that file (0 for an image), how its text
    was read (``"ocr"`` or ``"text-layer"``) and what was read."""

    file_index: int
    file_page_index: int
    source: str
    page: OcrPage
    placement: Placement | None = None
    """Where the receipt cut out of a photo lay in it (``page`` was read on the cut)."""

    def box_on_file(self, box: list[list[float]]) -> list[list[float]]:
        """A box of ``page`` in pixels of the file's own (upright) page."""
        return box if self.placement is None else self.placement.to_photo(box)


@dataclass(frozen=True)
class FileRead:
    """What processing keeps of one file once its image is released."""

    file_index: int
    hashed: fraud.HashedFile
    pages: tuple[PageRead, ...] = ()
    photo: PhotoFacts | None = None


def file_name(file: dict[str, Any]) -> str:
    return f"file {file['file_index']} ({file['label']})"


def download(runtime: WorkerServices, file: dict[str, Any], limit_bytes: int) -> bytes:
    """One file's bytes, from the copy sealed at submit; a bad file raises :class:`FileFailure`
    naming it. Storage outages raise ``StorageError`` so that the task is retried."""
    name = file_name(file)
    try:
        return runtime.storage.download(
            file["sealed_key"], max_bytes=limit_bytes, etag=file["sealed_etag"]
        )
    except ObjectNotFoundError:
        raise FileFailure(f"{name}: the uploaded object is gone") from None
    except ObjectChangedError:
        raise FileFailure(f"{name}: the sealed copy changed after submit") from None
    except ObjectTooLargeError:
        raise FileFailure(f"{name}: the object changed size after submit") from None


def decode(file: dict[str, Any], data: bytes, accepted: list[str]) -> DecodedImage:
    """The file's image; a bad image raises :class:`FileFailure` naming the file."""
    try:
        return decode_image(data, accepted)
    except ImageDecodeError as exc:
        raise FileFailure(f"{file_name(file)}: {exc}") from None


@dataclass(frozen=True)
class PdfFile:
    """A PDF of the session, downloaded once into a private temporary file for the engine
    processes: its path, its SHA-256 (the engines' key for the document) and its page count."""

    path: str
    sha256: str
    page_count: int


@contextmanager
def refused_as_failure(file: dict[str, Any]) -> Iterator[None]:
    """A PDF the engines refuse, or cannot open or read within a page's time, raises
    :class:`FileFailure` naming the file."""
    try:
        yield
    except (PdfError, OcrFailure) as exc:
        raise FileFailure(f"{file_name(file)}: {exc}") from None


@contextmanager
def session_pdfs(
    runtime: WorkerServices, definition: WorkflowDefinition, files: list[dict[str, Any]]
) -> Iterator[dict[int, PdfFile]]:
    """The session's PDFs by file index, each downloaded once into a private temporary file
    (removed on exit) and its pages counted in an OCR engine process (opened, not rendered).

    Refuses, before any page is rendered, a session whose files have more pages together than
    the version's ``maxPages`` (an image is one page): the first file in order that goes past
    the limit is named."""
    limit = definition.upload.max_pages
    pdfs: dict[int, PdfFile] = {}
    total = 0
    with ExitStack() as stack:
        for file in files:
            count = 1
            if file["content_type"] == PDF:
                data = download(runtime, file, file["size_bytes"] + 1)
                handle = stack.enter_context(
                    tempfile.NamedTemporaryFile(prefix="steve-pdf-", suffix=".pdf")
                )
                handle.write(data)
                handle.flush()
                sha256 = hashlib.sha256(data).hexdigest()
                del data
                with refused_as_failure(file):
                    count = runtime.ocr.count_pdf_pages(handle.name, sha256, PDF_LIMITS)
                pdfs[file["file_index"]] = PdfFile(handle.name, sha256, count)
            total += count
            if limit is not None and total > limit:
                raise FileFailure(
                    f"{file_name(file)}: "
                    + (f"the PDF has {count} pages; " if file["content_type"] == PDF else "")
                    + f"the session's files have more than the {limit} pages allowed (maxPages)"
                )
        yield pdfs


def store_hash(
    db: Database, session_id: str, file_index: int, phash: str, sha256: str
) -> fraud.HashedFile:
    """Store a file's perceptual hash and SHA-256, before anything else."""
    hashed = fraud.HashedFile(file_index, phash, sha256)
    db.execute(
        "UPDATE session_files SET phash = ?, sha256 = ? WHERE session_id = ? AND file_index = ?",
        [hashed.phash, hashed.sha256, session_id, file_index],
    )
    return hashed


def ocr_page(runtime: WorkerServices, image: Image.Image, name: str) -> OcrPage:
    """One page's OCR; a page the engine must not or cannot read raises :class:`FileFailure`."""
    try:
        return metrics.time_ocr_page(runtime.ocr.read_page, image)
    except (PageShapeError, OcrFailure) as exc:
        raise FileFailure(f"{name}: {exc}") from None


def read_pdf(
    runtime: WorkerServices, session: SessionRow, file: dict[str, Any], pdf: PdfFile
) -> FileRead:
    """Hash a PDF (its bytes, and its first page's look) and read every page in order, each in
    an OCR engine process: from its text layer when it has one, else rendered and OCRed there.
    One page at a time; a page past its time or memory fails the file, naming the page."""
    index, name = file["file_index"], file_name(file)
    ocr = runtime.ocr
    with refused_as_failure(file):
        phash = ocr.hash_pdf(pdf.path, pdf.sha256, PDF_LIMITS)
        hashed = store_hash(runtime.db, session["id"], index, phash, pdf.sha256)
        pages = []
        for page_index in range(pdf.page_count):
            try:  # a PdfError (the document's own limits) fails the file, naming only the file
                page = metrics.time_ocr_page(
                    lambda i: ocr.read_pdf_page(pdf.path, pdf.sha256, PDF_LIMITS, i), page_index
                )
            except OcrFailure as exc:
                raise FileFailure(f"{name}: page {page_index + 1}: {exc}") from None
            pages.append(PageRead(index, page_index, page.source, page.page))
            store.renew_lease(runtime.db, session["id"], runtime.settings.processing_lease_seconds)
    return FileRead(index, hashed, pages=tuple(pages))


def read_file(
    runtime: WorkerServices,
    session: SessionRow,
    definition: WorkflowDefinition,
    file: dict[str, Any],
    limit_bytes: int,
    pdf: PdfFile | None,
) -> FileRead:
    """Hash and read (OCR, or a PDF's text layer) or measure (photo) one file, downloaded and
    decoded here unless it is a PDF (``pdf``, downloaded already), then let it go."""
    db, index = runtime.db, file["file_index"]
    if pdf is not None:
        read = read_pdf(runtime, session, file, pdf)
    else:
        accepted = [FORMATS[mime] for mime in definition.upload.accepted_formats]
        image = decode(file, download(runtime, file, limit_bytes), accepted)
        hashed = store_hash(db, session["id"], index, perceptual_hash(image.image), image.sha256)
        if definition.processor == "compliance-vm":
            read = FileRead(index, hashed, photo=measure_photo(image))
        else:
            crop = find_receipt(image.image) if definition.processor == "receipt-ocr" else None
            page = ocr_page(runtime, crop.image if crop else image.image, file_name(file))
            placement = crop.placement if crop else None
            read = FileRead(index, hashed, pages=(PageRead(index, 0, "ocr", page, placement),))
    if read.pages:
        db.execute(
            "UPDATE session_files SET ocr_text = ? WHERE session_id = ? AND file_index = ?",
            ["\n\n".join(p.page.text for p in read.pages), session["id"], index],
        )
    store.renew_lease(db, session["id"], runtime.settings.processing_lease_seconds)
    metrics.file_read(definition.slug, file["size_bytes"])
    return read


def read_files(
    runtime: WorkerServices,
    session: SessionRow,
    definition: WorkflowDefinition,
    files: list[dict[str, Any]],
) -> list[FileRead]:
    """Every file, in file order, read on the worker's page threads (several files at once,
    never more decoded images than threads). The first failure in file order is raised."""
    limit_bytes = max(f["size_bytes"] for f in files) + 1
    with session_pdfs(runtime, definition, files) as pdfs:
        read_one = partial(read_file, runtime, session, definition)
        futures = [
            runtime.pages.submit(read_one, file, limit_bytes, pdfs.get(file["file_index"]))
            for file in files
        ]
        try:
            return [future.result() for future in futures]
        finally:
            for future in futures:
                future.cancel()


def page_reads(reads: list[FileRead]) -> list[PageRead]:
    """Every page of the result, files in order and each file's pages in order."""
    return [page for read in reads for page in read.pages]


def page_summaries(pages: list[PageRead], paged: bool) -> list[dict[str, Any]]:
    """``result.pages``; with ``paged`` (versions that accept PDF) each entry also says its
    ``pageIndex`` in the result, its ``filePageIndex`` and its ``source``."""
    summaries = []
    for position, read in enumerate(pages):
        entry: dict[str, Any] = {"fileIndex": read.file_index}
        if paged:
            entry |= {
                "pageIndex": position,
                "filePageIndex": read.file_page_index,
                "source": read.source,
            }
        entry |= {"lineCount": len(read.page.lines), "confidence": read.page.confidence}
        summaries.append(entry)
    return summaries


def run_processor(
    definition: WorkflowDefinition, reads: list[FileRead]
) -> tuple[dict[str, Any], float, dict[str, Any]]:
    """The workflow's processor: extractedData, confidence, and the pages or photos summary."""
    if definition.processor == "compliance-vm":
        thresholds = ComplianceThresholds.from_dict(definition.compliance)
        facts = [r.photo for r in reads if r.photo is not None]
        data = check_photos(facts, [r.hashed.phash for r in reads], thresholds, utcnow())
        index_of = [r.file_index for r in reads]
        for photo in data["photos"]:
            photo["fileIndex"] = index_of[photo["fileIndex"]]
        for issue in data["issues"]:
            issue["fileIndex"] = index_of[issue["fileIndex"]]
        photos = [{"fileIndex": p["fileIndex"], "passed": p["passed"]} for p in data["photos"]]
        return data, round(compliance_confidence(data), 4), {"photos": photos}
    paged = definition.upload.max_pages is not None
    reads_by_page = page_reads(reads)
    pages = [read.page for read in reads_by_page]
    summary: dict[str, Any] = {"pages": page_summaries(reads_by_page, paged)}
    if definition.processor == "receipt-ocr":
        reading = read_receipt(pages)
        evidence = {}
        for name, found in reading.evidence.items():
            read = reads_by_page[found["pageIndex"]]
            where = (
                {"pageIndex": found["pageIndex"], "fileIndex": read.file_index}
                if paged
                else {"pageIndex": read.file_index}
            )
            evidence[name] = {**found, "box": read.box_on_file(found["box"]), **where}
        # The OCR lines, so that a reviewer (and any client) can see what was read where, and
        # where the receipt was cut out of its photo (null when it was read whole).
        for entry, read in zip(summary["pages"], reads_by_page, strict=True):
            entry["crop"] = None if read.placement is None else read.placement.record()
            entry["lines"] = [
                {
                    "text": line.text,
                    "confidence": line.confidence,
                    "box": read.box_on_file(line.box),
                }
                for line in read.page.lines
            ]
        summary = {**summary, "fieldEvidence": evidence, "fieldDoubts": reading.doubts}
        confidence = required_confidence(reading.data, definition.required_fields())
        return reading.data, round(confidence, 4), summary
    data = document_result(pages)
    for entry, read in zip(data["pages"], reads_by_page, strict=True):
        if paged:
            entry["fileIndex"] = read.file_index
            entry["filePageIndex"] = read.file_page_index
            entry["source"] = read.source
        else:
            entry["pageIndex"] = read.file_index
    return data, round(document_confidence(pages), 4), summary


def missing_required(definition: WorkflowDefinition, data: dict[str, Any]) -> list[str]:
    """Required fields without a value: absent, null or an empty string. An empty list is a
    value: compliance-vm's required ``issues`` is ``[]`` exactly when every check passed."""
    return [name for name in definition.required_fields() if data.get(name) in (None, "")]


def decide(
    db: Database,
    session: SessionRow,
    definition: WorkflowDefinition,
    hashed: list[fraud.HashedFile],
    data: dict[str, Any],
    confidence: float,
    summary: dict[str, Any],
) -> Outcome:
    """Fraud checks and the outcome: ``approved`` or ``review``, with the reasons."""
    texts = dict(
        db.execute(
            "SELECT file_index, ocr_text FROM session_files WHERE session_id = ?", [session["id"]]
        ).fetchall()
    )
    hashed = [replace(h, text=texts.get(h.file_index)) for h in hashed]
    matches = fraud.image_matches(db, session["company_id"], session["submission_id"], hashed)
    if definition.processor == "receipt-ocr":
        matches += fraud.data_matches(db, session["company_id"], session["submission_id"], data)
    fraud_status, fraud_score = fraud.fraud_status(matches)
    reasons = []
    if fraud_status != "clean":
        reasons.append(f"fraud check: {fraud_status}")
    missing = missing_required(definition, data)
    if missing:
        reasons.append("missing required fields: " + ", ".join(missing))
    doubts = summary.get("fieldDoubts", {})
    if definition.processor == "receipt-ocr":
        required = definition.required_fields()
        reasons += [
            reason
            for reason in review_reasons(data, doubts, required, definition.min_confidence)
            if not reason.endswith(": not found")
        ]
    elif confidence < definition.min_confidence:
        reasons.append(f"confidence {confidence:.2f} is below {definition.min_confidence:.2f}")
    if definition.processor == "compliance-vm" and not data["compliant"]:
        reasons.append("compliance checks failed")
    result = {
        "extractedData": data,
        "confidence": confidence,
        "fraudStatus": fraud_status,
        "fraudScore": fraud_score,
        **{name: value for name, value in summary.items() if name != "fieldDoubts"},
        "missingFields": missing,
        "reviewReasons": reasons,
    }
    status = SubmissionStatus.REVIEW if reasons else SubmissionStatus.APPROVED
    return Outcome(status=status, result=result, confidence=confidence, matches=matches)


def finish_completed(db: Database, session: SessionRow, outcome: Outcome) -> bool:
    """Store the outcome, matches, events and outbox row at once; False if already finished.

    A submission cancelled meanwhile keeps its status; the result is still stored, and the
    session's webhook still tells that the session completed (its payload says ``cancelled``).
    """
    submission_id = session["submission_id"]
    with transaction(db):
        if not store.complete(db, session["id"]):
            return False
        status = store.submission_status(db, submission_id)
        cancelled = status == SubmissionStatus.CANCELLED
        fraud_status = outcome.result["fraudStatus"]
        store.store_outcome(
            db,
            submission_id,
            status=status if cancelled else outcome.status,
            result=json.dumps(outcome.result),
            confidence=outcome.confidence,
            fraud_status=fraud_status,
            fraud_score=outcome.result["fraudScore"],
        )
        fraud.store_matches(db, submission_id, outcome.matches)
        append_event(
            db,
            submission_id,
            store.TRANSITIONS["complete"].event,
            data={
                "outcome": outcome.status,
                "fraudStatus": fraud_status,
                "confidence": outcome.confidence,
                "cancelled": cancelled,
            },
        )
        review = outcome.status == SubmissionStatus.REVIEW and not cancelled
        record_event(
            db, session["id"], "session.review_required" if review else "session.completed"
        )
    return True


def finish_failed(db: Database, session: SessionRow, reason: str) -> bool:
    """Session and submission ``failed`` with the reason; False if already finished."""
    with transaction(db):
        if not store.fail(db, session["id"], session["submission_id"], reason):
            return False
        event = store.TRANSITIONS["fail"].event
        append_event(db, session["submission_id"], event, data={"reason": reason})
        record_event(db, session["id"], "session.failed")
    return True


INTERNAL_FAILURE_REASON = (
    "processing failed for an internal reason after {attempts} attempts; "
    "the operator's logs have the details"
)


def process_session(runtime: WorkerServices, session_id: str) -> None:
    """The task: process one submitted session, at most one outcome however often it runs.

    A bad file fails the session at once. An unexpected error is retried until the session has
    had ``processing_max_attempts`` attempts, then fails it for an internal reason. Storage
    outages raise ``StorageError`` (the queue retries) and do not count as attempts.
    """
    db = runtime.db
    session = store.load_session(db, session_id)
    if session is None or session["state"] != SessionState.SUBMITTED:
        logger.info("session %s is not waiting for processing; nothing to do", session_id)
        return
    settings = runtime.settings
    attempt = mark_started(db, session, settings.processing_lease_seconds)
    started = time.perf_counter()
    try:
        outcome = process_files(runtime, session)
    except FileFailure as exc:
        fail(runtime, session, str(exc))
        metrics.session_processed(session["workflow_slug"], "failed", started)
        return
    except StorageError:
        store.forgive_attempt(db, session_id)
        raise
    except Exception:
        logger.exception(
            "session %s: processing failed (attempt %s of %s)",
            session_id,
            attempt,
            settings.processing_max_attempts,
        )
        if attempt >= settings.processing_max_attempts:
            fail(runtime, session, INTERNAL_FAILURE_REASON.format(attempts=attempt))
            metrics.session_processed(session["workflow_slug"], "failed", started)
        else:
            store.renew_lease(
                db, session_id, settings.processing_lease_seconds + PROCESS_RETRY_DELAY
            )
            runtime.queue.enqueue_processing(session_id, delay=PROCESS_RETRY_DELAY)
        return
    if finish_completed(db, session, outcome):
        metrics.session_processed(session["workflow_slug"], outcome.status, started)
        logger.info("session %s completed: %s", session_id, outcome.status)
        dispatch_events(runtime, session_id)
    else:
        logger.info("session %s was finished by another run; result discarded", session_id)


def process_files(runtime: WorkerServices, session: SessionRow) -> Outcome:
    """Read every file and decide the outcome (nothing is stored as final here)."""
    db = runtime.db
    definition = get_definition(db, session["workflow_id"], session["workflow_version"])
    assert definition is not None
    files = present_files(db, session["id"])
    reads = read_files(runtime, session, definition, files)
    data, confidence, summary = run_processor(definition, reads)
    hashed = [r.hashed for r in reads]
    return decide(db, session, definition, hashed, data, confidence, summary)


def fail(runtime: WorkerServices, session: SessionRow, reason: str) -> None:
    """Fail the session with ``reason`` (once) and send its webhook."""
    if finish_failed(runtime.db, session, reason):
        logger.info("session %s failed: %s", session["id"], reason)
        dispatch_events(runtime, session["id"])


def dispatch_events(runtime: WorkerServices, session_id: str) -> None:
    """Queue delivery of the session's pending outbox rows (the sweep catches any missed)."""
    rows = runtime.db.execute(
        "SELECT id FROM webhook_events WHERE session_id = ? AND status = 'pending' "
        "AND attempts = 0",
        [session_id],
    )
    for row in rows.fetchall():
        runtime.queue.enqueue_delivery(row[0])
