"""OCR cost and accuracy: today's engine settings, candidate settings and Tesseract, same images.

Every configuration runs in a fresh process of its own, one image at a time, after one warm-up
read. Per image it measures the process's CPU time (`time.process_time`, all threads) and wall
time around `OcrEngine.read`; peak RSS is the process's `ru_maxrss` at the end. Tesseract 5
(Debian's `tesseract-ocr`, one thread: `OMP_THREAD_LIMIT=1`, TSV output) is measured the same way
from the CPU time of its child process. Tesseract is a measuring stick only, not a dependency.

Image sets:

- `real-receipts`: scans from `../shared/data/receipts-dev` (every n-th of 150). Their ground
  truth is partial: the words of the key's merchant, address, total and printed date, so only
  word recall is given (precision needs every word).
- `gen-receipts`: the project's generated receipt photos (`tests/factories/receipts.py`): every
  printed word is known.

Receipt fields (total, date, merchant, currency) are scored with `bench/receipts.py`'s
`is_right`, on `extract_receipt` of what each engine read (Tesseract's words included).
- `project-pages`: the project's generated pages (`tests/factories/pages.py`, 32 px text).
- `a4-150`, `a4-300`: dense A4 pages of invoice-like text at 10.5 pt, rendered at 150 and 300 dpi.
- `turned`: `a4-150` pages and generated receipts turned by 90, 180 or 270 degrees.

Run from the repository root: `python bench/ocr.py [--real 30] [--configs today,tuned]`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import print_table
from PIL import Image, ImageDraw
from receipts import FIELDS, is_right

from steve_lite.processing.ocr import (
    TODAY_GEOMETRY,
    TODAY_SETTINGS,
    DetectorGeometry,
    DetectorLimit,
    OcrEngine,
    OcrLine,
    OcrPage,
    OcrSettings,
    assemble_page,
)
from steve_lite.processing.receipts import extract_receipt
from tests.factories.pages import encode_image, load_font, render_page
from tests.factories.receipts import random_receipt_spec, receipt_rows, render_receipt

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "receipts-dev"


@dataclass(frozen=True)
class Candidate:
    """An engine configuration: threads, detector geometry, recogniser settings."""

    geometry: DetectorGeometry = TODAY_GEOMETRY
    settings: OcrSettings = TODAY_SETTINGS
    threads: int = 1


TUNED = DetectorGeometry()  # the engine's defaults
CHEAP = DetectorGeometry(page=DetectorLimit(896, "max"), strip=DetectorLimit(1280, "max"))
CONFIGS: dict[str, Candidate] = {
    "today": Candidate(),
    "today-2thr": Candidate(threads=2),
    "tuned": Candidate(TUNED, OcrSettings()),
    "tuned-2thr": Candidate(TUNED, OcrSettings(), threads=2),
    "tuned-no-turn": Candidate(TUNED, OcrSettings(orientation=False)),
    "cheap-896-1280": Candidate(CHEAP, OcrSettings()),
    "page800": Candidate(replace(TUNED, page=DetectorLimit(800, "max")), OcrSettings()),
    "page896": Candidate(replace(TUNED, page=DetectorLimit(896, "max")), OcrSettings()),
    "strip1024": Candidate(replace(TUNED, strip=DetectorLimit(1024, "max")), OcrSettings()),
    "strip1280": Candidate(replace(TUNED, strip=DetectorLimit(1280, "max")), OcrSettings()),
    "strip1600": Candidate(replace(TUNED, strip=DetectorLimit(1600, "max")), OcrSettings()),
    "batch6": Candidate(TUNED, OcrSettings(rec_batch=6)),
    "arena": Candidate(TUNED, OcrSettings(memory_arena=True)),
}
DEFAULT_CONFIGS = "today,tuned,tuned-no-turn"
TESSERACT = "tesseract"
TOKEN = re.compile(r"\w+")
A4_VOCABULARY = (
    "invoice delivery customer account payment amount total net gross tax rate order number "
    "date due quantity unit price description service hours consulting travel material office "
    "supplies shipping discount balance reference bank transfer within days thank you for your "
    "business please note that all prices are in euro terms conditions apply street city postal "
    "code country phone email website registered company director manager project phase review"
)
A4_WORDS = A4_VOCABULARY.split()


@dataclass
class Sample:
    """One image and what is known about it."""

    name: str
    image: bytes
    words: list[str]
    full_truth: bool
    fields: dict[str, object] | None = None
    tesseract_languages: str = "eng"


@dataclass
class Measured:
    """What one configuration did on one sample."""

    cpu: float
    wall: float
    text: str
    fields: dict[str, object] | None = None


@dataclass
class Run:
    """All the samples one configuration read, and its peak RSS."""

    results: dict[str, Measured] = field(default_factory=dict)
    peak_rss_mib: float = 0.0


def tokens(text: str) -> list[str]:
    """Case-folded word tokens (letters and digits); punctuation separates them."""
    return TOKEN.findall(text.casefold())


# ---------------------------------------------------------------- image sets


def real_receipts(count: int) -> list[Sample]:
    """Every n-th real receipt with the words of its key (partial truth) and its fields."""
    paths = sorted((REAL_DIR / "img").glob("*.jpg"))
    step = max(1, len(paths) // max(count, 1))
    samples = []
    for path in paths[::step][:count]:
        key = json.loads((REAL_DIR / "key" / f"{path.stem}.json").read_text())
        words = " ".join(
            [key["merchant"], key["address"], key["total"], key.get("date_as_printed", "")]
        )
        samples.append(
            Sample(
                name=path.stem,
                image=path.read_bytes(),
                words=tokens(words),
                full_truth=False,
                fields={
                    "totalAmount": key["total"],
                    "purchaseDate": key["date"],
                    "merchantName": key["merchant"],
                    "currency": key["currency"],
                },
            )
        )
    return samples


def generated_receipt(seed: int, rotate: float = 0.0) -> Sample:
    """The receipt photo of `bench/receipts.py` for seed, with every printed word as truth."""
    spec = random_receipt_spec(seed)
    rng = random.Random(f"photo-{seed}")
    photo = render_receipt(
        spec, rotate_degrees=rng.uniform(-3.0, 3.0) + rotate, jpeg_quality=rng.randint(60, 92)
    )
    words = []
    for row in receipt_rows(spec):
        if row.style != "rule":
            words += tokens(f"{row.left} {row.right}")
    languages = {"EUR": "eng+deu", "PLN": "eng+pol", "CHF": "eng+deu"}.get(spec.currency, "eng")
    return Sample(
        name=f"receipt-{seed}" + (f"-turn{rotate:g}" if rotate else ""),
        image=photo,
        words=words,
        full_truth=True,
        fields={
            "totalAmount": spec.total,
            "purchaseDate": spec.date.isoformat(),
            "merchantName": spec.merchant,
            "currency": spec.currency,
        },
        tesseract_languages=languages,
    )


def project_page(seed: int) -> Sample:
    """A page drawn by the project's own factory: 12 lines of 32 px text on A4 at 150 dpi."""
    rng = random.Random(f"page-{seed}")
    lines = [invoice_line(rng) for _ in range(12)]
    return Sample(
        name=f"page-{seed}",
        image=render_page(lines),
        words=tokens(" ".join(lines)),
        full_truth=True,
    )


