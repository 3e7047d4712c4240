"""Receipt fields from OCR output: merchant, total, currency, date, numbers and line items.

One submission is one receipt; its files are parts of it in order, so the visual rows of all
pages are read as one sequence. Each field is chosen among scored candidates (totals.py,
dates.py, merchant.py, currency.py, identifiers.py) and carries a confidence that estimates the
probability that it is right (calibration.py), the row it was read from (its evidence) and, when
the evidence is weak, a sentence saying why.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from steve_lite.processing.ocr import OcrPage
from steve_lite.processing.receipts.amounts import allows_integers
from steve_lite.processing.receipts.calibration import (
    Calibration,
    calibrated,
    currency_score,
    date_score,
    merchant_score,
    packaged_calibration,
    total_score,
)
from steve_lite.processing.receipts.countries import guess_country
from steve_lite.processing.receipts.currency import find_currency
from steve_lite.processing.receipts.dates import (
    MONTH_FIRST_COUNTRIES,
    candidate_score,
    date_candidates,
)
from steve_lite.processing.receipts.identifiers import find_receipt_number, find_tax_id
from steve_lite.processing.receipts.items import find_line_items
from steve_lite.processing.receipts.merchant import find_merchant
from steve_lite.processing.receipts.rows import Row, receipt_rows
from steve_lite.processing.receipts.totals import find_total

FIELDS = ("merchantName", "totalAmount", "currency", "purchaseDate", "receiptNumber", "taxId")
UNVERIFIED_FACTOR = 0.6
LABELLED_ID_FACTOR = 0.9


@dataclass(frozen=True)
class ReceiptReading:
    """The extractedData of a receipt, plus per-field evidence, doubts and evidence scores."""

    data: dict[str, Any]
    evidence: dict[str, dict[str, Any]]
    doubts: dict[str, str]
    scores: dict[str, float]


def extract_receipt(pages: Sequence[OcrPage]) -> dict[str, Any]:
    """The `receipt-ocr` extractedData for the OCR pages of one receipt, in file order."""
    return read_receipt(pages).data


def read_receipt(
    pages: Sequence[OcrPage], calibration: Calibration | None = None, today: date | None = None
) -> ReceiptReading:
    """Every receipt field with its confidence, evidence row and doubts."""
    calibration = packaged_calibration() if calibration is None else calibration
    rows = receipt_rows(pages)
    texts = [row.text for row in rows]
    values: dict[str, Any] = dict.fromkeys(FIELDS)
    scores: dict[str, float] = {}
    sources: dict[str, list[int]] = {}
    doubts: dict[str, str] = {}
    confidence: dict[str, float] = {}

    currency = find_currency(rows)
    if currency:
        values["currency"] = currency.code
        kinds = currency.country.kinds if currency.country else 0
        ocr = rows[currency.row_index].confidence
        scores["currency"] = currency_score(
            ocr, currency.basis, currency.hits, currency.rivals, kinds
        )
        sources["currency"] = [currency.row_index]
        if currency.basis == "country":
            doubts["currency"] = "no currency printed; inferred from country clues"
        elif currency.basis == "shared-symbol":
            doubts["currency"] = "the printed symbol is used by several currencies"
        if currency.rivals:
            doubts["currency"] = "several currencies are printed"

    integers = allows_integers(values["currency"])
    items = find_line_items(rows, integers)
    items_sum = round(sum(item["amount"] for item in items), 2) if items else None
    total = find_total(texts, integers, items_sum)
    if total:
        values["totalAmount"] = total.value
        ocr = rows[total.row_index].confidence
        scores["totalAmount"] = total_score(ocr, total.label, total.agreements, len(total.rivals))
        sources["totalAmount"] = [total.row_index]
        if total.rivals:
            others = " and ".join(f"{value:.2f}" for value in [total.value, *total.rivals[:2]])
            doubts["totalAmount"] = f"{len(total.rivals) + 1} candidates {others} disagree"
        elif not total.label:
            doubts["totalAmount"] = "no total label; the largest amount near the bottom"
        elif not total.agreements:
            doubts["totalAmount"] = "no payment, subtotal or item sum confirms it"

    country = currency.country if currency else guess_country(rows)
    month_first = values["currency"] == "USD" or bool(
        values["currency"] is None and country and country.territory in MONTH_FIRST_COUNTRIES
    )
    dates = date_candidates(texts, month_first, today)
    if dates:
        best = max(dates, key=lambda candidate: candidate_score(candidate, dates))
        rivals = len({candidate.value for candidate in dates} - {best.value})
        values["purchaseDate"] = best.value.isoformat()
        ocr = rows[best.row_index].confidence
        scores["purchaseDate"] = date_score(
            ocr, best.labelled, best.with_time, best.ambiguous, rivals
        )
        sources["purchaseDate"] = [best.row_index]
        if best.ambiguous:
            doubts["purchaseDate"] = "day and month order is a guess"
        elif rivals:
            doubts["purchaseDate"] = f"{rivals + 1} different dates are printed"
        elif not best.labelled:
            doubts["purchaseDate"] = "no date label"

    merchant = find_merchant(rows)
    if merchant:
        values["merchantName"] = merchant.value
        ocr = min(
            rows[i].confidence
            for i in range(merchant.row_index, merchant.row_index + merchant.rows)
        )
        scores["merchantName"] = merchant_score(
            ocr,
            merchant.legal_suffix,
            merchant.prominent,
            merchant.rows,
            merchant.candidates,
            merchant.rivals_above,
            merchant.slips,
        )
        sources["merchantName"] = list(
            range(merchant.row_index, merchant.row_index + merchant.rows)
        )
        if merchant.slips:
            doubts["merchantName"] = "the name reads like an OCR slip (letter case, digits, marks)"
        elif merchant.rivals_above:
            doubts["merchantName"] = "another name is printed above it (a brand or the company?)"
        elif merchant.rows > 1:
            doubts["merchantName"] = f"joined from {merchant.rows} rows"
        elif not (merchant.legal_suffix or merchant.prominent):
            doubts["merchantName"] = (
                "chosen by position only: no legal-entity suffix, not printed larger"
            )

    for name, score in scores.items():
        confidence[name] = calibrated(calibration, name, score)

    for name, found in (
        ("receiptNumber", find_receipt_number(texts)),
        ("taxId", find_tax_id(texts)),
    ):
        if found:
            values[name] = found.value
            factor = UNVERIFIED_FACTOR if found.verified is False else LABELLED_ID_FACTOR
            confidence[name] = rows[found.row_index].confidence * factor
            sources[name] = [found.row_index]
            if found.verified is False:
                doubts[name] = "its check digit does not match"

    data: dict[str, Any] = dict(values)
    data["lineItems"] = items
    data["fieldConfidence"] = {
        name: round(confidence[name], 4) if values[name] is not None else None for name in FIELDS
    }
    evidence = {name: evidence_of([rows[i] for i in indexes]) for name, indexes in sources.items()}
    return ReceiptReading(data=data, evidence=evidence, doubts=doubts, scores=scores)


def evidence_of(rows: Sequence[Row]) -> dict[str, Any]:
    """The page, box and text of the rows a field was read from (boxes joined)."""
    xs = [x for row in rows for x, _ in row.box]
    ys = [y for row in rows for _, y in row.box]
    left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
    return {
        "pageIndex": rows[0].page_index,
        "box": [[left, top], [right, top], [right, bottom], [left, bottom]],
        "text": "\n".join(row.text for row in rows),
    }


def required_confidence(data: dict[str, Any], required: Sequence[str]) -> float:
    """The lowest confidence among the required fields that have one (0.0 when one is missing)."""
    values = [
        data["fieldConfidence"].get(name) for name in required if name in data["fieldConfidence"]
    ]
    return min((value or 0.0 for value in values), default=0.0)
