"""The receipt's currency: printed codes and symbols first, then the country clues.

- An ISO 4217 code (any code in use as legal tender, from CLDR) counts when it stands next to an
  amount, in a column heading such as `Amount(RM)`, or is one of the widely used codes; a code
  glued to other letters or digits (`RON95` fuel) or followed by a dot (`SEK.` for Seksyen) does
  not count.
- A symbol names its currency when only one currency uses it (`€`, `zł`, `RM`, `Kč`); a symbol
  shared by several (`$`, `kr`, `£`, `¥`, `Rs`) is resolved by the country clues, else to the
  currency most receipts with that symbol are in (USD, SEK, GBP, JPY, INR).
- With nothing printed, the currency of the country the clues point to (countries.py).
"""

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from steve_lite.processing.receipts.countries import (
    CountryGuess,
    currency_table,
    guess_country,
    territory_currency,
)
from steve_lite.processing.receipts.rows import Row

COMMON_CODES = frozenset(
    {"EUR", "USD", "GBP", "PLN", "CHF", "JPY", "SEK", "NOK", "DKK", "CZK", "HUF", "RON", "INR"}
    | {"CAD", "AUD", "NZD", "MYR", "SGD", "CNY", "HKD", "THB", "IDR", "PHP", "VND", "KRW", "TRY"}
    | {"ZAR", "BRL", "MXN"}
)
CODE_ALIASES = {"EURO": "EUR", "EUROS": "EUR"}
LOCAL_MARKS = {
    "zl": ["PLN"], "Kc": ["CZK"], "Fr.": ["CHF"], "SFr.": ["CHF"], "sFr.": ["CHF"],
    "lei": ["RON"], "S$": ["SGD"], "A$": ["AUD"], "NZ$": ["NZD"], "C$": ["CAD"], "CA$": ["CAD"],
    "Rs.": ["INR", "PKR", "LKR"], "Rs": ["INR", "PKR", "LKR"], "TL": ["TRY"], "Dhs": ["AED"],
    "元": ["CNY"], "円": ["JPY"], "¥": ["JPY", "CNY"], "￥": ["JPY", "CNY"], "kr.": ["DKK", "NOK"],
}  # fmt: skip
SYMBOL_DEFAULTS = {"$": "USD", "kr": "SEK", "kr.": "DKK", "£": "GBP", "¥": "JPY", "Rs": "INR"}
SYMBOL_DEFAULTS |= {"Rs.": "INR", "￥": "JPY", "K": "MMK", "L": "HNL", "Br": "BYN"}
STRONG_SHORT = frozenset({"RM", "zł", "zl", "Kč", "Kc", "Ft", "kr", "Rs", "Rp", "TL", "Fr", "SFr"})
AMOUNT_NEAR = r"\s?-?\d[\d.,' ]*\d"


@dataclass(frozen=True)
class CurrencyFinding:
    """The currency and the evidence behind it, for the confidence features."""

    code: str
    basis: str  # "code", "symbol", "shared-symbol", "country"
    hits: int
    rivals: int
    row_index: int
    country: CountryGuess | None


@cache
def symbol_currencies() -> dict[str, list[str]]:
    """Symbol or local mark -> the currencies it is used for."""
    table: dict[str, list[str]] = {k: list(v) for k, v in currency_table()["symbols"].items()}
    for mark, codes in LOCAL_MARKS.items():
        table[mark] = sorted(set(table.get(mark, [])) | set(codes))
    return table


@cache
def symbol_patterns() -> list[tuple[re.Pattern[str], str]]:
    """A pattern per symbol: letter symbols must stand apart from other letters; one- and
    two-letter symbols must also touch an amount."""
    patterns = []
    for symbol in sorted(symbol_currencies(), key=len, reverse=True):
        escaped = re.escape(symbol)
        if symbol[0].isalpha():
            guard = rf"(?<![^\W\d_]){escaped}(?![^\W\d_])"
            if len(symbol.rstrip(".")) <= 2 and symbol not in STRONG_SHORT:
                guard = rf"(?<![^\W\d_]){escaped}(?={AMOUNT_NEAR})|(?<=\d)\s?{escaped}(?![^\W\d_])"
            patterns.append((re.compile(guard), symbol))
        else:
            patterns.append((re.compile(escaped), symbol))
    return patterns


