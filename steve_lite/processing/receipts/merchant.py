"""The merchant: the business name block at the top of the receipt.

Rows near the top that read like a name are candidates; addresses, phone and web lines, tax and
registration numbers, dates, cashier and customer lines and headings (TAX INVOICE, RECEIPT) are
not. A legal-entity suffix (SDN BHD, GmbH, Sp. z o.o., LLC, Ltd, S.A., ...) is a strong sign;
without one the most prominent (tallest) candidate wins. A name that runs over two rows is
joined: when the row after it carries the legal suffix the name lacks, or is as tall. A name
may start with a digit (`99 SPEED MART S/B`). Registration numbers printed after the name
(`(126926-H)`) are cut off.
"""

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from steve_lite.processing.receipts.dates import dates_in
from steve_lite.processing.receipts.identifiers import RECEIPT_NUMBER_PATTERNS, is_tax_id_row
from steve_lite.processing.receipts.rows import Row
from steve_lite.processing.receipts.text import fold, words_of

MERCHANT_SEARCH_ROWS = 8
LEGAL_FORM = re.compile(
    r"(?<![A-Z])(?:SDN\.?\s*BHD|S/B|BHD|BERHAD|GMBH|MBH|AG|KG|OHG|UG|SP\.?\s*Z\s*O\.?\s*O|S\.?\s?A"
    r"|S\.?R\.?L|S\.?P\.?A|S\.?A\.?S|SARL|B\.?V|N\.?V|LLC|L\.?L\.?C|INC|CORP|LTD|LIMITED|PLC|PTY|PTE"
    r"|AB|A/S|APS|ASA|OY|OYJ|KFT|ZRT|S\.?R\.?O|K\.?K|TBK|PVT)\.?(?![A-Z])"
)
LEGAL_SUFFIX = re.compile(
    r"(?<![A-Z])(?:SDN\.?\s*BHD|S/B|BHD|BERHAD|GMBH|MBH|AG|KG|OHG|E\.?\s?K|UG|SP\.?\s*Z\s*O\.?\s*O"
    r"|S\.?\s?A|S\.?\s?L|S\.?R\.?L|S\.?P\.?A|S\.?A\.?S|SARL|B\.?V|N\.?V|LLC|L\.?L\.?C|INC|CORP"
    r"|LTD|LIMITED|PLC|PTY|PTE|CO|COMPANY|ENTERPRISES?|TRADING|AB|A/S|APS|ASA|OY|OYJ|KFT|ZRT"
    r"|S\.?R\.?O|SPOLKA|K\.?K|PT|TBK|PVT)\.?(?![A-Z])"
)
ADDRESS_PATTERN = re.compile(
    r"\b(?:street|st\.|str\.|road|rd\.?|avenue|ave\.?|blvd|boulevard|lane|drive|highway|way"
    r"|ul\.|al\.|pl\.|plac|via|viale|piazza|corso|rue|avenida|calle|suite|floor|flr|lot|jalan"
    r"|jln|taman|tmn|lorong|persiaran|no\.|blok|block|unit|level|kawasan|bandar|seksyen|mukim)"
    r"(?!\w)"
    r"|(?:stra(?:ß|ss)e|gatan|gade|vej|weg|platz|allee|gasse|laan|straat)\s*\d"
    r"|\b\d{2}-\d{3}\b|\b\d{5}\b",
    re.IGNORECASE,
)
CONTACT_PATTERN = re.compile(
    r"\b(?:tel|phone|ph|tlf|fax|telefon|mob|hp|email|e-mail|www|website)\b|@|\+\d|\(\d{3}\)"
    r"|https?:|\.com\b|\.my\b|\b\d{2,4}[- ]\d{3,4}[- ]?\d{3,4}\b",
    re.IGNORECASE,
)
REGISTRATION = re.compile(
    r"\(?\s*(?:co\.?\s*(?:reg\.?\s*)?no\.?|company\s*(?:reg\.?\s*)?no\.?|reg\.?\s*no\.?|roc\s*no\.?"
    r"|ssm)?\s*[:.]?\s*\d{3,}[\s-]*[A-Z]?\s*\)?\s*$",
    re.IGNORECASE,
)
REGISTRATION_ROW = re.compile(
    r"^\W*(?:co\.?|company|reg|roc|gst|sst|business)\b.*\d|^\W*\(?\d{4,}[\s-]*[A-Z]?\)?\W*$",
    re.IGNORECASE,
)
HEADER_WORDS = frozenset(
    {"RECEIPT", "INVOICE", "TAX", "SALES", "WELCOME", "COPY", "DUPLICATE", "ORDER", "PARAGON"}
    | {"FISKALNY", "KASSENBON", "RECHNUNG", "QUITTUNG", "BON", "SCONTRINO", "FATTURA", "KVITTO"}
    | {"CUSTOMER", "ORIGINAL", "SIMPLIFIED", "OFFICIAL", "CASH", "SALE", "BILL", "CHECK", "NOTE"}
    | {"ADJUSTMENT", "RESIT", "FULL", "TO", "THE", "AND", "OF", "CREDIT", "DEBIT", "SLIP"}
    | {"DOCUMENTO", "COMMERCIALE", "TICKET", "FACTURE", "FACTURA", "SIMPLIFICADA", "KVITTERING"}
    | {"GST", "SST", "VAT", "REF", "NO", "COMPANY", "REG", "ID", "NUMBER", "ROC", "THANK", "YOU"}
    | {"VISIT", "AGAIN", "PLEASE", "COME", "US", "DO", "FOR", "YOUR", "A", "CO", "COMPANYNO"}
)
OWNER_PREFIX = re.compile(
    r"^\s*(?:owned\s+by|own\s+by|operated\s+by|managed\s+by|a\s+member\s+of)\s*[:.]?\s*", re.I
)
THANKS = re.compile(r"\b(?:thank|terima kasih|danke|merci|grazie|gracias|dziekujemy)", re.I)
PERSON_LINE = re.compile(
    r"^\s*(?:cashier|casher|served by|server|staff|operator|kasjer|kassierer|name|customer"
    r"|member|table|pos|terminal|counter)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MerchantFinding:
    """The merchant name and the evidence for it."""

    value: str
    row_index: int
    rows: int
    legal_suffix: bool
    prominent: bool
    candidates: int


def is_name_like(text: str) -> bool:
    """Whether a top row could be the merchant's name rather than an address, number or label."""
    letters = sum(char.isalpha() for char in text)
    digits = sum(char.isdigit() for char in text)
    if letters < 3 or digits > 0.3 * (letters + digits):
        return False
    if CONTACT_PATTERN.search(text) or PERSON_LINE.search(text) or REGISTRATION_ROW.search(text):
        return False
    if THANKS.search(text) or "CARELINE" in text.upper():
        return False
    if ADDRESS_PATTERN.search(text) and (digits or "," in text):
        return False
    if dates_in(text) or is_tax_id_row(text):
        return False
    if any(pattern.search(text) for pattern in RECEIPT_NUMBER_PATTERNS):
        return False
    words = words_of(text)
    if re.fullmatch(r"[A-Z]{1,3}\d+[A-Z\d]*", text.strip()):
        return False
    return not set(words) <= HEADER_WORDS


def has_legal_suffix(text: str) -> bool:
    """Whether the row carries a legal-entity suffix or a business word (TRADING, ENTERPRISE)."""
    return bool(LEGAL_SUFFIX.search(fold(text)))


def has_legal_form(text: str) -> bool:
    """Whether the row carries a legal form proper (SDN BHD, GmbH, LLC, Ltd, S.A., ...)."""
    return bool(LEGAL_FORM.search(fold(text)))


def find_merchant(rows: Sequence[Row]) -> MerchantFinding | None:
    """The merchant name block (see the module rules)."""
    top = rows[:MERCHANT_SEARCH_ROWS]
    candidates = [index for index, row in enumerate(top) if is_name_like(tidy_name(row.text))]
    if not candidates:
        return None
    median_height = statistics.median(row.height for row in rows)
    suffixed = [index for index in candidates if has_legal_suffix(top[index].text)]
    tallest = max(top[index].height for index in candidates)
    prominent_rows = [index for index in candidates if top[index].height >= 0.9 * tallest]
    index = suffixed[0] if suffixed else prominent_rows[0]
    name = tidy_name(top[index].text)
    used = 1
    previous = index - 1
    if (
        suffixed
        and previous in candidates
        and not has_legal_suffix(top[previous].text)
        and starts_with_suffix(top[index].text)
    ):
        name, index, used = f"{tidy_name(top[previous].text)} {name}", previous, 2
    following = index + used
    if used == 1 and following in candidates and following < len(top):
        next_row = top[following]
        joins_suffix = not has_legal_form(top[index].text) and has_legal_form(next_row.text)
        same_size = (
            top[index].height > 1.2 * median_height and next_row.height >= 0.9 * top[index].height
        )
        if joins_suffix or same_size:
            name, used = f"{name} {tidy_name(next_row.text)}", 2
    prominent = top[index].height >= 0.9 * tallest and top[index].height > 1.1 * median_height
    return MerchantFinding(
        value=name,
        row_index=index,
        rows=used,
        legal_suffix=bool(suffixed) or has_legal_suffix(name),
        prominent=prominent,
        candidates=len(candidates),
    )


def starts_with_suffix(text: str) -> bool:
    """Whether a row begins with the legal part of a name (`CO. (M) SDN BHD`)."""
    match = LEGAL_SUFFIX.search(fold(text))
    return bool(match and match.start() <= 2)


def tidy_name(text: str) -> str:
    """A name without a trailing registration number and decoration characters at its ends."""
    text = OWNER_PREFIX.sub("", REGISTRATION.sub("", text))
    forms = list(LEGAL_FORM.finditer(fold(text)))
    if forms and len(fold(text)) == len(text):
        text = text[: forms[-1].end()]
    return text.strip(" *=-_~#|:,")
