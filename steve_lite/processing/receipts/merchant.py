"""The merchant: the business name block at the top of the receipt.

Rows near the top that read like a name are candidates; addresses, phone and web lines, tax and
registration numbers, dates, cashier and customer lines and headings (TAX INVOICE, RECEIPT) are
not. A legal-entity suffix (SDN BHD, GmbH, Sp. z o.o., LLC, Ltd, S.A., ...) is a strong sign;
without one the most prominent (tallest) candidate wins. A name that runs over two rows is
joined: when the row after it carries the legal suffix the name lacks, or is as tall. A name
may start with a digit (`99 SPEED MART S/B`). Registration numbers printed after the name
(`(126926-H)`), a former name (`FKA BISON STORES SB`, and the row after `formerly known as`)
and a leading terminal code (`#000002`) are cut off; a labelled number (`Invoice: 001-9822`)
is never a name, however large. A legal form glued to the name and misread (`TIMBERSONBHD`)
is split and spelt right.

The evidence kept for the confidence: a clearly read name row above the chosen one (a brand
over its company: either may be the merchant), counted twice when printed larger; a brand row
joined to a company row that names itself; a name printed below a sale's details; and signs of
an OCR letter slip in the name (see `slip_signs`).
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
MAX_NAME_ROWS = 3
LEGAL_FORM = re.compile(
    r"(?<![A-Z])(?:SDN\.?\s*BHD|S/B|SB|BHD|BERHAD|GMBH|MBH|AG|KG|OHG|UG|SP\.?\s*Z\s*O\.?\s*O|S\.?\s?A"
    r"|S\.?R\.?L|S\.?P\.?A|S\.?A\.?S|SARL|B\.?V|N\.?V|LLC|L\.?L\.?C|INC|CORP|LTD|LIMITED|PLC|PTY|PTE"
    r"|AB|A/S|APS|ASA|OY|OYJ|KFT|ZRT|S\.?R\.?O|K\.?K|TBK|PVT)\.?(?![A-Z])"
)
LEGAL_SUFFIX = re.compile(
    r"(?<![A-Z])(?:SDN\.?\s*BHD|S/B|SB|BHD|BERHAD|GMBH|MBH|AG|KG|OHG|E\.?\s?K|UG|SP\.?\s*Z\s*O\.?\s*O"
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
    r"^\W*(?:co\.?|company|companyno|reg|roc|gst|sst|business)\b.*\d|^\W*\(?\d{4,}[\s-]*[A-Z]?\)?\W*$",
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
FORMER_NAME = re.compile(
    r"\s*\(?\b(?:f\.?\s?k\.?\s?a|formerly(?:\s+known\s+as)?|previously\s+known\s+as"
    r"|dawniej|vormals|anciennement)\b.*$",
    re.IGNORECASE,
)
LEADING_CODE = re.compile(r"^\s*#\s*\d+\s+")
LABELLED_NUMBER = re.compile(
    r"^\W*(?:invoice|inv|receipt|rcpt|bill|order|ord|check|chk|transaction|trans|document|doc"
    r"|ticket|rechnung|paragon|faktura)\b\.?\s*(?:no\.?|nr\.?|number)?\s*[:#.=]?\s*[A-Z]{0,4}[-/]?\d",
    re.IGNORECASE,
)
RIVAL_CONFIDENCE = 0.95
PARTICLES = frozenset(
    {"de", "da", "do", "di", "du", "del", "der", "den", "van", "von", "la", "le", "el", "y", "e"}
    | {"and", "of", "the", "und", "et", "i", "en", "och", "og", "z", "o", "sp", "bhd", "sdn"}
)
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
    rivals_above: int
    slips: int


def is_name_like(raw: str) -> bool:
    """Whether a top row could be the merchant's name rather than an address, number or label."""
    if REGISTRATION_ROW.search(raw) or CONTACT_PATTERN.search(raw):
        return False
    text = tidy_name(raw)
    letters = sum(char.isalpha() for char in text)
    digits = sum(char.isdigit() for char in text)
    if letters < 3 or digits > 0.4 * (letters + digits):
        return False
    if CONTACT_PATTERN.search(text) or PERSON_LINE.search(text) or REGISTRATION_ROW.search(text):
        return False
    if THANKS.search(text) or "CARELINE" in text.upper():
        return False
    if ADDRESS_PATTERN.search(text) and (digits or "," in text):
        return False
    if dates_in(text) or is_tax_id_row(text) or LABELLED_NUMBER.search(raw):
        return False
    if any(pattern.search(text) for pattern in RECEIPT_NUMBER_PATTERNS):
        return False
    words = words_of(text)
    if re.fullmatch(r"[A-Z]{1,3}\d+[A-Z\d]*", text.strip()):
        return False
    return not set(words) <= HEADER_WORDS


