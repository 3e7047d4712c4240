"""Receipt fields from OCR output: merchant, total, currency, date, numbers and line items.

One submission is one receipt; its files are parts of it in order, so the visual rows of all pages
are read as one sequence. Every field carries a confidence: the OCR confidence of the row it came
from, multiplied by INFERRED_FACTOR (or AMBIGUOUS_FACTOR) when the value rests on a fallback rule.

Rules that decide between readings:
- Amounts: the last separator followed by exactly two digits is the decimal separator; any other
  `,` `.` `'` or space between groups of three digits is a thousands separator. Numbers without
  decimals count as amounts only for currencies without minor units (JPY).
- Dates: a four-digit first part is year-month-day. Otherwise the year is last: when one part is
  above 12 it is the day; when both could be the month, dotted dates and every currency but USD
  read day-first, USD reads month-first. Two-digit years are 20xx.
- Currency: ISO codes first, then unambiguous symbols (€ £ ¥ ₹ zł Kč), then the country of the
  tax identifier (a `GB…` VAT number, a GSTIN, a NIP), then `$` as USD and `kr` as SEK. The last
  two steps are inferred.
"""

import re
import statistics
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from steve_lite.processing.ocr import OcrPage, box_height, group_rows

INFERRED_FACTOR = 0.6
AMBIGUOUS_FACTOR = 0.8
MERCHANT_SEARCH_ROWS = 6
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY"})


@dataclass(frozen=True)
class Row:
    """One visual row of the receipt: cleaned text, mean OCR confidence, text height."""

    text: str
    confidence: float
    height: float


@dataclass(frozen=True)
class Amount:
    """A money amount found in a row, with its position in the row's text."""

    value: float
    has_decimals: bool
    start: int
    end: int


@dataclass(frozen=True)
class Found:
    """A field value and the confidence it deserves."""

    value: Any
    confidence: float


def extract_receipt(pages: Sequence[OcrPage]) -> dict[str, Any]:
    """The `receipt-ocr` extractedData for the OCR pages of one receipt, in file order."""
    rows = receipt_rows(pages)
    currency = find_currency(rows)
    currency_code = currency.value if currency else None
    items = find_line_items(rows, currency_code)
    items_sum = round(sum(item["amount"] for item in items), 2) if items else None
    total = find_total(rows, currency_code, items_sum)
    found = {
        "merchantName": find_merchant(rows),
        "totalAmount": total,
        "currency": currency,
        "purchaseDate": find_date(rows, currency_code),
        "receiptNumber": find_receipt_number(rows),
        "taxId": find_tax_id(rows),
    }
    result: dict[str, Any] = {name: value.value if value else None for name, value in found.items()}
    result["lineItems"] = items
    result["fieldConfidence"] = {
        name: round(value.confidence, 4) if value else None for name, value in found.items()
    }
    return result


# --- rows and text clean-up ----------------------------------------------------------------------


def receipt_rows(pages: Sequence[OcrPage]) -> list[Row]:
    """The visual rows of every page, in page order, with OCR confusions around digits fixed."""
    rows = []
    for page in pages:
        for members in group_rows(page.lines):
            text = clean_text(" ".join(line.text for line in members))
            if text:
                rows.append(
                    Row(
                        text=text,
                        confidence=statistics.fmean(line.confidence for line in members),
                        height=statistics.fmean(box_height(line.box) for line in members),
                    )
                )
    return rows


DIGIT_CONFUSIONS = (
    (re.compile(r"(?<=\d)[Oo](?![A-Za-z])|(?<=\d[.,])[Oo]|(?<![A-Za-z])[Oo](?=\d)"), "0"),
    (re.compile(r"(?<=\d)[lI|](?=\d)"), "1"),
    (re.compile(r"(?<![\w$])S(?=\d+[.,]\d{2}(?!\d))"), "$"),
)
SPACED_DECIMALS = re.compile(r"(?<=\d)\s?([.,])\s(?=\d{2}(?!\d))|(?<=\d)\s([.,])(?=\d{2}(?!\d))")


