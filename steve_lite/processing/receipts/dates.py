"""Purchase dates in the common written forms.

Numeric dates: a four-digit first part is year-month-day; otherwise the year is last and, when
both other parts could be the month, the country decides (month first in the United States and
a few others, day first elsewhere; a dotted date is always day first). Month names and
abbreviations in English, German, French, Spanish, Italian, Portuguese, Dutch, Polish, Swedish,
Danish, Malay, Indonesian and Turkish, with any separator. Two-digit years are 20xx. A date in
the future, before 2000, or glued to other digits (a product code, a phone number) is not a
date.

Scored, not first match: a date label on the row, a time next to it and the same date printed
twice all count for a candidate; the evidence is kept for the confidence.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from steve_lite.processing.receipts.text import fold, has_any, words_of

MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
    "janv": 1, "fevr": 2, "mars": 3, "avr": 4, "mai": 5, "juin": 6, "juil": 7, "aou": 8,
    "mrz": 3, "maer": 3, "okt": 10, "dez": 12, "mrt": 3, "mei": 5,
    "ene": 1, "abr": 4, "ago": 8, "dic": 12, "set": 9, "out": 10, "fev": 2,
    "gen": 1, "mag": 5, "giu": 6, "lug": 7, "ott": 10,
    "sty": 1, "lut": 2, "kwi": 4, "maj": 5, "cze": 6, "lip": 7, "sie": 8, "wrz": 9, "paz": 10,
    "lis": 11, "gru": 12,
    "mac": 3, "ogo": 8, "dis": 12, "agu": 8, "agt": 8, "des": 12,
    "oca": 1, "sub": 2, "nis": 4, "haz": 6, "tem": 7, "eyl": 9, "eki": 10, "kas": 11, "ara": 12,
    "sept": 9, "febr": 2,
}  # fmt: skip
MONTH_FIRST_COUNTRIES = frozenset({"US", "PH", "FM", "PW", "MH", "BZ"})
YMD_PATTERN = re.compile(r"(?<![\d.,])(\d{4})\s?([-/.])\s?(\d{1,2})\s?\2\s?(\d{1,2})(?![\d])")
NUMERIC_PATTERN = re.compile(
    r"(?<![\d.,/-])(\d{1,2})\s?([-/.])\s?(\d{1,2})\s?\2{1,2}\s?(\d{4}|\d{2})(?![\d]|[.,]\d)"
)
MONTH_NAME = r"((?:[^\W\d_]|0)[^\W\d_]{2,8})"  # OCR may read the O of Oct as 0
DAY_MONTH_NAME_PATTERN = re.compile(
    rf"(?<!\d)(\d{{1,2}})\.?[\s\-/]*{MONTH_NAME}\.?,?[\s\-/']*(\d{{4}}|\d{{2}})(?!\d)"
)
MONTH_NAME_DAY_PATTERN = re.compile(
    rf"(?<![^\W\d_]){MONTH_NAME}\.?[\s\-/]*(\d{{1,2}})(?:st|nd|rd|th)?,?[\s\-/']*(\d{{4}})(?!\d)"
)
DATE_PATTERNS = (YMD_PATTERN, NUMERIC_PATTERN, DAY_MONTH_NAME_PATTERN, MONTH_NAME_DAY_PATTERN)
DATE_LABELS = ("DATE", "DATUM", "DATA", "DATO", "FECHA", "TARIKH", "TANGGAL", "TGL", "TARIH")
TIME_NEAR = re.compile(r"\d{1,2}[:.]\d{2}(?::\d{2})?\s?(?:[AP]\.?M\.?)?|\d{1,2}:\d{2}", re.I)


@dataclass(frozen=True)
class DateCandidate:
    """A date on a row, with what speaks for it."""

    value: date
    row_index: int
    ambiguous: bool
    labelled: bool
    with_time: bool


def dates_in(
    text: str, month_first: bool = False, today: date | None = None
) -> list[tuple[date, bool]]:
    """Valid dates written in text, each with whether its day/month order was a guess."""
    found = []
    for match in YMD_PATTERN.finditer(text):
        found.append((make_date(match.group(1), match.group(3), match.group(4), today), False))
    for match in NUMERIC_PATTERN.finditer(text):
        first, separator, second, year = match.group(1, 2, 3, 4)
        day, month, ambiguous = order_day_month(int(first), int(second), separator, month_first)
        found.append((make_date(year, str(month), str(day), today), ambiguous))
    for match in DAY_MONTH_NAME_PATTERN.finditer(text):
        month = month_number(match.group(2))
        if month:
            found.append((make_date(match.group(3), str(month), match.group(1), today), False))
    for match in MONTH_NAME_DAY_PATTERN.finditer(text):
        month = month_number(match.group(1))
        if month:
            found.append((make_date(match.group(3), str(month), match.group(2), today), False))
    return [(parsed, ambiguous) for parsed, ambiguous in found if parsed is not None]


def date_candidates(
    texts: Sequence[str], month_first: bool, today: date | None = None
) -> list[DateCandidate]:
    """Every date on the rows, with its label and time evidence."""
    candidates = []
    for index, text in enumerate(texts):
        for value, ambiguous in dates_in(text, month_first, today):
            words = words_of(text)
            candidates.append(
                DateCandidate(
                    value=value,
                    row_index=index,
                    ambiguous=ambiguous,
                    labelled=has_any(words, DATE_LABELS) or "DATE" in fold(text),
                    with_time=bool(TIME_NEAR.search(text)),
                )
            )
    return candidates


def candidate_score(candidate: DateCandidate, candidates: Sequence[DateCandidate]) -> float:
    """How strongly the receipt supports a candidate: label, time, repeats, order certainty."""
    repeats = sum(other.value == candidate.value for other in candidates) - 1
    return (
        2.0 * candidate.labelled
        + 1.0 * candidate.with_time
        + 0.5 * min(repeats, 2)
        - 0.5 * candidate.ambiguous
        - 0.01 * candidate.row_index
    )


def order_day_month(
    first: int, second: int, separator: str, month_first: bool
) -> tuple[int, int, bool]:
    """(day, month, ambiguous) for a numeric date whose year comes last."""
    if first > 12:
        return first, second, False
    if second > 12:
        return second, first, False
    if first == second:
        return first, second, False
    if separator != "." and month_first:
        return second, first, True
    return first, second, True


def month_number(name: str) -> int:
    """1..12 for a month name or abbreviation (see the module's languages), 0 if unknown."""
    key = fold(name).lower().replace("0", "o")
    return MONTHS.get(key[:4]) or MONTHS.get(key[:3], 0)


def make_date(year: str, month: str, day: str, today: date | None = None) -> date | None:
    """A date from its parts (two-digit years are 20xx), or None when it cannot be one."""
    full_year = int(year) + 2000 if len(year) == 2 else int(year)
    latest = today or date.today()
    try:
        parsed = date(full_year, int(month), int(day))
    except ValueError:
        return None
    return parsed if date(2000, 1, 1) <= parsed <= latest else None