def invoice_line(rng: random.Random) -> str:
    """A line of invoice-like text: words, sometimes an amount or a reference."""
    words = rng.sample(A4_WORDS, rng.randint(4, 9))
    if rng.random() < 0.4:
        words.append(f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}")
    if rng.random() < 0.2:
        words.insert(0, f"INV-{rng.randint(1000, 99999)}")
    text = " ".join(words)
    return text[0].upper() + text[1:]


def a4_page(seed: int, dpi: int, turn: int = 0) -> Sample:
    """An A4 page of dense 10.5 pt text at dpi, maybe turned by 90, 180 or 270 degrees."""
    rng = random.Random(f"a4-{seed}")
    scale = dpi / 150
    width, height = int(1240 * scale), int(1754 * scale)
    font = load_font("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", int(22 * scale))
    page = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(page)

    lines, y = [], int(120 * scale)
    while y < height - 150 * scale:
        line = invoice_line(rng)
        while font.getlength(line) > width - 220 * scale:
            line = line.rsplit(" ", 1)[0]
        draw.text((int(110 * scale), y), line, font=font, fill=(20, 20, 20))
        lines.append(line)
        y += int(36 * scale) + (int(30 * scale) if rng.random() < 0.15 else 0)
    if turn:
        page = page.rotate(turn, expand=True)
    return Sample(
        name=f"a4-{dpi}-{seed}" + (f"-turn{turn}" if turn else ""),
        image=encode_image(page, "PNG"),
        words=tokens(" ".join(lines)),
        full_truth=True,
    )