def clean_text(text: str) -> str:
    """NFKC-normalise, collapse spaces, and undo common OCR slips inside numbers."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    for pattern, replacement in DIGIT_CONFUSIONS:
        text = pattern.sub(replacement, text)
    return SPACED_DECIMALS.sub(lambda match: match.group(1) or match.group(2), text)


def fold(text: str) -> str:
    """Upper-case text without diacritics (Ł becomes L), for keyword matching."""
    decomposed = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    return "".join(char for char in decomposed if not unicodedata.combining(char)).upper()


def words_of(text: str) -> list[str]:
    """The alphabetic words of text, folded."""
    return re.findall(r"[A-Z]+", fold(text))


def has_phrase(words: Sequence[str], phrase: str) -> bool:
    """Whether the words contain the phrase's words consecutively."""
    wanted = phrase.split()
    return any(
        list(words[start : start + len(wanted)]) == wanted
        for start in range(len(words) - len(wanted) + 1)
    )


# --- amounts -------------------------------------------------------------------------------------

AMOUNT_PATTERN = re.compile(
    r"(?<!\d)(?<!\d[.,])"
    r"(?P<number>"
    r"\d{1,3}(?P<sep>[,.' ])\d{3}(?:(?P=sep)\d{3})*(?:[.,]\d{2})?"
    r"|\d+[.,]\d{2}"
    r"|\d+"
    r")"
    r"(?!\d)(?![.,]\d)"
)
TIME_PATTERN = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")
PERCENT_PATTERN = re.compile(r"\d+(?:[.,]\d+)?\s?%")


def parse_number(number: str) -> tuple[float, bool]:
    """Value of a matched number and whether it had decimals (see the module rules)."""
    if len(number) > 3 and number[-3] in ".," and number[-2:].isdigit():
        whole = re.sub(r"\D", "", number[:-3])
        return float(f"{whole or 0}.{number[-2:]}"), True
    return float(re.sub(r"\D", "", number)), False


def find_amounts(text: str, allow_integers: bool) -> list[Amount]:
    """The money amounts in a row, after blanking out dates, times and percentages."""
    blanked = text
    for pattern in (*DATE_PATTERNS, TIME_PATTERN, PERCENT_PATTERN):
        blanked = pattern.sub(lambda match: " " * len(match.group(0)), blanked)
    amounts = []
    for match in AMOUNT_PATTERN.finditer(blanked):
        value, has_decimals = parse_number(match.group("number"))
        if has_decimals or allow_integers:
            amounts.append(Amount(value, has_decimals, match.start(), match.end()))
    return amounts


def allows_integers(currency: str | None) -> bool:
    """Whether amounts in this currency are printed without decimals."""
    return currency in ZERO_DECIMAL_CURRENCIES


# --- total ---------------------------------------------------------------------------------------

GRAND_TOTAL_PHRASES = (
    "GRAND TOTAL",
    "TOTAL DUE",
    "AMOUNT DUE",
    "BALANCE DUE",
    "TOTAL TO PAY",
    "TOTAL AMOUNT",
    "AMOUNT PAYABLE",
    "ZU ZAHLEN",
    "GESAMTBETRAG",
    "DO ZAPLATY",
    "ATT BETALA",
    "DA PAGARE",
    "TOTAL A PAGAR",
)
TOTAL_PHRASES = (
    "TOTAL",
    "TOTALE",
    "TOTALT",
    "TOTAAL",
    "SUMA",
    "RAZEM",
    "SUMME",
    "GESAMT",
    "SUMMA",
    "BRUTTO",
    "IMPORTE",
    "MONTANT",
    "CELKEM",
    "I ALT",
)
NOT_TOTAL_PHRASES = (
    "SUBTOTAL",
    "SUB TOTAL",
    "ZWISCHENSUMME",
    "NETTO",
    "NET",
    "TAX",
    "VAT",
    "MWST",
    "UST",
    "PTU",
    "IVA",
    "GST",
    "HST",
    "MOMS",
    "CHANGE",
    "CASH",
    "TENDERED",
    "PAID",
    "RECEIVED",
    "TIP",
    "DISCOUNT",
    "RABAT",
    "SAVINGS",
    "ITEMS",
    "QTY",
    "RESZTA",
    "RUCKGELD",
    "GEGEBEN",
    "SPRZEDAZ",
)
INCLUDED_TAX = re.compile(r"\b(?:INCL|INKL|INC|INCLUDING|INKLUSIVE)\b\.?\s*\w+")


