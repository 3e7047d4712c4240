"""Money amounts in a row of text.

The last separator followed by exactly two digits is the decimal separator; any other `,` `.`
`'` or space between groups of three digits is a thousands separator. Numbers without decimals
count as amounts only for currencies without minor units (JPY, KRW, VND, ...). Dates, times,
percentages and long digit runs (codes, phone numbers) are blanked out first.
"""

import re
from dataclasses import dataclass

from steve_lite.processing.receipts.dates import DATE_PATTERNS

ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "VND", "IDR", "CLP", "ISK", "HUF", "PYG", "UGX"})


@dataclass(frozen=True)
class Amount:
    """A money amount found in a row, with its position in the row's text."""

    value: float
    has_decimals: bool
    start: int
    end: int


AMOUNT_PATTERN = re.compile(
    r"(?<![\d\w])(?<!\d[.,])"
    r"(?P<number>"
    r"\d{1,3}(?P<sep>[,.' ])\d{3}(?:(?P=sep)\d{3})*(?:[.,]\d{2})?"
    r"|\d+[.,]\d{2}"
    r"|[.,]\d{2}"
    r"|\d+"
    r")"
    r"(?!\d)(?![.,]\d)"
)
TIME_PATTERN = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")
PERCENT_PATTERN = re.compile(r"\d+(?:[.,]\d+)?\s?%")


def parse_number(number: str) -> tuple[float, bool]:
    """Value of a matched number and whether it had decimals (see the module rules)."""
    if len(number) >= 3 and number[-3] in ".," and number[-2:].isdigit():
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
        number = match.group("number")
        value, has_decimals = parse_number(number)
        if has_decimals or (allow_integers and len(re.sub(r"\D", "", number)) <= 9):
            amounts.append(Amount(value, has_decimals, match.start(), match.end()))
    return amounts


def allows_integers(currency: str | None) -> bool:
    """Whether amounts in this currency are printed without decimals."""
    return currency in ZERO_DECIMAL_CURRENCIES
