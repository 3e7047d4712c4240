"""Line items: rows above the first total row that end with an amount.

The text before the amount describes it; a row holding only a quantity and an amount
(`2 x 1.50   3.00`) takes its description from the row above.
"""

import re
from collections.abc import Sequence
from typing import Any

from steve_lite.processing.receipts.amounts import Amount, find_amounts
from steve_lite.processing.receipts.currency import strip_currency_marks
from steve_lite.processing.receipts.dates import dates_in
from steve_lite.processing.receipts.identifiers import RECEIPT_NUMBER_PATTERNS, is_tax_id_row
from steve_lite.processing.receipts.merchant import CONTACT_PATTERN
from steve_lite.processing.receipts.rows import Row
from steve_lite.processing.receipts.text import words_of
from steve_lite.processing.receipts.totals import row_kind

QUANTITY_PATTERN = re.compile(
    r"^\d+(?:[.,]\d+)?\s*(?:x|\u00d7|\*|@|szt\.?|pcs|st)\s*(?:\d[\d.,' ]*)?$",
    re.IGNORECASE,
)
TRAILING_MARKS = re.compile(r"(?:\s*(?:[A-Z]{1,2}|\*))?\s*$")


def find_line_items(rows: Sequence[Row], integers: bool) -> list[dict[str, Any]]:
    """The line items (see the module rules), each with the OCR confidence of its rows."""
    items = []
    previous_text: tuple[str, float] | None = None
    for row in rows:
        text = row.text
        kind = row_kind(text)
        if kind in ("grand", "total"):
            break
        if kind != "plain" or is_header_row(text):
            previous_text = None
            continue
        amount = item_amount(text, integers)
        if amount is None:
            previous_text = (text, row.confidence) if words_of(text) else None
            continue
        description = tidy_description(strip_currency_marks(text[: amount.start]))
        confidence = row.confidence
        if (not description or QUANTITY_PATTERN.match(description)) and previous_text:
            description = tidy_description(previous_text[0])
            confidence = (confidence + previous_text[1]) / 2
        previous_text = None
        if words_of(description):
            items.append(
                {"description": description, "amount": amount.value, "confidence": confidence}
            )
    return [{**item, "confidence": round(item["confidence"], 4)} for item in items]


def item_amount(text: str, integers: bool) -> Amount | None:
    """The amount that ends an item row (a tax class letter or currency mark may follow it)."""
    amounts = find_amounts(text, integers)
    if not amounts:
        return None
    last = amounts[-1]
    tail = strip_currency_marks(text[last.end :])
    return last if TRAILING_MARKS.fullmatch(tail) else None


def is_header_row(text: str) -> bool:
    """Whether a row is contact, date, receipt number or tax id information."""
    return bool(
        CONTACT_PATTERN.search(text)
        or dates_in(text)
        or is_tax_id_row(text)
        or any(pattern.search(text) for pattern in RECEIPT_NUMBER_PATTERNS)
    )


def tidy_description(text: str) -> str:
    """Item text without leader dots, colons and spaces at its ends."""
    return " ".join(text.split()).strip(" .:-_*")
