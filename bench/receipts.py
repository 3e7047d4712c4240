"""Receipt extraction on real receipts and on generated ones, in one run.

Real receipts: a folder in the receipts-dev layout (`img/NAME.jpg` and `key/NAME.json` with
`merchant`, `date`, `total`, `currency`), by default ../shared/data/receipts-dev (150 real
receipts; `--data DIR` for any other folder). Generated receipts: `--count` photos rendered by
tests/factories/receipts.py, every second one with its awkward conventions (glued tokens,
rounding with several totals, narrow paper). Every image is OCRed once with the service's
engine and cached (bench/ocr_cache.py), so a second run costs seconds.

Printed per set and field: accuracy, accuracy among values with confidence >= 0.9 and the share
of values at that level; the share of receipts with every required field right; the automatic
approval rate and the error rate among approved receipts, at the receipt-ocr workflow's
minConfidence and at 0.95; CPU seconds of OCR and of extraction per receipt. `--folds K`
also prints the held-out reliability table of the confidence calibration (K-fold
cross-validation on the real set: each fold's confidences come from a calibration fitted on
the other folds), and `--write-calibration` refits on every real receipt and writes the
package's calibration file.

Run from the repository root: `python -m bench.receipts [--data DIR] [--count 200]`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from bench.ocr_cache import cached_pages
from steve_lite.processing.ocr import OcrPage
from steve_lite.processing.receipts import read_receipt
from steve_lite.processing.receipts.calibration import (
    CALIBRATED_FIELDS,
    Calibration,
    fit_calibration,
    write_calibration,
)
from steve_lite.processing.receipts.decision import review_reasons
from steve_lite.workflows.schemas import WorkflowDefinition
from steve_lite.workflows.service import system_definitions
from tests.factories.receipts import random_receipt_spec, render_receipt

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "receipts-dev"
FIELDS = ("totalAmount", "purchaseDate", "merchantName", "currency")
TARGETS = {"totalAmount": 0.95, "purchaseDate": 0.97, "merchantName": 0.85, "currency": 0.97}
HIGH = 0.9
STRICT_THRESHOLD = 0.95
RELIABILITY_BINS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0001)


@dataclass
class Case:
    """One receipt: its name, OCR pages, OCR CPU seconds and the expected field values."""

    name: str
    pages: list[OcrPage]
    ocr_seconds: float
    expected: dict[str, Any]


def normalised_name(name: str | None) -> str:
    """A merchant name with case, spacing and punctuation ignored."""
    return re.sub(r"[\W_]+", "", (name or "").casefold())


def is_right(field: str, got: Any, expected: Any) -> bool:
    """Whether an extracted value matches the expected one (merchant: normalised)."""
    if got is None:
        return False
    if field == "merchantName":
        return normalised_name(got) == normalised_name(expected)
    if field == "totalAmount":
        try:
            return Decimal(str(got)).quantize(Decimal("0.01")) == Decimal(str(expected)).quantize(
                Decimal("0.01")
            )
        except InvalidOperation:
            return False
    return bool(got == expected)


def real_cases(folder: Path, workers: int) -> list[Case]:
    """The receipts of a receipts-dev style folder, OCRed through the cache."""
    keys = sorted((folder / "key").glob("*.json"))
    images = {}
    for key in keys:
        image = next((folder / "img").glob(f"{key.stem}.*"))
        images[key.stem] = image.read_bytes()
    pages = cached_pages(images, workers)
    cases = []
    for key in keys:
        truth = json.loads(key.read_text())
        page, seconds = pages[key.stem]
        expected = {
            "totalAmount": truth["total"],
            "purchaseDate": truth["date"],
            "merchantName": truth["merchant"],
            "currency": truth["currency"],
        }
        cases.append(Case(key.stem, [page], seconds, expected))
    return cases


def generated_cases(count: int, first_seed: int, workers: int) -> list[Case]:
    """`count` generated receipt photos (random rotation and JPEG quality), OCRed via the cache."""
    images, specs = {}, {}
    for seed in range(first_seed, first_seed + count):
        rng = random.Random(f"photo-{seed}")
        spec = random_receipt_spec(seed, awkward=seed % 2 == 1)
        specs[f"seed-{seed}"] = spec
        images[f"seed-{seed}"] = render_receipt(
            spec, rotate_degrees=rng.uniform(-3.0, 3.0), jpeg_quality=rng.randint(60, 92)
        )
    pages = cached_pages(images, workers)
    cases = []
    for name, spec in specs.items():
        page, seconds = pages[name]
        expected = {
            "totalAmount": spec.total,
            "purchaseDate": spec.date.isoformat(),
            "merchantName": spec.merchant,
            "currency": spec.currency,
        }
        cases.append(Case(name, [page], seconds, expected))
    return cases


@dataclass
class Outcome:
    """What extraction gave for one case, and whether each field was right."""

    case: Case
    data: dict[str, Any]
    doubts: dict[str, str]
    scores: dict[str, float]
    right: dict[str, bool]
    seconds: float


def run(cases: Sequence[Case], calibration: Calibration | None = None) -> list[Outcome]:
    """Extract every case (with `calibration`, or the packaged one) and score the fields."""
    outcomes = []
    for case in cases:
        started = time.process_time()
        reading = read_receipt(case.pages, calibration)
        seconds = time.process_time() - started
        right = {f: is_right(f, reading.data[f], case.expected[f]) for f in FIELDS}
        outcomes.append(Outcome(case, reading.data, reading.doubts, reading.scores, right, seconds))
    return outcomes


def receipt_workflow() -> WorkflowDefinition:
    """The latest revision of the system receipt-ocr workflow (its minConfidence and required
    fields)."""
    return next(d for d in system_definitions() if d.slug == "receipt-ocr")


def approved(outcome: Outcome, workflow: WorkflowDefinition, threshold: float) -> bool:
    """Whether the service would approve this receipt automatically (fraud aside) when the
    workflow's minConfidence were `threshold`."""
    return not review_reasons(outcome.data, outcome.doubts, workflow.required_fields(), threshold)


