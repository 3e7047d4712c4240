"""Write steve_lite/processing/receipts/currency_data.json from babel's CLDR data.

The table holds: every ISO 4217 code in use as legal tender; every currency symbol printed in a
territory's main language (symbol -> currencies); each territory's currency; and country names in
English and in the territory's main language (folded name -> territory). Building it from babel
takes about 2 s, too long for each worker start, so it is built here once and shipped as data.
A unit test rebuilds it and compares. Run: `python tools/currency_table.py`.
"""

import json
import sys
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.numbers import get_territory_currencies

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from steve_lite.processing.receipts.text import fold

TABLE_PATH = (
    Path(__file__).resolve().parents[1]
    / "steve_lite"
    / "processing"
    / "receipts"
    / "currency_data.json"
)


def main_locale(territory: str, languages: dict[str, dict[str, float]]) -> Locale | None:
    """The locale of the language most people in the territory speak, if babel has it."""
    if not languages:
        return None
    language = max(languages, key=lambda name: languages[name].get("population_percent", 0))
    try:
        return Locale.parse(f"{language}_{territory}")
    except (UnknownLocaleError, ValueError):
        return None


def build_table() -> dict[str, object]:
    """The table, as plain JSON-ready data with sorted keys and lists."""
    english = Locale("en")
    symbols: dict[str, set[str]] = {}
    territory_currency: dict[str, str] = {}
    names: dict[str, str] = {}
    codes: set[str] = set()
    for territory, languages in sorted(get_global("territory_languages").items()):
        if not territory.isalpha():
            continue
        tender = get_territory_currencies(territory, tender=True)
        if not tender:
            continue
        territory_currency[territory] = tender[0]
        codes.update(tender)
        locale = main_locale(territory, languages)
        for locale_ in filter(None, (locale, english)):
            name = locale_.territories.get(territory)
            if name:
                names.setdefault(fold(name), territory)
        if locale is None:
            continue
        for code in tender:
            symbol = locale.currency_symbols.get(code, "").strip("\u200b ")
            if symbol and symbol != code:
                symbols.setdefault(symbol, set()).add(code)
    return {
        "codes": sorted(codes),
        "symbols": {symbol: sorted(found) for symbol, found in sorted(symbols.items())},
        "territoryCurrency": territory_currency,
        "countryNames": dict(sorted(names.items())),
    }


if __name__ == "__main__":
    TABLE_PATH.write_text(json.dumps(build_table(), ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {TABLE_PATH}")
