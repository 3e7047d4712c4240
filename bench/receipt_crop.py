"""Receipts photographed on a table: field accuracy and CPU per photo, read whole and cropped.

Generated photos (tests/factories/receipts.py: a receipt of ``random_receipt_spec(seed)``
laid on a wooden table, turned 5 to 20 degrees and seen at an angle, in a scene about 3 times
its width and twice its height: the receipt covers about a sixth of the photo) are each read
twice in one run, alternately in either order so that a change in the machine's load hits both
sides alike, by one OCR engine in this process (one intra-op thread):

- whole: the decoded photo OCRed as it is;
- cropped: :func:`steve_lite.processing.receipt_crop.find_receipt` cuts the receipt out
  (perspective-corrected or deskewed), then the cut is OCRed (what the receipt-ocr pipeline
  does).

Printed per side: the share of photos with each field right (total, date, currency, merchant,
receipt number) and with all of them right; CPU seconds per photo (finding the receipt
included); and the ratios cropped / whole. Run from the repository root, niced on a shared
machine: ``nice -n 10 python -m bench.receipt_crop [--count 40] [--first-seed 0]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from PIL import Image

from bench.common import print_table
from bench.receipts import is_right
from steve_lite.processing.images import decode_image
from steve_lite.processing.ocr import OcrEngine, OcrPage
from steve_lite.processing.receipt_crop import find_receipt
from steve_lite.processing.receipts import read_receipt
from tests.factories.receipts import draw_paper, photograph_on_table, random_receipt_spec

FIELDS = ("totalAmount", "purchaseDate", "currency", "merchantName", "receiptNumber")
SIDES = ("whole", "cropped")


def read_whole(engine: OcrEngine, photo: Image.Image) -> OcrPage:
    return engine.read(photo)


def read_cropped(engine: OcrEngine, photo: Image.Image) -> OcrPage:
    crop = find_receipt(photo)
    return engine.read(crop.image if crop else photo)


READERS: dict[str, Callable[[OcrEngine, Image.Image], OcrPage]] = {
    "whole": read_whole,
    "cropped": read_cropped,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=40, help="photos to generate")
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args()
    engine = OcrEngine(intra_op_threads=1)
    right: dict[str, dict[str, int]] = {side: dict.fromkeys((*FIELDS, "all"), 0) for side in SIDES}
    seconds: dict[str, list[float]] = {side: [] for side in SIDES}
    found = 0
    for number, seed in enumerate(range(args.first_seed, args.first_seed + args.count)):
        spec = random_receipt_spec(seed)
        data, _ = photograph_on_table(draw_paper(spec), seed=seed)
        photo = decode_image(data, {"jpeg"}).image
        expected: dict[str, Any] = {
            "totalAmount": spec.total,
            "purchaseDate": spec.date.isoformat(),
            "currency": spec.currency,
            "merchantName": spec.merchant,
            "receiptNumber": spec.receipt_number,
        }
        found += find_receipt(photo) is not None
        order = SIDES if number % 2 == 0 else SIDES[::-1]
        for side in order:
            started = time.process_time()
            page = READERS[side](engine, photo)
            seconds[side].append(time.process_time() - started)
            data_read = read_receipt([page]).data
            hits = [is_right(name, data_read.get(name), expected[name]) for name in FIELDS]
            for name, hit in zip(FIELDS, hits, strict=True):
                right[side][name] += hit
            right[side]["all"] += all(hits)
    count = args.count
    rows = []
    for name in (*FIELDS, "all"):
        whole, cropped = right["whole"][name] / count, right["cropped"][name] / count
        ratio = f"{cropped / whole:.2f}" if whole else "-"
        rows.append([name, f"{whole:.1%}", f"{cropped:.1%}", ratio])
    cpu = {side: statistics.fmean(seconds[side]) for side in SIDES}
    rows.append(
        ["CPU s/photo", f"{cpu['whole']:.2f}", f"{cpu['cropped']:.2f}",
         f"{cpu['cropped'] / cpu['whole']:.2f}"]
    )  # fmt: skip
    print(f"{count} generated receipt-on-table photos; the receipt found in {found}")
    print(f"CPUs: {os.cpu_count()}; one engine thread in this process; CPU is process time")
    print_table(["field right", "whole", "cropped", "cropped/whole"], rows)


if __name__ == "__main__":
    main()