def report(title: str, outcomes: Sequence[Outcome], workflow: WorkflowDefinition) -> None:
    """Print the per-field table and the decision figures of one set."""
    count = len(outcomes)
    print(f"\n{title}: {count} receipts")
    print(f"{'field':<14} {'right':>7} {'right@>=0.9':>12} {'share>=0.9':>11}  target")
    for field in FIELDS:
        right = sum(o.right[field] for o in outcomes)
        confident = [o for o in outcomes if (o.data["fieldConfidence"][field] or 0) >= HIGH]
        right_confident = sum(o.right[field] for o in confident)
        high_accuracy = f"{right_confident / len(confident):.1%}" if confident else "-"
        target = f"{TARGETS[field]:.0%}" if field in TARGETS else ""
        print(
            f"{field:<14} {right / count:7.1%} {high_accuracy:>12} "
            f"{len(confident) / count:11.1%}  {target}"
        )
    all_right = sum(all(o.right.values()) for o in outcomes)
    print(f"every required field right: {all_right / count:.1%}")
    for threshold in (workflow.min_confidence, STRICT_THRESHOLD):
        auto = [o for o in outcomes if approved(o, workflow, threshold)]
        wrong = sum(not all(o.right.values()) for o in auto)
        error = f"{wrong / len(auto):.1%} ({wrong} of {len(auto)})" if auto else "-"
        print(
            f"auto-approved at threshold {threshold:.2f}: {len(auto) / count:.1%} "
            f"(target >= 60 %); wrong among them: {error} (target <= 1 %)"
        )
    extraction = statistics.fmean(o.seconds for o in outcomes)
    ocr = statistics.fmean(o.case.ocr_seconds for o in outcomes)
    print(
        f"CPU per receipt: OCR {ocr:.3f} s, extraction {extraction * 1000:.1f} ms "
        f"= {extraction / ocr:.2%} of OCR (target < 5 %)"
    )