def total_priority(text: str) -> int:
    """2 for a grand-total row, 1 for a plain total row, 0 for anything else."""
    words = words_of(INCLUDED_TAX.sub(" ", fold(text)))
    if any(has_phrase(words, phrase) for phrase in NOT_TOTAL_PHRASES):
        return 0
    if any(has_phrase(words, phrase) for phrase in GRAND_TOTAL_PHRASES):
        return 2
    return 1 if any(has_phrase(words, phrase) for phrase in TOTAL_PHRASES) else 0


def is_summary_row(text: str) -> bool:
    """Whether a row is a total, subtotal, tax or payment line rather than an item."""
    words = words_of(text)
    return total_priority(text) > 0 or any(
        has_phrase(words, phrase) for phrase in (*NOT_TOTAL_PHRASES, "CARD", "KARTA", "GOTOWKA")
    )


def find_total(rows: Sequence[Row], currency: str | None, items_sum: float | None) -> Found | None:
    """The grand total: the amount of the best total row, preferring grand totals, then the larger.

    A labelled amount printed without its decimal separator is accepted only when it equals the
    item sum in cents. Without any total label, the largest amount near the bottom is taken; when
    labels exist but hold no readable amount, there is no total.
    """
    integers = allows_integers(currency)
    labelled = [index for index, row in enumerate(rows) if total_priority(row.text)]
    if not labelled:
        return largest_amount_near_bottom(rows, integers)
    candidates = []
    for index in labelled:
        confidence = rows[index].confidence
        amount = labelled_amount(rows, index, integers)
        if amount is None and items_sum is not None:
            amount = amount_matching_cents(rows[index].text, items_sum)
            confidence *= AMBIGUOUS_FACTOR
        if amount is not None:
            priority = total_priority(rows[index].text)
            candidates.append((priority, amount, -index, Found(amount, confidence)))
    return max(candidates, key=lambda candidate: candidate[:3])[3] if candidates else None


def labelled_amount(rows: Sequence[Row], index: int, integers: bool) -> float | None:
    """The last amount on a labelled row, or on the next row when that row holds only an amount."""
    amounts = find_amounts(rows[index].text, integers)
    if amounts:
        return amounts[-1].value
    if index + 1 < len(rows) and not words_of(strip_currency_marks(rows[index + 1].text)):
        following = find_amounts(rows[index + 1].text, integers)
        if following:
            return following[-1].value
    return None


def amount_matching_cents(text: str, items_sum: float) -> float | None:
    """An integer in text that equals the item sum written in cents (a lost decimal separator)."""
    for amount in find_amounts(text, allow_integers=True):
        if not amount.has_decimals and round(amount.value / 100, 2) == items_sum:
            return items_sum
    return None


