"""OCR output of benchmark images, computed once with the service's own engine and cached.

Each image is decoded the way the pipeline decodes an upload (`decode_image`: EXIF orientation
applied) and read by `OcrEngine`. The lines (text, confidence, box) are stored as JSON in
`bench/.cache/ocr/<engine fingerprint>/<image sha256>.json`, so re-running extraction over a
data set costs seconds. The fingerprint covers everything that can change what the engine
reads: the rapidocr and onnxruntime versions, the packaged model files (name and size) and the
exact lines (text, confidence, box) the engine reads from a probe image, a generated receipt
decoded the pipeline's way. A change of engine parameters or preprocessing that changes what
the engine reads changes the fingerprint, and the images are read again; a change of code that
reads the same (a refactoring) keeps the cache.
The time each read took is cached with it: the benchmark compares extraction time with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from importlib.metadata import version
from multiprocessing import Pool
from pathlib import Path

from steve_lite.processing.images import decode_image
from steve_lite.processing.ocr import (
    MODEL_DIR,
    DetectorGeometry,
    OcrEngine,
    OcrLine,
    OcrPage,
    OcrSettings,
    assemble_page,
)
from tests.factories.receipts import random_receipt_spec, render_receipt

PROBE_SEED = 14
CACHE_DIR = Path(__file__).resolve().parent / ".cache" / "ocr"
ACCEPTED_FORMATS = ("jpeg", "png", "webp")


def engine_fingerprint() -> str:
    """A short hash of the engine's versions, models and what it reads from a probe image."""
    digest = hashlib.sha256()
    for package in ("rapidocr", "onnxruntime"):
        digest.update(f"{package}={version(package)}\n".encode())
    for model in sorted(MODEL_DIR.glob("*.onnx")):
        digest.update(f"{model.name}:{model.stat().st_size}\n".encode())
    # The probe may not exercise every setting (it is not a strip), so the settings count too.
    digest.update(f"{DetectorGeometry()!r}\n{OcrSettings()!r}\n".encode())
    probe = decode_image(render_receipt(random_receipt_spec(PROBE_SEED)), ACCEPTED_FORMATS)
    page = OcrEngine(intra_op_threads=1).read(probe.image)
    digest.update(json.dumps(page_to_json(page, 0.0)["lines"]).encode())
    return digest.hexdigest()[:16]


def page_to_json(page: OcrPage, seconds: float) -> dict[str, object]:
    """The cached form of one OCR page."""
    lines = [{"text": x.text, "confidence": x.confidence, "box": x.box} for x in page.lines]
    return {"seconds": round(seconds, 4), "lines": lines}


def page_from_json(data: dict[str, object]) -> tuple[OcrPage, float]:
    """An OCR page and the seconds its OCR took, from the cached form."""
    lines = [OcrLine(line["text"], line["confidence"], line["box"]) for line in data["lines"]]  # type: ignore[index, union-attr]
    return assemble_page(lines), float(data["seconds"])  # type: ignore[arg-type]


_engine: OcrEngine | None = None


def _start_worker(threads: int) -> None:
    global _engine
    _engine = OcrEngine(intra_op_threads=threads)


def _read(job: tuple[bytes, Path]) -> None:
    data, cache_path = job
    assert _engine is not None
    decoded = decode_image(data, ACCEPTED_FORMATS)
    started = time.process_time()
    page = _engine.read(decoded.image)
    seconds = time.process_time() - started
    temporary = cache_path.with_suffix(".tmp")
    temporary.write_text(json.dumps(page_to_json(page, seconds)))
    temporary.replace(cache_path)


def cached_pages(images: Mapping[str, bytes], workers: int = 1) -> dict[str, tuple[OcrPage, float]]:
    """The OCR page and OCR CPU seconds of every named image, reading only those not cached."""
    folder = CACHE_DIR / engine_fingerprint()
    folder.mkdir(parents=True, exist_ok=True)
    cache_of = {
        name: folder / f"{hashlib.sha256(data).hexdigest()}.json" for name, data in images.items()
    }
    missing = [(images[name], cache) for name, cache in cache_of.items() if not cache.exists()]
    if missing:
        threads = max(1, (os.cpu_count() or 1) // workers)
        print(f"OCR of {len(missing)} uncached images ({workers} workers, cache {folder})")
        with Pool(workers, initializer=_start_worker, initargs=(threads,)) as pool:
            for done, _ in enumerate(pool.imap_unordered(_read, missing), start=1):
                if done % 25 == 0:
                    print(f"  {done}/{len(missing)}", flush=True)
    return {name: page_from_json(json.loads(cache.read_text())) for name, cache in cache_of.items()}