def show_misses(outcomes: Sequence[Outcome]) -> None:
    """Print every wrong field with its confidence."""
    for o in outcomes:
        for field in FIELDS:
            if not o.right[field]:
                confidence = o.data["fieldConfidence"][field]
                print(
                    f"  {o.case.name}: {field} expected {o.case.expected[field]!r} "
                    f"got {o.data[field]!r} (confidence {confidence})"
                )


def folds_of(cases: Sequence[Case], folds: int) -> list[list[Case]]:
    """`folds` disjoint parts of the cases, drawn by a fixed shuffle."""
    shuffled = list(cases)
    random.Random(14).shuffle(shuffled)
    return [shuffled[index::folds] for index in range(folds)]


def held_out(cases: Sequence[Case], folds: int) -> list[Outcome]:
    """Outcomes of every case with a calibration fitted on the other folds only."""
    outcomes = []
    parts = folds_of(cases, folds)
    for index, part in enumerate(parts):
        training = [case for other, p in enumerate(parts) if other != index for case in p]
        calibration = fit_calibration(training_samples(run(training)))
        outcomes += run(part, calibration)
    return outcomes


def training_samples(outcomes: Sequence[Outcome]) -> dict[str, list[tuple[float, bool]]]:
    """(raw evidence score, right) pairs per calibrated field."""
    samples: dict[str, list[tuple[float, bool]]] = {field: [] for field in CALIBRATED_FIELDS}
    for o in outcomes:
        for field in CALIBRATED_FIELDS:
            score = o.scores.get(field)
            if score is not None and field in o.right:
                samples[field].append((score, o.right[field]))
    return samples


def reliability(title: str, outcomes: Sequence[Outcome]) -> None:
    """Print predicted confidence against observed accuracy, per confidence band."""
    print(f"\nreliability, {title} (confidence band: values, mean confidence, share right)")
    for field in FIELDS:
        cells = []
        for low, high in itertools.pairwise(RELIABILITY_BINS):
            band = [
                (o.data["fieldConfidence"][field], o.right[field])
                for o in outcomes
                if o.data["fieldConfidence"][field] is not None
                and low <= o.data["fieldConfidence"][field] < high
            ]
            if band:
                mean = statistics.fmean(c for c, _ in band)
                share = sum(r for _, r in band) / len(band)
                cells.append(f"[{low:.2f},{min(high, 1):.2f}) n={len(band)} {mean:.2f}/{share:.2f}")
        print(f"  {field:<13} " + " | ".join(cells))


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--count", type=int, default=200, help="generated receipts (0: none)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1, help="OCR processes for uncached images")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (0: none)")
    parser.add_argument("--show-misses", action="store_true", help="print every wrong field")
    parser.add_argument("--write-calibration", action="store_true")
    args = parser.parse_args()

    workflow = receipt_workflow()
    sets: list[tuple[str, list[Case]]] = []
    if (args.data / "key").is_dir():
        sets.append((f"real ({args.data.name})", real_cases(args.data, args.workers)))
    elif args.data != DEFAULT_DATA:
        parser.error(f"--data {args.data}: no key/ folder (the receipts-dev layout: img/, key/)")
    else:
        print(f"no real receipts at {args.data}: generated receipts only", file=sys.stderr)
    if args.count:
        sets.append(("generated", generated_cases(args.count, args.first_seed, args.workers)))
    for title, cases in sets:
        outcomes = run(cases)
        report(title, outcomes, workflow)
        if args.show_misses:
            show_misses(outcomes)
        reliability(f"{title}, packaged calibration", outcomes)
    if sets and args.folds and sets[0][0].startswith("real"):
        title, cases = sets[0]
        outcomes = held_out(cases, args.folds)
        report(f"{title}, held out ({args.folds}-fold cross-validation)", outcomes, workflow)
        reliability(f"{title}, held out", outcomes)
    if args.write_calibration and sets and sets[0][0].startswith("real"):
        calibration = fit_calibration(training_samples(run(sets[0][1])))
        print(f"\nwrote {write_calibration(calibration)}")


if __name__ == "__main__":
    main()