def largest_amount_near_bottom(rows: Sequence[Row], integers: bool) -> Found | None:
    """Fallback total: the largest amount in the lower half, ignoring cash and change lines."""
    best = None
    for index in range(len(rows) // 2, len(rows)):
        words = words_of(rows[index].text)
        if any(has_phrase(words, word) for word in ("CASH", "CHANGE", "TENDERED", "PAID")):
            continue
        for amount in find_amounts(rows[index].text, integers):
            if best is None or amount.value > best.value:
                confidence = rows[index].confidence * INFERRED_FACTOR
                best = Found(amount.value, confidence)
    return best


# --- currency ------------------------------------------------------------------------------------

CURRENCY_CODES = ("EUR", "USD", "GBP", "PLN", "CHF", "JPY", "SEK", "NOK", "DKK", "CZK", "INR")
CURRENCY_CODES += ("CAD", "AUD", "NZD", "HUF", "RON")
CODE_PATTERNS = tuple(
    (re.compile(rf"(?<![A-Z]){word}(?![A-Z])"), code)
    for word, code in (*((code, code) for code in CURRENCY_CODES), ("EURO", "EUR"))
)
SYMBOL_PATTERNS = (
    (re.compile(r"€"), "EUR"),
    (re.compile(r"£"), "GBP"),
    (re.compile(r"¥"), "JPY"),
    (re.compile(r"₹|\bRs\.?\s?(?=\d)"), "INR"),
    (re.compile(r"(?<![A-Za-z])z[łl](?![A-Za-z])", re.IGNORECASE), "PLN"),
    (re.compile(r"(?<![A-Za-z])Kč(?![A-Za-z])"), "CZK"),
    (re.compile(r"(?<![A-Za-z])S?Fr\.\s?(?=\d)"), "CHF"),
)
AMBIGUOUS_SYMBOL_PATTERNS = (
    (re.compile(r"\$"), "USD"),
    (re.compile(r"(?<![A-Za-z])kr\.?(?![A-Za-z])", re.IGNORECASE), "SEK"),
)


def find_currency(rows: Sequence[Row]) -> Found | None:
    """The receipt's currency, from the most reliable evidence present (see module rules)."""
    return (
        most_frequent_currency(rows, CODE_PATTERNS, 1.0)
        or most_frequent_currency(rows, SYMBOL_PATTERNS, 1.0)
        or tax_id_currency(rows)
        or most_frequent_currency(rows, AMBIGUOUS_SYMBOL_PATTERNS, INFERRED_FACTOR)
    )


def most_frequent_currency(
    rows: Sequence[Row], patterns: Sequence[tuple[re.Pattern[str], str]], factor: float
) -> Found | None:
    """The currency whose patterns match most often (the earliest on a tie)."""
    hits: Counter[str] = Counter()
    first_row: dict[str, int] = {}
    for index, row in enumerate(rows):
        for pattern, code in patterns:
            for _ in pattern.finditer(row.text):
                hits[code] += 1
                first_row.setdefault(code, index)
    if not hits:
        return None
    code = max(hits, key=lambda name: (hits[name], -first_row[name]))
    return Found(code, rows[first_row[code]].confidence * factor)


EURO_COUNTRY_PREFIXES = ("AT", "BE", "CY", "DE", "EE", "EL", "ES", "FI", "FR", "HR", "IE", "IT")
EURO_COUNTRY_PREFIXES += ("LT", "LU", "LV", "MT", "NL", "PT", "SI", "SK")
TAX_ID_PREFIX_CURRENCIES = {
    **dict.fromkeys(EURO_COUNTRY_PREFIXES, "EUR"),
    **{"GB": "GBP", "PL": "PLN", "SE": "SEK", "DK": "DKK", "NO": "NOK", "CZ": "CZK"},
    **{"HU": "HUF", "RO": "RON", "CHE": "CHF"},
}
TAX_ID_LABEL_CURRENCIES = {
    **{"GSTIN": "INR", "NIP": "PLN", "EIN": "USD", "ABN": "AUD", "CVR": "DKK"},
    **{"IVA": "EUR", "UST": "EUR"},
}


def tax_id_currency(rows: Sequence[Row]) -> Found | None:
    """The currency of the country a tax identifier belongs to, from its prefix or its label."""
    for row in rows:
        for label, value in labelled_tax_ids_in(row.text):
            prefix = re.sub(r"[^A-Z].*", "", value.upper())
            by_label = [TAX_ID_LABEL_CURRENCIES.get(word) for word in words_of(label)]
            code = TAX_ID_PREFIX_CURRENCIES.get(prefix) or next(filter(None, by_label), None)
            if code:
                return Found(code, row.confidence * INFERRED_FACTOR)
    return None


def strip_currency_marks(text: str) -> str:
    """Text without currency codes and symbols."""
    for pattern, _ in (*CODE_PATTERNS, *SYMBOL_PATTERNS, *AMBIGUOUS_SYMBOL_PATTERNS):
        text = pattern.sub(" ", text)
    return text


# --- date ----------------------------------------------------------------------------------------

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
    "mrz": 3, "mai": 5, "okt": 10, "dez": 12,
    "fev": 2, "avr": 4, "juin": 6, "juil": 7, "aou": 8,
    "gen": 1, "ene": 1, "abr": 4, "mag": 5, "giu": 6, "lug": 7, "ago": 8, "set": 9, "ott": 10,
    "dic": 12,
    "sty": 1, "lut": 2, "kwi": 4, "maj": 5, "cze": 6, "lip": 7, "sie": 8, "wrz": 9, "paz": 10,
    "lis": 11, "gru": 12,
}  # fmt: skip
YMD_PATTERN = re.compile(r"(?<!\d)(\d{4})\s?([-/.])\s?(\d{1,2})\s?\2\s?(\d{1,2})(?!\d)")
NUMERIC_PATTERN = re.compile(r"(?<!\d)(\d{1,2})\s?([-/.])\s?(\d{1,2})\s?\2\s?(\d{4}|\d{2})(?!\d)")
MONTH_NAME = r"((?:[^\W\d_]|0)[^\W\d_]{2,8})"  # OCR may read the O of Oct as 0
DAY_MONTH_NAME_PATTERN = re.compile(rf"(?<!\d)(\d{{1,2}})\.?\s*{MONTH_NAME}\.?,?\s*(\d{{4}})(?!\d)")
MONTH_NAME_DAY_PATTERN = re.compile(
    rf"(?<![^\W\d_]){MONTH_NAME}\.?\s*(\d{{1,2}})(?:st|nd|rd|th)?,?\s*(\d{{4}})(?!\d)"
)
DATE_PATTERNS = (YMD_PATTERN, NUMERIC_PATTERN, DAY_MONTH_NAME_PATTERN, MONTH_NAME_DAY_PATTERN)
DATE_LABELS = ("DATE", "DATUM", "DATA", "DATO", "FECHA", "DATE OF ISSUE")


