"""The grand total: every candidate amount scored by its label, position and the consistency
checks it passes, instead of the first match.

Labels, in many languages: a grand-total label (GRAND TOTAL, AMOUNT DUE, TOTAL PAYABLE, NET
TOTAL, TOTAL INCL. GST/VAT, ZU ZAHLEN, DO ZAPŁATY, ...) outranks a plain one (TOTAL, SUMA, RAZEM,
SUMME, GESAMT, TOTALE, MONTANT, JUMLAH, ...). A row that is a subtotal, tax, item count,
savings, discount or change row is never a total row, even when it says TOTAL.

Consistency checks that support a value: a card or other payment row repeats it; cash tendered
minus change equals it; subtotal plus tax (plus a rounding adjustment) equals it; the line items
add up to it; a rounding adjustment turns another total into it; another total row repeats it.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

from steve_lite.processing.receipts.amounts import Amount, find_amounts
from steve_lite.processing.receipts.currency import strip_currency_marks
from steve_lite.processing.receipts.text import fold, has_any, words_of

GRAND_TOTAL_PHRASES = (
    "GRAND TOTAL", "TOTAL DUE", "AMOUNT DUE", "BALANCE DUE", "TOTAL TO PAY", "TOTAL AMOUNT",
    "AMOUNT PAYABLE", "TOTAL PAYABLE", "NETT TOTAL", "NET TOTAL", "TOTAL NETT", "NET AMOUNT",
    "TOTAL INCL", "TOTAL INC", "INCL GST", "INC GST", "INCLUSIVE", "INCL VAT", "TOTAL SALES INCL",
    "AFTER ADJ", "AFTER ROUNDING", "ROUNDED TOTAL", "TOTAL AFTER", "AMOUNT TO PAY", "PAYABLE",
    "ZU ZAHLEN", "GESAMTBETRAG", "DO ZAPLATY", "ATT BETALA", "DA PAGARE", "TOTAL A PAGAR",
    "TOTAL TTC", "NET A PAYER", "TOTAL COMPLESSIVO", "JUMLAH BESAR", "JUMLAH PERLU DIBAYAR",
    "TOTAL BAYAR", "TE BETALEN", "K UHRADE", "FIZETENDO", "TOPLAM", "TOTAL AMT",
)  # fmt: skip
TOTAL_PHRASES = (
    "TOTAL", "TOTALE", "TOTALT", "TOTAAL", "SUMA", "RAZEM", "SUMME", "GESAMT", "SUMMA", "BRUTTO",
    "IMPORTE", "MONTANT", "CELKEM", "I ALT", "JUMLAH", "OSSZESEN", "YHTEENSA",
)  # fmt: skip
SUBTOTAL_PHRASES = (
    "SUBTOTAL", "SUB TOTAL", "ZWISCHENSUMME", "NETTO", "SUBTOTALE", "SOUS TOTAL", "EXCL",
    "EXCLUDING", "EXCLUSIVE", "BEFORE", "IMPONIBILE", "SPRZEDAZ OPODATK", "NET OF",
)  # fmt: skip
TAX_PHRASES = ("TAX", "VAT", "MWST", "UST", "PTU", "IVA", "GST", "HST", "MOMS", "SST", "TVA", "BTW")
COUNT_PHRASES = ("QTY", "QUANTITY", "ITEMS", "ITEM", "ITEM COUNT", "PCS", "UNITS", "COUNT", "NO OF")
OTHER_PHRASES = (
    "SAVINGS", "SAVED", "DISCOUNT", "DISC", "RABAT", "TIP", "POINTS", "DEPOSIT", "VOUCHER",
    "COUPON", "SUMMARY", "ZERO RATED", "EXEMPT", "SUPPLIES", "SUPPLY",
)  # fmt: skip
CHANGE_PHRASES = (
    "CHANGE", "CHANGE DUE", "BAKI", "RESZTA", "RUCKGELD", "RESTO", "RENDU", "CAMBIO", "VUELTO",
    "WISSELGELD", "VAXEL", "KEMBALIAN", "TROCO", "BALANCE",
)  # fmt: skip
CASH_PHRASES: tuple[str, ...]
CASH_PHRASES = ("CASH", "TUNAI", "BAR", "GOTOWKA", "CONTANTI", "ESPECES", "EFECTIVO", "KONTANT")
CASH_PHRASES += ("TENDERED", "GEGEBEN", "RECEIVED", "DINHEIRO", "CONTANT", "PAY")
CARD_PHRASES = (
    "CARD", "VISA", "MASTER", "MASTERCARD", "AMEX", "DEBIT", "CREDIT", "EFTPOS", "KARTA", "KARTE",
    "EC", "GIRO", "PAYMENT", "PAID", "MAESTRO", "CARTE", "TARJETA", "KORT", "NETS", "PAYWAVE",
)  # fmt: skip
ROUNDING_PHRASES = ("ROUNDING", "ROUND", "ROUNDING ADJ", "ADJ", "ADJUSTMENT", "RUNDUNG")
INCLUSIVE_AMOUNT_WORDS = ("AMT", "AMOUNT", "PAID", "PAYABLE", "SALES", "NETT", "NET")
EXPLICIT_DUE_PHRASES = ("BALANCE DUE", "AMOUNT DUE", "TOTAL DUE", "BALANCE TO PAY")
OCR_TOTAL = re.compile(r"(?<![A-Z])T[O0]T[AE][LI1)]?(?![A-Z])")
INCLUDED_TAX = re.compile(r"\b(?:INCL|INKL|INC|INCLUDING|INKLUSIVE|INCLUSIVE)\b\.?(?:\s*OF)?\s*\w+")


def row_kind(text: str) -> str:
    """What a row is: grand, total, subtotal, tax, count, change, cash, card, rounding, other,
    or plain (no summary label)."""
    folded = OCR_TOTAL.sub("TOTAL", fold(text))
    words = words_of(INCLUDED_TAX.sub(" INCL ", folded))
    if has_any(words, SUBTOTAL_PHRASES):
        return "subtotal"
    if has_any(words, EXPLICIT_DUE_PHRASES):
        return "grand"
    if has_any(words, CHANGE_PHRASES):
        return "change"
    if has_any(words, COUNT_PHRASES) and not has_any(words, ("AMOUNT",)):
        return "count"
    if has_any(words, OTHER_PHRASES):
        return "other"
    if has_any(words, ROUNDING_PHRASES) and not has_any(words, ("AFTER", "ROUNDED")):
        return "rounding"
    inclusive = "INCL" in words and has_any(words, (*TOTAL_PHRASES, *INCLUSIVE_AMOUNT_WORDS))
    if has_any(words, GRAND_TOTAL_PHRASES) or inclusive:
        return "grand"
    if has_any(words, CASH_PHRASES):
        return "cash"
    if has_any(words, CARD_PHRASES):
        return "card"
    if has_any(words, TAX_PHRASES):
        return "tax"
    if has_any(words, TOTAL_PHRASES):
        return "total"
    return "plain"


SECTION_WORDS = ("SUMMARY", "ANALYSIS", "UBERSICHT", "PODSUMOWANIE")
LABEL_WEIGHTS = {"grand": 3.0, "total": 2.0}


@dataclass(frozen=True)
class TotalFinding:
    """The chosen total and the evidence for it (inputs of the confidence)."""

    value: float
    row_index: int
    label: float
    agreements: int
    rivals: list[float]


MISREAD_DECIMAL = re.compile(r"(?<![\d:.,-])(\d{1,6})\s?[-:](\d{2})(?![\d:.,-])")


def row_amount(texts: Sequence[str], index: int, integers: bool) -> Amount | None:
    """The last amount on a summary row (its decimal point may be misread as `-` or `:`), or
    on the next row when that row holds only an amount."""
    amounts = find_amounts(texts[index], integers) or find_amounts(
        MISREAD_DECIMAL.sub(r"\1.\2", texts[index]), integers
    )
    if amounts:
        return amounts[-1]
    if index + 1 < len(texts) and not words_of(strip_currency_marks(texts[index + 1])):
        following = find_amounts(texts[index + 1], integers)
        if following:
            return following[-1]
    return None


def same(a: float, b: float) -> bool:
    """Amounts equal to the cent."""
    return abs(a - b) < 0.005


def find_total(
    texts: Sequence[str], integers: bool, items_sum: float | None
) -> TotalFinding | None:
    """The best-supported total (see the module rules)."""
    kinds = [row_kind(text) for text in texts]
    summary_rows = [i for i, text in enumerate(texts) if has_any(words_of(text), SECTION_WORDS)]
    if summary_rows:
        kinds = [
            "other" if kind == "total" and index > summary_rows[0] else kind
            for index, kind in enumerate(kinds)
        ]
    by_kind: dict[str, list[tuple[int, float]]] = {}
    for index, kind in enumerate(kinds):
        if kind == "plain":
            continue
        amount = row_amount(texts, index, integers)
        if amount is not None:
            by_kind.setdefault(kind, []).append((index, abs(amount.value)))
    largest = max(
        (amount for _, amount in by_kind.get("grand", []) + by_kind.get("total", [])), default=0
    )
    for index, value in list(by_kind.get("rounding", [])):
        if value > 0.2 * largest:  # `ROUNDING 13.60`: the rounded total itself
            by_kind["rounding"].remove((index, value))
            by_kind.setdefault("total", []).append((index, value))
            kinds[index] = "total"
    labelled = by_kind.get("grand", []) + by_kind.get("total", [])
    candidates: dict[float, tuple[float, int]] = {}
    for index, value in labelled:
        weight = LABEL_WEIGHTS[kinds[index]]
        best = candidates.get(value)
        if value > 0 and (best is None or (weight, index) > best):
            candidates[value] = (weight, index)
    for rounding_index, rounding in by_kind.get("rounding", []):
        for value, (_, index) in list(candidates.items()):
            rounded = [
                other for other, (_, other_index) in candidates.items()
                if other_index > rounding_index and same(abs(other - value), rounding)
            ]  # fmt: skip
            if index < rounding_index and rounded:
                del candidates[value]  # the total before rounding
    if not candidates and items_sum is not None:
        lost = amount_without_separator(texts, kinds, items_sum)
        if lost is not None:
            candidates[items_sum] = (1.0, lost)
    if not candidates and any(kind in ("grand", "total") for kind in kinds):
        for value, index in derived_totals(by_kind):
            candidates.setdefault(value, (1.0, index))
    if not candidates and any(kind in ("grand", "total") for kind in kinds):
        return None  # total rows without a readable amount: better none than a guess
    if not candidates:
        fallback = largest_amount_near_bottom(texts, kinds, integers)
        if fallback is None:
            return None
        index, value = fallback
        candidates[value] = (0.0, index)
    scored = []
    for value, (weight, index) in candidates.items():
        agreements = agreeing_checks(value, index, by_kind, labelled, items_sum)
        position = index / max(len(texts) - 1, 1)
        scored.append(
            (weight + 1.5 * agreements + 0.3 * position, value, weight, index, agreements)
        )
    scored.sort(reverse=True)
    _, value, weight, index, agreements = scored[0]
    explained = explained_values(value, by_kind)
    rivals = [
        other for _, other, other_weight, _, _ in scored[1:]
        if other_weight >= 2 and not any(same(other, known) for known in explained)
    ]  # fmt: skip
    return TotalFinding(value, index, weight, agreements, rivals)


def agreeing_checks(
    value: float,
    row_index: int,
    by_kind: dict[str, list[tuple[int, float]]],
    labelled: list[tuple[int, float]],
    items_sum: float | None,
) -> int:
    """How many independent consistency checks the value passes (see the module rules)."""
    cards = [amount for _, amount in by_kind.get("card", [])]
    cash = [amount for _, amount in by_kind.get("cash", [])]
    change = [amount for _, amount in by_kind.get("change", [])]
    subtotals = [amount for _, amount in by_kind.get("subtotal", [])]
    taxes = [amount for _, amount in by_kind.get("tax", [])]
    roundings = [amount for _, amount in by_kind.get("rounding", [])]
    checks = 0
    if any(same(amount, value) for amount in cards + cash):
        checks += 1
    if any(same(given - back, value) for given in cash for back in change if back < given):
        checks += 1
    adjustments = [0.0, *roundings, *(-r for r in roundings)]
    if any(
        same(sub + tax + adjust, value) for sub in subtotals for tax in [0.0, *taxes]
        for adjust in adjustments
    ):  # fmt: skip
        checks += 1
    if items_sum is not None and same(items_sum, value):
        checks += 1
    if sum(same(amount, value) for _, amount in labelled) >= 2:
        checks += 1
    for rounding_index, rounding in by_kind.get("rounding", []):
        if row_index > rounding_index and any(
            same(other + sign * rounding, value)
            for other_index, other in labelled
            for sign in (1, -1)
            if other_index < rounding_index
        ):
            checks += 1
            break
    return checks


def explained_values(value: float, by_kind: dict[str, list[tuple[int, float]]]) -> list[float]:
    """Amounts on total rows that are not rivals of the value: its pre-rounding form, the
    subtotal, taxes, tendered cash."""
    roundings = [amount for _, amount in by_kind.get("rounding", [])]
    explained = [value + r for r in roundings] + [value - r for r in roundings]
    for kind in ("subtotal", "tax", "cash", "change"):
        explained += [amount for _, amount in by_kind.get(kind, [])]
    return explained


def derived_totals(by_kind: dict[str, list[tuple[int, float]]]) -> list[tuple[float, int]]:
    """When the total rows hold no readable amount: the totals the other rows imply, with the
    row each comes from (subtotal plus tax and rounding, cash minus change, a card payment)."""
    found = []
    subtotals, taxes = by_kind.get("subtotal", []), by_kind.get("tax", [])
    roundings = [amount for _, amount in by_kind.get("rounding", [])]
    for index, subtotal in subtotals:
        tax = taxes[-1][1] if taxes and taxes[-1][0] > index else 0.0
        found.append((round(subtotal + tax + sum(roundings), 2), index))
        found.append((round(subtotal + sum(roundings), 2), index))
    changes = by_kind.get("change", [])
    for index, given in by_kind.get("cash", []):
        back = changes[0][1] if changes and changes[0][0] > index else 0.0
        if back < given:
            found.append((round(given - back, 2), index))
    found += [(amount, index) for index, amount in by_kind.get("card", [])]
    return [(value, index) for value, index in found if value > 0]


def amount_without_separator(
    texts: Sequence[str], kinds: Sequence[str], items_sum: float
) -> int | None:
    """The total row whose integer equals the item sum in cents (a lost decimal separator)."""
    for index, kind in enumerate(kinds):
        if kind in ("grand", "total"):
            for amount in find_amounts(texts[index], allow_integers=True):
                if not amount.has_decimals and same(amount.value / 100, items_sum):
                    return index
    return None


def largest_amount_near_bottom(
    texts: Sequence[str], kinds: Sequence[str], integers: bool
) -> tuple[int, float] | None:
    """Fallback: the largest amount in the lower half, ignoring payment, change and count rows."""
    best: tuple[int, float] | None = None
    for index in range(len(texts) // 2, len(texts)):
        if kinds[index] not in ("plain", "tax"):
            continue
        for amount in find_amounts(texts[index], integers):
            if best is None or amount.value > best[1]:
                best = (index, amount.value)
    return best