def has_legal_suffix(text: str) -> bool:
    """Whether the row carries a legal-entity suffix or a business word (TRADING, ENTERPRISE)."""
    return bool(LEGAL_SUFFIX.search(fold(undo_legal_form_slips(text))))


def has_legal_form(text: str) -> bool:
    """Whether the row carries a legal form proper (SDN BHD, GmbH, LLC, Ltd, S.A., ...)."""
    return bool(LEGAL_FORM.search(fold(undo_legal_form_slips(text))))


def find_merchant(rows: Sequence[Row]) -> MerchantFinding | None:
    """The merchant name block (see the module rules)."""
    top = rows[:MERCHANT_SEARCH_ROWS]
    candidates = [
        index
        for index, row in enumerate(top)
        if is_name_like(row.text) and not (index and is_former_name_label(top[index - 1].text))
    ]
    if not candidates:
        return None
    median_height = statistics.median(row.height for row in rows)
    formed = [index for index in candidates if has_legal_form(top[index].text)]
    suffixed = formed or [index for index in candidates if has_legal_suffix(top[index].text)]
    tallest = max(top[index].height for index in candidates)
    if suffixed:
        last = suffixed[0]
        first = last
        while (
            first - 1 in candidates
            and last - first < MAX_NAME_ROWS - 1
            and continues(top[first - 1].text, top[first].text)
        ):
            first -= 1  # the name runs over from the rows above
    else:
        first = next(index for index in candidates if top[index].height >= 0.9 * tallest)
        last = first
        following = first + 1
        if (
            following in candidates
            and top[first].height > 1.2 * median_height
            and top[following].height >= 0.9 * top[first].height
        ):
            last = following
    name = tidy_name(" ".join(tidy_name(top[index].text) for index in range(first, last + 1)))
    prominent = top[first].height >= 0.9 * tallest and top[first].height > 1.1 * median_height
    rivals_above = [
        index for index in candidates if index < first and top[index].confidence >= RIVAL_CONFIDENCE
    ]
    # a rival printed larger than the chosen name weighs double
    rivals_above += [index for index in rivals_above if top[index].height > 1.2 * top[first].height]
    if any(is_transaction_detail(row.text) for row in top[:first]):
        rivals_above.append(first)  # printed below the sale's details: part of another receipt?
    if suffixed and first < last and names_itself(top[last - 1].text, top[last].text):
        rivals_above.append(last - 1)  # a brand joined to the company row below it
    following = last + 1
    if (
        not suffixed
        and following in candidates
        and top[following].height >= 0.9 * top[last].height
        and top[following].confidence >= RIVAL_CONFIDENCE
    ):
        rivals_above.append(following)  # the name may run over to a row as large
    return MerchantFinding(
        value=name,
        row_index=first,
        rows=last - first + 1,
        legal_suffix=bool(suffixed),
        prominent=prominent,
        candidates=len(candidates),
        rivals_above=len(rivals_above),
        slips=slip_signs(name, [row.text for row in rows]),
    )