def find_date(rows: Sequence[Row], currency: str | None) -> Found | None:
    """The purchase date: the first date on a row labelled as one, else the first date at all."""
    first = None
    for row in rows:
        if is_tax_id_row(row.text):
            continue
        for parsed, ambiguous in dates_in(row.text, currency):
            confidence = row.confidence * (AMBIGUOUS_FACTOR if ambiguous else 1.0)
            found = Found(parsed.isoformat(), confidence)
            if any(has_phrase(words_of(row.text), label) for label in DATE_LABELS):
                return found
            first = first or found
    return first


def dates_in(text: str, currency: str | None) -> list[tuple[date, bool]]:
    """Valid dates written in text, each with whether its day/month order was a guess."""
    found = []
    for match in YMD_PATTERN.finditer(text):
        found.append((make_date(match.group(1), match.group(3), match.group(4)), False))
    for match in NUMERIC_PATTERN.finditer(text):
        first, separator, second, year = match.group(1, 2, 3, 4)
        day, month, ambiguous = order_day_month(int(first), int(second), separator, currency)
        found.append((make_date(year, str(month), str(day)), ambiguous))
    for match in DAY_MONTH_NAME_PATTERN.finditer(text):
        month = month_number(match.group(2))
        found.append((make_date(match.group(3), str(month), match.group(1)), False))
    for match in MONTH_NAME_DAY_PATTERN.finditer(text):
        month = month_number(match.group(1))
        found.append((make_date(match.group(3), str(month), match.group(2)), False))
    return [(parsed, ambiguous) for parsed, ambiguous in found if parsed is not None]


def order_day_month(
    first: int, second: int, separator: str, currency: str | None
) -> tuple[int, int, bool]:
    """(day, month, ambiguous) for a numeric date whose year comes last."""
    if first > 12:
        return first, second, False
    if second > 12:
        return second, first, False
    if first == second:
        return first, second, False
    if separator != "." and currency == "USD":
        return second, first, True
    return first, second, True


def month_number(name: str) -> int:
    """1..12 for a month name or abbreviation in a few European languages, 0 if unknown."""
    key = fold(name).lower().replace("0", "o")
    return MONTHS.get(key[:4]) or MONTHS.get(key[:3], 0)


def make_date(year: str, month: str, day: str) -> date | None:
    """A date from its parts (two-digit years are 20xx), or None when it does not exist."""
    full_year = int(year) + 2000 if len(year) == 2 else int(year)
    if not 2000 <= full_year <= 2099:
        return None
    try:
        return date(full_year, int(month), int(day))
    except ValueError:
        return None


