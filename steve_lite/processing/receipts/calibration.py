"""Field confidence as an estimate of the probability that the value is right.

Two steps. First an evidence score in 0..1 from a few interpretable features, with hand-set
weights in a logistic function: the OCR confidence of the value's row, the label strength, how
many consistency checks agree, how many other candidates disagree (see `*_score`). Then a
monotone map from that score to the share of values that were right, fitted by isotonic
regression (pool-adjacent-violators) on the development receipts, each block's share smoothed
by one right and one wrong pseudo-observation so that a block of 40 right values says 0.98, not
1.0. The map is stored in calibration.json; `python bench/receipts.py --write-calibration`
refits it. Fields without a fitted map use the score itself.
"""

import bisect
import json
import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

CALIBRATED_FIELDS = ("totalAmount", "purchaseDate", "merchantName", "currency")
CALIBRATION_PATH = Path(__file__).with_name("calibration.json")

Calibration = Mapping[str, Sequence[tuple[float, float, float]]]
"""Per field: (lowest score, highest score, probability right) of each block, in score order."""


def logistic(value: float) -> float:
    """The logistic function, 0..1."""
    return 1.0 / (1.0 + math.exp(-value))


def total_score(ocr: float, label: float, agreements: int, rivals: int) -> float:
    """Evidence for a total: label 0 (none), 2 (TOTAL) or 3 (GRAND TOTAL), checks agreeing,
    other labelled amounts that disagree."""
    return logistic(
        -1.5 + 0.8 * label + 1.2 * min(agreements, 3) - 1.2 * min(rivals, 3) + 6 * (ocr - 0.95)
    )


def date_score(ocr: float, labelled: bool, with_time: bool, ambiguous: bool, rivals: int) -> float:
    """Evidence for a date: a date label, a time beside it, a guessed day/month order, other
    dates on the receipt."""
    return logistic(
        0.5 + 1.2 * labelled + 1.0 * with_time - 1.5 * ambiguous - 0.7 * min(rivals, 3)
        + 6 * (ocr - 0.95)
    )  # fmt: skip


def merchant_score(
    ocr: float,
    legal_suffix: bool,
    prominent: bool,
    rows: int,
    candidates: int,
    rivals_above: int = 0,
    slips: int = 0,
) -> float:
    """Evidence for a merchant: a legal-entity suffix, a name printed larger than the rest, a
    name joined from two rows, how many name-like rows competed, a clearly read name row above
    the chosen one (a brand over its legal entity: either may be meant), signs of an OCR letter
    slip in the name."""
    return logistic(
        -0.5 + 1.5 * legal_suffix + 0.8 * prominent - 0.4 * (rows - 1)
        - 0.2 * max(candidates - 2, 0) - 1.5 * min(rivals_above, 2) - 2.0 * min(slips, 2)
        + 6 * (ocr - 0.95)
    )  # fmt: skip


BASIS_WEIGHTS = {"code": 2.5, "symbol": 2.0, "shared-symbol": 0.5, "country": -0.5}


def currency_score(ocr: float, basis: str, hits: int, rivals: int, country_kinds: int) -> float:
    """Evidence for a currency: printed code or unique symbol, shared symbol or country clues
    only; how often it is printed, other currencies printed, clue kinds agreeing."""
    return logistic(
        BASIS_WEIGHTS[basis] + 0.3 * min(hits, 3) - 1.0 * min(rivals, 2)
        + 0.6 * min(country_kinds, 4) + 3 * (ocr - 0.95)
    )  # fmt: skip


def fit_isotonic(samples: Sequence[tuple[float, bool]]) -> list[tuple[float, float, float]]:
    """Pool-adjacent-violators on (score, right): per block its lowest and highest score and
    its share right, smoothed by one right and one wrong pseudo-observation (+1/+2)."""
    blocks: list[list[float]] = []  # [lowest score, highest score, rights, count]
    for score, right in sorted(samples):
        blocks.append([score, score, float(right), 1.0])
        while len(blocks) > 1 and blocks[-2][2] / blocks[-2][3] >= blocks[-1][2] / blocks[-1][3]:
            _, high, rights, count = blocks.pop()
            blocks[-1] = [blocks[-1][0], high, blocks[-1][2] + rights, blocks[-1][3] + count]
    return [
        (round(low, 6), round(high, 6), round((rights + 1) / (count + 2), 4))
        for low, high, rights, count in blocks
    ]


def fit_calibration(samples: Mapping[str, Sequence[tuple[float, bool]]]) -> Calibration:
    """A monotone map per field from its (score, right) samples."""
    return {field: fit_isotonic(pairs) for field, pairs in samples.items() if pairs}


def calibrated(calibration: Calibration, field: str, score: float) -> float:
    """The probability the map gives a score: its block's share inside a block's scores,
    linear between two blocks across the gap between them, the first or last block's share
    beyond them."""
    blocks = calibration.get(field)
    if not blocks:
        return score
    highs = [high for _, high, _ in blocks]
    position = bisect.bisect_left(highs, score)
    if position == len(blocks):
        return blocks[-1][2]
    low, _, share = blocks[position]
    if score >= low or position == 0:
        return share
    _, below, below_share = blocks[position - 1]
    return below_share + (share - below_share) * (score - below) / (low - below)


@cache
def packaged_calibration() -> Calibration:
    """The map fitted on the development receipts, shipped with the package."""
    if not CALIBRATION_PATH.exists():
        return {}
    data = json.loads(CALIBRATION_PATH.read_text())
    return {field: [tuple(block) for block in blocks] for field, blocks in data.items()}


def write_calibration(calibration: Calibration) -> Path:
    """Store a fitted map as the packaged one."""
    CALIBRATION_PATH.write_text(json.dumps(dict(calibration), indent=1) + "\n")
    packaged_calibration.cache_clear()
    return CALIBRATION_PATH