def slip_signs(name: str, texts: Sequence[str]) -> int:
    """How many signs of an OCR letter slip the name shows: a lower-case word among capitalised
    ones (`perbang Alaf Restaurants`), a digit between letters (`1cDonald`), brackets that do
    not pair (`(SP}`), a letter with a diacritic on a receipt that has no other one
    (`HARDWÀRE`)."""
    words = re.findall(r"[^\W\d_][\w'\u2019]*", name)
    capitalised = [word for word in words if word[0].isupper()]
    lowered = [word for word in words if word[0].islower() and word.casefold() not in PARTICLES]
    signs = int(len(capitalised) >= 2 and bool(lowered))
    signs += bool(re.search(r"[^\W\d_]\d+[^\W\d_]", name))
    opened, closed = re.findall(r"[([{]", name), re.findall(r"[)\]}]", name)
    signs += any(
        (a, b) not in (("(", ")"), ("[", "]"), ("{", "}"))
        for a, b in zip(opened, closed, strict=False)
    )
    marked = {char for char in name if char.isalpha() and not char.isascii()}
    if marked:
        elsewhere = {
            char for text in texts for char in text if char.isalpha() and not char.isascii()
        }
        signs += (
            not (elsewhere - marked) and sum(text.count(c) for text in texts for c in marked) <= 1
        )
    return signs


def is_former_name_label(text: str) -> bool:
    """Whether a row only says that a former name follows (`formerly known as`)."""
    match = FORMER_NAME.match(text)
    return bool(match) and not tidy_name(text)


def is_transaction_detail(text: str) -> bool:
    """Whether a row belongs to a sale rather than to a receipt's heading: thanks, a cashier
    line, a date."""
    return bool(THANKS.search(text) or PERSON_LINE.search(text) or dates_in(text))


def names_itself(above: str, below: str) -> bool:
    """Whether a legal-form row joined to the row above holds a name of its own (a word of
    three letters or more before its legal form) while the row above leaves nothing open."""
    return bool(re.search(r"[A-Z]{3,}", name_before_legal_form(below))) and not leaves_open(above)


def continues(above: str, below: str) -> bool:
    """Whether the row below carries on the name of the row above: it holds little more than
    the legal part (`CO. (M) SDN BHD`), closes a parenthesis the row above opened, or the row
    above ends with a joining character."""
    fragment = len(re.findall(r"[A-Z]{2,}", name_before_legal_form(below))) <= 1
    return fragment or leaves_open(above)


def name_before_legal_form(text: str) -> str:
    """The folded text before its legal-entity suffix (all of it when it has none)."""
    folded = fold(text)
    match = LEGAL_SUFFIX.search(folded)
    return folded[: match.start()] if match else folded


def leaves_open(text: str) -> bool:
    """Whether a row leaves its name open for the next row: an unclosed parenthesis or a
    joining character at its end."""
    return text.count("(") > text.count(")") or text.rstrip().endswith(("&", "-", ",", "+"))


GLUED_LEGAL_FORM = re.compile(r"(?<=[A-Z]{3})(S[DIO0]N\.?\s*BH[DUO0IL])(?=[A-Z]*$)")
LEGAL_FORM_SLIPS = (
    (re.compile(r"(?<![A-Za-z0-9])[S5]\s?/\s?[B8](?![A-Za-z0-9])"), "S/B"),
    (
        re.compile(r"(?<![A-Za-z])S[DI0O]N\.?(\s*)BH[DUO0IL](?![A-Za-z])", re.IGNORECASE),
        r"SDN\1BHD",
    ),
)


def undo_legal_form_slips(text: str) -> str:
    """The text with misread legal forms spelt right (and split from the word they were glued
    to: `TIMBERSONBHD`); forms read right keep their case."""
    text = GLUED_LEGAL_FORM.sub(r" \1 ", text)
    for pattern, replacement in LEGAL_FORM_SLIPS:
        text = pattern.sub(
            lambda match, wanted=replacement: (  # type: ignore[misc]
                match.group(0)
                if re.sub(r"[\W_]", "", match.group(0)).upper() in ("SB", "SDNBHD")
                else match.expand(wanted)
            ),
            text,
        )
    return text


def tidy_name(text: str) -> str:
    """A name without a trailing registration number and decoration characters at its ends,
    with OCR slips in its legal form undone (`5/8` for `S/B`, `SIN BHU` for `SDN BHD`)."""
    text = FORMER_NAME.sub("", LEADING_CODE.sub("", undo_legal_form_slips(text)))
    text = OWNER_PREFIX.sub("", REGISTRATION.sub("", text))
    forms = list(LEGAL_FORM.finditer(fold(text)))
    if forms and len(fold(text)) == len(text):
        text = text[: forms[-1].end()]
    return text.strip(" *=-_~#|:,")