# --- receipt number and tax id -------------------------------------------------------------------

NUMBER_MARK = r"(?:number|num|nº|n°|nr|no|n|#)"
RECEIPT_LABEL = (
    r"(?:receipt|rcpt|invoice|inv|bill|trans(?:action)?|txn|order|ticket|check|doc(?:ument)?"
    r"|bon|beleg|paragon(?:u)?|rachunek|faktura|fattura|scontrino|kvitto|kvittering|quittung"
    r"|ricevuta|recibo|factura|belegnummer)"
)
RECEIPT_VALUE = r"(?P<value>(?=[A-Z0-9\-/]*\d)[A-Z0-9][A-Z0-9\-/]*)"
RECEIPT_NUMBER_PATTERNS = (
    re.compile(
        rf"\b{RECEIPT_LABEL}(?:\b|(?=(?-i:N)))\s*[-.]?\s*{NUMBER_MARK}\.?\s*[:#]?\s*{RECEIPT_VALUE}",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?:nr|no)\.?\s*(?:paragonu|rachunku|bonu|faktury|dokumentu|transakcji)\b\s*[:#]?\s*"
        rf"{RECEIPT_VALUE}",
        re.IGNORECASE,
    ),
)
TAX_ID_LABEL = (
    r"(?:vat(?:\s*reg(?:istration)?\.?)?(?:\s*(?:no|nr|number|id|#))?|nip|tin|tax\s*(?:id|no|number)"
    r"|ust[\s.-]*id[\s.-]*nr|ust[\s.-]*idnr|ust[\s.-]*id|st[\s.-]*nr|ein|p\.?\s?iva|partita\s+iva"
    r"|uid|gstin|abn|cvr|org\.?\s?nr|nif|cif|btw)"
)
TAX_ID_PATTERN = re.compile(
    rf"\b(?P<label>{TAX_ID_LABEL})\.?\s*[:#]?\s*(?P<value>[A-Z]{{0,3}}[\s-]?\d(?:[\dA-Z\-./]|\s(?=\d))*)",
    re.IGNORECASE,
)
MIN_TAX_ID_DIGITS = 7


def find_receipt_number(rows: Sequence[Row]) -> Found | None:
    """The value after a receipt/invoice/transaction number label; it must contain a digit."""
    for row in rows:
        for pattern in RECEIPT_NUMBER_PATTERNS:
            for match in pattern.finditer(row.text):
                value = match.group("value").strip("-/")
                if any(char.isdigit() for char in value) and len(value) >= 2:
                    return Found(value, row.confidence)
    return None


def labelled_tax_ids_in(text: str) -> list[tuple[str, str]]:
    """(label, identifier) pairs: at least 7 digits, spaces removed, not shaped like an amount."""
    found = []
    for match in TAX_ID_PATTERN.finditer(text):
        value = re.sub(r"\s", "", match.group("value")).strip("-./")
        digits = sum(char.isdigit() for char in value)
        if digits >= MIN_TAX_ID_DIGITS and not re.fullmatch(r"[\d,.']+[.,]\d{2}", value):
            found.append((match.group("label"), value))
    return found


def tax_ids_in(text: str) -> list[str]:
    """Tax identifiers after a tax id label."""
    return [value for _, value in labelled_tax_ids_in(text)]


def is_tax_id_row(text: str) -> bool:
    """Whether the row holds a labelled tax identifier."""
    return bool(labelled_tax_ids_in(text))


def find_tax_id(rows: Sequence[Row]) -> Found | None:
    """The first labelled tax identifier (VAT, NIP, TIN, Tax ID, USt-IdNr, EIN and others)."""
    for row in rows:
        values = tax_ids_in(row.text)
        if values:
            return Found(values[0], row.confidence)
    return None


# --- merchant ------------------------------------------------------------------------------------

