"""Which country a receipt comes from, from clues printed on it.

Clue kinds, each counted once per country: a country name (from CLDR, in English and the
country's main language), an international phone prefix, a legal-entity suffix of the merchant
(`SDN BHD`, `GmbH`, `Sp. z o.o.`), a tax-id label or format (`GST ID`, `NIP`, `USt-IdNr.`), and
words of the labels' language (`JUMLAH`, `RAZEM`, `SUMME`). A language or suffix used in several
countries points to the one most receipts in it come from; that is why the kinds are counted
apart: two independent kinds agreeing is a good sign, one alone is a guess.
"""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from steve_lite.processing.receipts.rows import Row
from steve_lite.processing.receipts.text import fold, has_any, words_of

DATA_PATH = Path(__file__).with_name("currency_data.json")


@cache
def currency_table() -> dict[str, dict[str, object]]:
    """The CLDR-derived table (tools/currency_table.py writes it)."""
    return json.loads(DATA_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def territory_currency(territory: str) -> str | None:
    """The currency in use in a territory (ISO 3166 alpha-2)."""
    value = currency_table()["territoryCurrency"].get(territory)
    return str(value) if value else None


CALLING_CODES = {
    "1": "US", "7": "RU", "20": "EG", "27": "ZA", "30": "GR", "31": "NL", "32": "BE", "33": "FR",
    "34": "ES", "36": "HU", "39": "IT", "40": "RO", "41": "CH", "43": "AT", "44": "GB", "45": "DK",
    "46": "SE", "47": "NO", "48": "PL", "49": "DE", "51": "PE", "52": "MX", "54": "AR", "55": "BR",
    "56": "CL", "57": "CO", "60": "MY", "61": "AU", "62": "ID", "63": "PH", "64": "NZ", "65": "SG",
    "66": "TH", "81": "JP", "82": "KR", "84": "VN", "86": "CN", "90": "TR", "91": "IN", "92": "PK",
    "351": "PT", "352": "LU", "353": "IE", "354": "IS", "358": "FI", "359": "BG", "370": "LT",
    "371": "LV", "372": "EE", "380": "UA", "385": "HR", "386": "SI", "420": "CZ", "421": "SK",
    "852": "HK", "880": "BD", "886": "TW", "971": "AE", "972": "IL", "966": "SA",
}  # fmt: skip
PHONE_PREFIX = re.compile(r"(?<![\w+])\+\s?(\d{1,3})[\s\-().]*\d")

LEGAL_SUFFIXES = (
    (re.compile(r"\bSDN\.?\s*BHD\b|\bS/B\b|\bBHD\b|\bBERHAD\b"), "MY"),
    (re.compile(r"\bPTE\.?\s*LTD\b"), "SG"),
    (re.compile(r"\bPTY\.?\s*LTD\b"), "AU"),
    (re.compile(r"\bGMBH\b|\bMBH\b|\bE\.\s?K\.|\bOHG\b"), "DE"),
    (re.compile(r"\bSP\.?\s*Z\s*O\.?\s*O\b|\bS\.?\s?C\.?\s?\b(?=.*\bNIP\b)"), "PL"),
    (re.compile(r"\bLLC\b|\bINC\b\.?|\bCORP\b"), "US"),
    (re.compile(r"\bPLC\b|\bLTD\b"), "GB"),
    (re.compile(r"\bS\.?R\.?L\.?\b|\bS\.?P\.?A\.?\b|\bS\.?N\.?C\.?\b"), "IT"),
    (re.compile(r"\bSARL\b|\bS\.?A\.?S\.?\b|\bEURL\b"), "FR"),
    (re.compile(r"\bS\.?L\.?U?\b(?=\s*$)|\bS\.?A\.?U\.?\b"), "ES"),
    (re.compile(r"\bB\.?V\.?\b|\bV\.?O\.?F\.?\b"), "NL"),
    (re.compile(r"\bS\.?R\.?O\.?\b|\bA\.?S\.?\b(?=.*\bDIC\b)"), "CZ"),
    (re.compile(r"\bKFT\b|\bZRT\b"), "HU"),
    (re.compile(r"\bAB\b$|\bAKTIEBOLAG\b"), "SE"),
    (re.compile(r"\bA/S\b|\bAPS\b"), "DK"),
    (re.compile(r"\bOY\b|\bOYJ\b"), "FI"),
    (re.compile(r"\bK\.K\.|\bKABUSHIKI\b|\bG\.K\."), "JP"),
    (re.compile(r"\bPT\b(?=\s+[A-Z])|\bTBK\b"), "ID"),
    (re.compile(r"\bPVT\.?\s*LTD\b|\bPRIVATE LIMITED\b"), "IN"),
    (re.compile(r"\bAG\b$|\bSAGL\b|\bSÀRL\b"), "CH"),
)
TAX_LABEL_COUNTRIES = (
    (re.compile(r"\bSST\b|\bGST\s*(?:REG\.?|ID|NO)\b.{0,12}\b\d{12}\b|\bROC\b"), "MY"),
    (re.compile(r"\bGSTIN\b|\bPAN\s*NO\b|\bCGST\b|\bSGST\b"), "IN"),
    (re.compile(r"\bNIP\b|\bNR\s+UNIKATOWY\b|\bPARAGON\s+FISKALNY\b"), "PL"),
    (re.compile(r"\bUST[\s.-]*ID|\bSTEUER[\s-]*NR\b|\bST[\s.-]*NR\b"), "DE"),
    (re.compile(r"\bEIN\b"), "US"),
    (re.compile(r"\bABN\b"), "AU"),
    (re.compile(r"\bNPWP\b"), "ID"),
    (re.compile(r"\bUEN\b|\bGST\s*REG\.?\s*NO\.?\s*:?\s*M\d"), "SG"),
    (re.compile(r"\bP\.?\s?IVA\b|\bPARTITA\s+IVA\b|\bC\.?F\.\b"), "IT"),
    (re.compile(r"\bN\.?I\.?F\.?\b|\bC\.?I\.?F\.?\b"), "ES"),
    (re.compile(r"\bSIRET\b|\bSIREN\b|\bTVA\b"), "FR"),
    (re.compile(r"\bBTW\b|\bKVK\b"), "NL"),
    (re.compile(r"\bCVR\b"), "DK"),
    (re.compile(r"\bORG\.?\s*NR\b"), "SE"),
    (re.compile(r"\bCHE[-\s]?\d{3}\.\d{3}\.\d{3}\b"), "CH"),
    (re.compile(r"\bHST\b|\bGST/HST\b|\bQST\b|\bTPS\b"), "CA"),
    (re.compile(r"\bRFC\b"), "MX"),
    (re.compile(r"\bRUT\b"), "CL"),
    (re.compile(r"\bCNPJ\b|\bCPF\b"), "BR"),
    (re.compile(r"\bIČ\b|\bDIČ\b|\bDIC\b"), "CZ"),
    (re.compile(r"\bVAT\s*REG"), "GB"),
)
LANGUAGE_WORDS = (
    (
        (
            *("JUMLAH", "TUNAI", "BAKI", "TERIMA KASIH", "CUKAI", "HARGA", "KEDAI", "JALAN"),
            *("TAMAN", "BARANG", "TIDAK", "DIJUAL", "DITUKAR", "SILA", "DATANG LAGI"),
        ),
        "MY",
    ),
    (("RAZEM", "SUMA", "GOTOWKA", "RESZTA", "SPRZEDAZ", "DZIEKUJEMY"), "PL"),
    (("SUMME", "GESAMT", "MWST", "BAR", "RUCKGELD", "VIELEN DANK", "ZU ZAHLEN"), "DE"),
    (("TOTALE", "CONTANTI", "RESTO", "GRAZIE", "SCONTRINO", "DOCUMENTO COMMERCIALE"), "IT"),
    (("MONTANT", "ESPECES", "MERCI", "RENDU", "TVA"), "FR"),
    (("IMPORTE", "EFECTIVO", "CAMBIO", "GRACIAS", "IVA INCLUIDO"), "ES"),
    (("TOTAAL", "BEDANKT", "WISSELGELD", "CONTANT"), "NL"),
    (("TOTALT", "ATT BETALA", "KONTANT", "MOMS", "TACK"), "SE"),
    (("CELKEM", "HOTOVOST", "DEKUJEME"), "CZ"),
    (("OSSZESEN", "KESZPENZ", "KOSZONJUK"), "HU"),
    (("TOTAL BAYAR", "KEMBALIAN", "TERIMA KASIH"), "ID"),
)
VAT_ID_PREFIX = re.compile(
    r"\b(?:VAT|MWST|UST|USt|TVA|IVA|BTW|MOMS|CVR|UID|NIP|DPH|ALV|MVA)\b.{0,20}?\b"
    r"(AT|BE|BG|CY|CZ|DE|DK|EE|EL|ES|FI|FR|GB|HR|HU|IE|IT|LT|LU|LV|MT|NL|NO|PL|PT|RO|SE|SI|SK)"
    r"\s?U?\d[\d ]{6,13}"
)
WEAK_NAMES = frozenset(
    {"CHAD", "JERSEY", "GEORGIA", "JORDAN", "TURKEY", "CHINA", "TOGO", "GUERNSEY"}
)


@cache
def country_name_pattern() -> re.Pattern[str]:
    """One pattern matching every country name of the table as whole words (longest first)."""
    names = sorted(
        (name for name in currency_table()["countryNames"] if name not in WEAK_NAMES),
        key=len,
        reverse=True,
    )
    return re.compile(r"(?<![A-Z])(?:" + "|".join(map(re.escape, names)) + r")(?![A-Z])")


@dataclass(frozen=True)
class CountryGuess:
    """The likeliest country, how many clue kinds point to it, and how many point elsewhere."""

    territory: str
    kinds: int
    rival_kinds: int
    row_index: int


def guess_country(rows: Sequence[Row]) -> CountryGuess | None:
    """The country most clue kinds point to (ties: the first clue on the receipt)."""
    kinds: dict[str, set[str]] = {}
    first_row: dict[str, int] = {}

    def add(territory: str, kind: str, index: int) -> None:
        kinds.setdefault(territory, set()).add(kind)
        first_row.setdefault(territory, index)

    names = currency_table()["countryNames"]
    for index, row in enumerate(rows):
        folded = fold(row.text)
        words = words_of(row.text)
        for match in country_name_pattern().finditer(folded):
            add(str(names[match.group(0)]), "name", index)
        for match in PHONE_PREFIX.finditer(row.text):
            digits = match.group(1)
            for length in (3, 2, 1):
                if digits[:length] in CALLING_CODES:
                    add(CALLING_CODES[digits[:length]], "phone", index)
                    break
        for pattern, territory in LEGAL_SUFFIXES:
            if pattern.search(folded):
                add(territory, "legal", index)
        for pattern, territory in TAX_LABEL_COUNTRIES:
            if pattern.search(folded):
                add(territory, "tax", index)
        for match in VAT_ID_PREFIX.finditer(folded):
            add("GR" if match.group(1) == "EL" else match.group(1), "tax", index)
        for phrases, territory in LANGUAGE_WORDS:
            if has_any(words, phrases):
                add(territory, "language", index)
    if not kinds:
        return None
    best = max(kinds, key=lambda name: (len(kinds[name]), -first_row[name]))
    rivals = {kind for name, found in kinds.items() if name != best for kind in found}
    return CountryGuess(best, len(kinds[best]), len(rivals), first_row[best])