def image_sets(args: argparse.Namespace) -> dict[str, list[Sample]]:
    """The samples of every set, generated deterministically."""
    sets = {
        "real-receipts": real_receipts(args.real),
        "gen-receipts": [generated_receipt(seed) for seed in range(args.generated)],
        "project-pages": [project_page(seed) for seed in range(args.pages)],
        "a4-150": [a4_page(seed, 150) for seed in range(args.pages)],
        "a4-300": [a4_page(seed, 300) for seed in range(max(1, args.pages // 2))],
        "turned": [
            a4_page(100, 150, 180),
            a4_page(101, 150, 90),
            a4_page(102, 150, 270),
            generated_receipt(7, 180),
            generated_receipt(8, 180),
        ],
    }
    if not sets["real-receipts"]:
        print(f"no real receipts in {REAL_DIR}: that set is skipped", file=sys.stderr)
        del sets["real-receipts"]
    return {name: samples for name, samples in sets.items() if name in args.sets}


# ---------------------------------------------------------------- runners


def run_engine(candidate: Candidate, samples: list[Sample]) -> Run:
    """Read every sample with one engine in this process (run in a fresh child process)."""
    engine = OcrEngine(
        intra_op_threads=candidate.threads,
        geometry=candidate.geometry,
        settings=candidate.settings,
    )
    engine.read(Image.open(io.BytesIO(samples[0].image)))  # warm-up, not counted
    run = Run()
    for sample in samples:
        image = Image.open(io.BytesIO(sample.image))
        image.load()
        cpu, wall = time.process_time(), time.perf_counter()
        page = engine.read(image)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        fields = extract_receipt([page]) if sample.fields is not None else None
        run.results[sample.name] = Measured(cpu, wall, page.text, fields)
    run.peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return run


def run_tesseract(samples: list[Sample]) -> Run:
    """Read every sample with the tesseract binary, one thread, TSV output."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    run = Run()
    with tempfile.TemporaryDirectory() as tmp:
        for sample in samples:
            path = Path(tmp) / f"{sample.name}.img"
            path.write_bytes(sample.image)
            argv = [TESSERACT, str(path), "stdout", "-l", sample.tesseract_languages, "tsv"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - wall
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            page = tesseract_page(done.stdout)
            fields = extract_receipt([page]) if sample.fields is not None else None
            run.results[sample.name] = Measured(cpu, wall, page.text, fields)
    run.peak_rss_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return run


def tesseract_page(tsv: str) -> OcrPage:
    """Tesseract's TSV words grouped into its lines, as an OcrPage (for the same extraction)."""
    grouped: dict[tuple[str, ...], list[tuple[str, float, int, int, int, int]]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip():
            continue
        left, top, width, height = (int(value) for value in cells[6:10])
        key = (cells[1], cells[2], cells[3], cells[4])
        grouped.setdefault(key, []).append(
            (cells[11], float(cells[10]) / 100, left, top, left + width, top + height)
        )
    lines = []
    for words in grouped.values():
        x0 = min(word[2] for word in words)
        y0 = min(word[3] for word in words)
        x1 = max(word[4] for word in words)
        y1 = max(word[5] for word in words)
        lines.append(
            OcrLine(
                text=" ".join(word[0] for word in words),
                confidence=statistics.fmean(max(word[1], 0.0) for word in words),
                box=[[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            )
        )
    return assemble_page(lines)


# ---------------------------------------------------------------- scoring


def word_scores(sample: Sample, text: str) -> tuple[float, float | None]:
    """Word recall against the truth, and precision when the truth is complete."""
    truth, read = Counter(sample.words), Counter(tokens(text))
    hits = sum((truth & read).values())
    recall = hits / max(sum(truth.values()), 1)
    precision = hits / max(sum(read.values()), 1) if sample.full_truth else None
    return recall, precision


def field_hits(sample: Sample, got: dict[str, object]) -> dict[str, float]:
    """Per field: 1.0 when extracted right by `bench/receipts.py`'s rule, else 0.0."""
    assert sample.fields is not None
    return {name: float(is_right(name, got.get(name), sample.fields[name])) for name in FIELDS}


def summary_row(name: str, samples: list[Sample], run: Run, today_cpu: float | None) -> list[str]:
    """One table row: cost, memory, word scores and field accuracy of a run on one set."""
    measured = [run.results[sample.name] for sample in samples]
    cpu = statistics.fmean(m.cpu for m in measured)
    wall = statistics.fmean(m.wall for m in measured)
    recalls, precisions = [], []
    fields: dict[str, list[float]] = {}
    for sample, m in zip(samples, measured, strict=True):
        recall, precision = word_scores(sample, m.text)
        recalls.append(recall)
        if precision is not None:
            precisions.append(precision)
        if sample.fields is not None and m.fields is not None:
            for field_name, score in field_hits(sample, m.fields).items():
                fields.setdefault(field_name, []).append(score)
    field_text = " ".join(
        f"{short_field(name)} {statistics.fmean(scores):.2f}" for name, scores in fields.items()
    )
    return [
        name,
        f"{cpu:.2f}",
        f"{cpu / today_cpu:.2f}" if today_cpu else "-",
        f"{wall:.2f}",
        f"{run.peak_rss_mib:.0f}",
        f"{statistics.fmean(recalls):.3f}",
        f"{statistics.fmean(precisions):.3f}" if precisions else "n/a",
        field_text or "-",
    ]


def short_field(name: str) -> str:
    """A short column label for a field name."""
    return {
        "merchantName": "merch",
        "totalAmount": "total",
        "purchaseDate": "date",
        "currency": "cur",
    }[name]


# ---------------------------------------------------------------- main


def main() -> None:
    """Run every configuration on every set and print one table per set."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real", type=int, default=30, help="real receipts (of 150)")
    parser.add_argument("--generated", type=int, default=20, help="generated receipts")
    parser.add_argument("--pages", type=int, default=4, help="pages per page set")
    parser.add_argument(
        "--configs", default=DEFAULT_CONFIGS, help=f"comma-separated, of: {', '.join(CONFIGS)}"
    )
    parser.add_argument(
        "--sets",
        default="real-receipts,gen-receipts,project-pages,a4-150,a4-300,turned",
        help="comma-separated set names",
    )
    parser.add_argument("--no-tesseract", action="store_true")
    args = parser.parse_args()
    args.sets = args.sets.split(",")
    names = args.configs.split(",")
    if "today" not in names:
        names.insert(0, "today")

    sets = image_sets(args)
    samples = [sample for set_samples in sets.values() for sample in set_samples]
    assert len({sample.name for sample in samples}) == len(samples), "sample names must differ"
    print(f"{len(samples)} images in {len(sets)} sets; configurations: {', '.join(names)}")
    runs: dict[str, Run] = {}
    context = multiprocessing.get_context("spawn")
    for name in names:
        started = time.perf_counter()
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            runs[name] = pool.submit(run_engine, CONFIGS[name], samples).result()
        print(f"  {name}: {time.perf_counter() - started:.0f} s", flush=True)
    if not args.no_tesseract:
        if shutil.which(TESSERACT) is None:
            print(
                "tesseract not found: apt-get install -y tesseract-ocr tesseract-ocr-eng "
                "tesseract-ocr-deu tesseract-ocr-pol (or pass --no-tesseract)",
                file=sys.stderr,
            )
            sys.exit(2)
        started = time.perf_counter()
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
            runs["tesseract"] = pool.submit(run_tesseract, samples).result()
        print(f"  tesseract: {time.perf_counter() - started:.0f} s", flush=True)

    headers = ["config", "cpu s", "vs today", "wall s", "rss MiB", "recall", "precision", "fields"]
    for set_name, set_samples in sets.items():
        print(f"\n{set_name} ({len(set_samples)} images)")
        today_cpu = statistics.fmean(runs["today"].results[s.name].cpu for s in set_samples)
        rows = [
            summary_row(name, set_samples, run, today_cpu if name != "today" else None)
            for name, run in runs.items()
        ]
        print_table(headers, rows)


if __name__ == "__main__":
    main()