ADDRESS_PATTERN = re.compile(
    r"\b(?:street|st\.|str\.|road|rd\.?|avenue|ave\.?|blvd|boulevard|lane|drive|highway|way"
    r"|ul\.|al\.|pl\.|plac|via|viale|piazza|corso|rue|avenida|calle|suite|floor)(?!\w)"
    r"|(?:stra(?:ß|ss)e|gatan|gade|vej|weg|platz|allee|gasse|laan|straat)\s*\d"
    r"|\b\d{2}-\d{3}\b",
    re.IGNORECASE,
)
CONTACT_PATTERN = re.compile(
    r"\b(?:tel|phone|ph|tlf|fax|telefon|mob|email|e-mail|www)\b|@|\+\d|\(\d{3}\)|https?:|\.com\b",
    re.IGNORECASE,
)
HEADER_WORDS = frozenset(
    {"RECEIPT", "INVOICE", "TAX", "SALES", "WELCOME", "COPY", "DUPLICATE", "ORDER", "PARAGON"}
    | {"FISKALNY", "KASSENBON", "RECHNUNG", "QUITTUNG", "BON", "SCONTRINO", "FATTURA", "KVITTO"}
    | {"CUSTOMER", "ORIGINAL"}
)


def is_name_like(text: str) -> bool:
    """Whether a top row could be the merchant's name rather than an address, number or label."""
    letters = sum(char.isalpha() for char in text)
    digits = sum(char.isdigit() for char in text)
    if letters < 3 or digits > 0.3 * (letters + digits) or text[0].isdigit():
        return False
    if (ADDRESS_PATTERN.search(text) and digits) or CONTACT_PATTERN.search(text):
        return False
    if (digits and "," in text) or dates_in(text, None) or is_tax_id_row(text):
        return False
    if any(pattern.search(text) for pattern in RECEIPT_NUMBER_PATTERNS):
        return False
    return not set(words_of(text)) <= HEADER_WORDS


def find_merchant(rows: Sequence[Row]) -> Found | None:
    """The most prominent name-like row among the first rows; a second equally tall row joins it.

    Its confidence is always reduced by AMBIGUOUS_FACTOR: the name is found by layout, not by a
    label.
    """
    candidates = [
        (index, row)
        for index, row in enumerate(rows[:MERCHANT_SEARCH_ROWS])
        if is_name_like(row.text)
    ]
    if not candidates:
        return None
    tallest = max(row.height for _, row in candidates)
    index, row = next((i, r) for i, r in candidates if r.height >= 0.9 * tallest)
    name, confidence = tidy_name(row.text), row.confidence * AMBIGUOUS_FACTOR
    median_height = statistics.median(other.height for other in rows)
    following = dict(candidates).get(index + 1)
    if (
        following is not None
        and row.height > 1.2 * median_height
        and following.height >= 0.9 * row.height
    ):
        name = f"{name} {tidy_name(following.text)}"
    return Found(name, confidence)


def tidy_name(text: str) -> str:
    """A name without decoration characters at its ends."""
    return text.strip(" *=-_~#|:.")


# --- line items ----------------------------------------------------------------------------------

QUANTITY_PATTERN = re.compile(
    r"^\d+(?:[.,]\d+)?\s*(?:x|\u00d7|\*|@|szt\.?|pcs|st)\s*(?:\d[\d.,' ]*)?$",
    re.IGNORECASE,
)
TRAILING_MARKS = re.compile(r"(?:\s*(?:[A-Z]|\*))?\s*$")


def find_line_items(rows: Sequence[Row], currency: str | None) -> list[dict[str, Any]]:
    """Rows above the first total row that end with an amount; the text before it describes it.

    A row holding only a quantity and an amount (`2 x 1.50   3.00`) takes its description from
    the row above.
    """
    integers = allows_integers(currency)
    items = []
    previous_text: tuple[str, float] | None = None
    for row in rows:
        text = row.text
        if total_priority(text):
            break
        if is_header_row(text) or is_summary_row(text):
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
        or dates_in(text, None)
        or is_tax_id_row(text)
        or any(pattern.search(text) for pattern in RECEIPT_NUMBER_PATTERNS)
    )


def tidy_description(text: str) -> str:
    """Item text without leader dots, colons and spaces at its ends."""
    return " ".join(text.split()).strip(" .:-_*")
