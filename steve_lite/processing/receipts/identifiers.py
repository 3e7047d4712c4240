"""Receipt numbers and the merchant's tax identifier, each after its label.

Tax ids are recognised in the common national forms after their labels (VAT, GST/SST, GSTIN,
NIP, USt-IdNr., UID, P.IVA, EIN, TIN, ABN, ...); where the format has a check digit (Polish NIP,
Indian GSTIN, UK VAT) an id whose check fails is still returned but marked unverified.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

NUMBER_MARK = r"(?:number|num|nº|n°|nr|no|n|#)"
RECEIPT_LABEL = (
    r"(?:receipt|rcpt|invoice|inv|bill|trans(?:action)?|txn|order|ticket|check|doc(?:ument)?"
    r"|bon|beleg|paragon(?:u)?|rachunek|faktura|fattura|scontrino|kvitto|kvittering|quittung"
    r"|ricevuta|recibo|factura|belegnummer|slip|resit)"
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
    r"|gst(?:\s*(?:id|reg(?:istration)?\.?|ref))?(?:\s*(?:no|nr|number|#))?"
    r"|sst(?:\s*(?:id|reg(?:istration)?\.?))?(?:\s*(?:no|nr|number|#))?"
    r"|ust[\s.-]*id[\s.-]*nr|ust[\s.-]*idnr|ust[\s.-]*id|st[\s.-]*nr|ein|p\.?\s?iva|partita\s+iva"
    r"|uid|gstin|abn|cvr|org\.?\s?nr|nif|cif|btw|npwp|rfc|rut|cnpj|tva|dič|dic)"
)
TAX_ID_PATTERN = re.compile(
    rf"\b(?P<label>{TAX_ID_LABEL})\.?\s*[:#.]?\s*"
    r"(?P<value>[A-Z]{0,3}[\s-]?\d(?:[\dA-Z\-./]|\s(?=\d))*)",
    re.IGNORECASE,
)
MIN_TAX_ID_DIGITS = 7


@dataclass(frozen=True)
class Identifier:
    """An identifier, the row it is on, and whether its check digit (if any) holds."""

    value: str
    row_index: int
    verified: bool | None


def find_receipt_number(texts: Sequence[str]) -> Identifier | None:
    """The value after a receipt/invoice/transaction number label; it must contain a digit."""
    for index, text in enumerate(texts):
        for pattern in RECEIPT_NUMBER_PATTERNS:
            for match in pattern.finditer(text):
                value = match.group("value").strip("-/")
                if any(char.isdigit() for char in value) and len(value) >= 2:
                    return Identifier(value, index, None)
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


def is_tax_id_row(text: str) -> bool:
    """Whether the row holds a labelled tax identifier."""
    return bool(labelled_tax_ids_in(text))


def find_tax_id(texts: Sequence[str]) -> Identifier | None:
    """The first labelled tax identifier, with its check digit verified where it has one."""
    for index, text in enumerate(texts):
        for label, value in labelled_tax_ids_in(text):
            return Identifier(value, index, check_digit_holds(label, value))
    return None


def check_digit_holds(label: str, value: str) -> bool | None:
    """True or False for formats with a check digit, None for the others."""
    digits = re.sub(r"\D", "", value)
    label = label.upper()
    if label == "NIP" and len(digits) == 10:
        weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
        return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 == int(digits[9])
    if label == "GSTIN" and re.fullmatch(r"\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]", value):
        return gstin_check(value)
    if value.upper().startswith("GB") and len(digits) == 9:
        total = sum(int(d) * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True))
        total += int(digits[7:])
        return total % 97 in (0, 42, 55)
    return None


def gstin_check(value: str) -> bool:
    """The mod-36 check character of an Indian GSTIN."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = 0
    for position, char in enumerate(value[:14]):
        product = alphabet.index(char) * (2 if position % 2 else 1)
        total += product // 36 + product % 36
    return alphabet[(36 - total % 36) % 36] == value[14]