@cache
def code_pattern() -> re.Pattern[str]:
    """Three capital letters that are an ISO code, apart from other letters and digits."""
    codes = sorted({*currency_table()["codes"], *CODE_ALIASES})
    return re.compile(r"(?<![A-Za-z0-9])(" + "|".join(codes) + r")(?![A-Za-z0-9])(?!\.[A-Za-z ])")


def code_counts(text: str, match: re.Match[str]) -> bool:
    """Whether a code found in text is used as a currency there (see the module rules)."""
    code = match.group(1)
    before, after = text[: match.start()], text[match.end() :]
    if before.rstrip().upper().endswith(("SDN", "SDN.")):
        return False  # BHD of SDN BHD, not the Bahraini dinar
    near_amount = re.match(r"\s?-?\d[\d.,' ]*[.,]\d{2}", after) or re.search(
        r"\d[.,]\d{2}\s?$", before
    )
    heading = before.endswith("(") and after.startswith(")")
    anywhere = (code in COMMON_CODES or code in CODE_ALIASES) and re.search(r"\d[.,]\d{2}", text)
    return bool(near_amount or heading or anywhere)


def find_currency(rows: Sequence[Row]) -> CurrencyFinding | None:
    """The receipt's currency and the evidence for it (see the module rules)."""
    codes: Counter[str] = Counter()
    symbols: Counter[str] = Counter()
    first_row: dict[str, int] = {}
    for index, row in enumerate(rows):
        for match in code_pattern().finditer(row.text):
            if code_counts(row.text, match):
                code = CODE_ALIASES.get(match.group(1), match.group(1))
                codes[code] += 1
                first_row.setdefault(code, index)
        taken: list[tuple[int, int]] = []
        for pattern, symbol in symbol_patterns():
            for match in pattern.finditer(row.text):
                if any(start < match.end() and match.start() < end for start, end in taken):
                    continue
                taken.append(match.span())
                symbols[symbol] += 1
                first_row.setdefault(symbol, index)
    country = guess_country(rows)
    country_code = territory_currency(country.territory) if country else None
    if country_code:
        for code in list(codes):
            if code != country_code and code not in COMMON_CODES:
                del codes[code]  # a rare code where the clues point elsewhere: a word
    if codes:
        best = max(codes, key=lambda c: (codes[c], c == country_code, -first_row[c]))
        return CurrencyFinding(best, "code", codes[best], len(codes) - 1, first_row[best], country)
    votes: Counter[str] = Counter()
    shared = False
    for symbol, count in symbols.items():
        candidates = symbol_currencies()[symbol]
        if is_weak_symbol(symbol) and country_code not in candidates:
            continue
        if len(candidates) == 1:
            votes[candidates[0]] += count
            first_row.setdefault(candidates[0], first_row[symbol])
            continue
        shared = True
        if country_code in candidates:
            choice = country_code
        elif country_code and country and country.kinds >= 2 and symbol == "$":
            choice = country_code  # a local POS printing `$` for its own currency
        else:
            choice = SYMBOL_DEFAULTS.get(symbol, candidates[0])
        votes[choice] += count
        first_row.setdefault(choice, first_row[symbol])
    if votes:
        best = max(votes, key=lambda c: (votes[c], c == country_code, -first_row[c]))
        basis = "shared-symbol" if shared and best not in unique_symbol_codes(symbols) else "symbol"
        return CurrencyFinding(best, basis, votes[best], len(votes) - 1, first_row[best], country)
    if country_code and country:
        return CurrencyFinding(country_code, "country", 0, 0, country.row_index, country)
    return None


def is_weak_symbol(symbol: str) -> bool:
    """A one- or two-letter symbol (`R`, `K`, `Br`) that counts only where the country uses it."""
    letters = symbol.rstrip(".")
    return letters.isalpha() and len(letters) <= 2 and letters not in STRONG_SHORT


def unique_symbol_codes(symbols: Counter[str]) -> set[str]:
    """Currencies named by a symbol no other currency uses."""
    found = set()
    for symbol in symbols:
        candidates = symbol_currencies()[symbol]
        if len(candidates) == 1:
            found.add(candidates[0])
    return found


def strip_currency_marks(text: str) -> str:
    """Text without currency codes and symbols."""
    text = code_pattern().sub(" ", text)
    for pattern, _ in symbol_patterns():
        text = pattern.sub(" ", text)
    return text
