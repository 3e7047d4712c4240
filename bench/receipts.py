"""Receipt extraction accuracy on generated receipt photos.

Renders `--count` random receipts (random fonts and layouts, small rotations, JPEG), reads them
with the real OCR engine (one engine per worker process) and prints per-field accuracy against
the generated specs. Run from the repository root: `python bench/receipts.py [--count 200]`.
"""

import argparse
import difflib
import io
import os
import random
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from steve_lite.processing.ocr import OcrEngine
from steve_lite.processing.receipts import extract_receipt
from tests.factories.receipts import random_receipt_spec, render_receipt

EXACT_FIELDS = ("totalAmount", "purchaseDate", "currency", "receiptNumber", "taxId")
TARGETS = {"totalAmount": 0.95, "purchaseDate": 0.95}

engine: OcrEngine | None = None


def start_worker() -> None:
    """Build this process's OCR engine once, single-threaded (processes give the parallelism)."""
    global engine
    engine = OcrEngine(intra_op_threads=1)


def expected_fields(seed: int) -> dict[str, object]:
    """The fields an extractor should find on the receipt generated from seed."""
    spec = random_receipt_spec(seed)
    return {
        "merchantName": spec.merchant,
        "totalAmount": spec.total,
        "purchaseDate": spec.date.isoformat(),
        "currency": spec.currency,
        "receiptNumber": spec.receipt_number,
        "taxId": spec.tax_id,
    }


def read_receipt(seed: int) -> tuple[int, dict[str, object]]:
    """Render, OCR and extract the receipt generated from seed."""
    rng = random.Random(f"photo-{seed}")
    photo = render_receipt(
        random_receipt_spec(seed),
        rotate_degrees=rng.uniform(-3.0, 3.0),
        jpeg_quality=rng.randint(60, 92),
    )
    assert engine is not None
    page = engine.read(Image.open(io.BytesIO(photo)))
    return seed, extract_receipt([page])


def main() -> None:
    """Run the benchmark and print the accuracy table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--show-misses", action="store_true", help="print every wrong field")
    args = parser.parse_args()

    seeds = range(args.first_seed, args.first_seed + args.count)
    started = time.perf_counter()
    with Pool(args.workers, initializer=start_worker) as pool:
        results = dict(pool.imap_unordered(read_receipt, seeds))
    elapsed = time.perf_counter() - started

    hits = dict.fromkeys(EXACT_FIELDS, 0)
    merchant_ratios, merchant_hits = [], 0
    for seed in seeds:
        expected, got = expected_fields(seed), results[seed]
        for name in EXACT_FIELDS:
            if got[name] == expected[name]:
                hits[name] += 1
            elif args.show_misses:
                print(f"seed {seed}: {name} expected {expected[name]!r} got {got[name]!r}")
        ratio = difflib.SequenceMatcher(None, got["merchantName"] or "", expected["merchantName"])
        merchant_ratios.append(ratio.ratio())
        merchant_hits += got["merchantName"] == expected["merchantName"]
        if args.show_misses and got["merchantName"] != expected["merchantName"]:
            print(
                f"seed {seed}: merchantName expected {expected['merchantName']!r} "
                f"got {got['merchantName']!r}"
            )

    count = len(seeds)
    print(
        f"receipts: {count}, workers: {args.workers}, time: {elapsed:.1f} s "
        f"({elapsed / count:.2f} s per receipt overall)"
    )
    for name in EXACT_FIELDS:
        target = f"  (target {TARGETS[name]:.0%})" if name in TARGETS else ""
        print(f"{name:<14} exact {hits[name] / count:7.1%}{target}")
    print(
        f"{'merchantName':<14} exact {merchant_hits / count:7.1%}  "
        f"mean similarity {statistics.fmean(merchant_ratios):.3f}"
    )


if __name__ == "__main__":
    main()
