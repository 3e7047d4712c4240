"""Text recognition with rapidocr, and the `document-ocr` output built from it.

The models are the ones packaged inside the rapidocr wheel. Their paths are passed explicitly, so
rapidocr never reaches its download code: the engine works on a machine with no network.

rapidocr's text-direction classifier is switched off: it only helps with upside-down text, and on
upright receipts it turned short numbers around (9,09 read as 60'6). Images are expected upright
(EXIF orientation applied before OCR).
"""

import logging
import math
import re
import statistics
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rapidocr
from PIL import Image
from rapidocr import RapidOCR

logger = logging.getLogger("steve_lite.ocr")

RAPIDOCR_LOGGER_NAME = "RapidOCR"
MODEL_DIR = Path(rapidocr.__file__).parent / "models"
MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}
DETECTOR_ALIGNMENT = 32
ROW_TOLERANCE = 0.5
"""Two boxes share a row when their centres differ by less than this share of the smaller height."""


@dataclass(frozen=True)
class OcrLine:
    """One recognised text box: its text, the recogniser's confidence (0..1) and 4 corner points."""

    text: str
    confidence: float
    box: list[list[float]]


@dataclass(frozen=True)
class OcrPage:
    """The lines of one image in reading order.

    `text` holds one visual row per line: boxes of the same row are joined with a space.
    `confidence` is the mean line confidence, 0.0 for a page without text.
    """

    lines: tuple[OcrLine, ...]
    text: str
    confidence: float


def quiet_rapidocr_logger() -> None:
    """Send rapidocr's log records through the standard handlers, at WARNING and above only.

    rapidocr installs its own colour console handler and turns propagation off; both are undone.
    """
    rapid_logger = logging.getLogger(RAPIDOCR_LOGGER_NAME)
    for handler in list(rapid_logger.handlers):
        rapid_logger.removeHandler(handler)
    rapid_logger.propagate = True
    rapid_logger.setLevel(logging.WARNING)


def packaged_model_params() -> dict[str, str]:
    """rapidocr parameters pointing at the models shipped in its wheel (no download path)."""
    params = {}
    for section, file_name in MODEL_FILES.items():
        path = MODEL_DIR / file_name
        if not path.is_file():
            raise RuntimeError(
                f"rapidocr's packaged model {path} is missing; reinstall the rapidocr wheel "
                "(steve-lite never downloads models at run time)"
            )
        params[f"{section}.model_path"] = str(path)
    return params


@dataclass(frozen=True)
class DetectorGeometry:
    """How the engine resizes an image before its text detector runs (rapidocr's rules: the long
    side is cut to ``max_side_len``, a short side below ``min_side_len`` is raised to it, then the
    detector scales the short side up to ``limit_side_len`` when ``limit_type`` is "min", or the
    long side down to it when "max"; sides are rounded to multiples of 32)."""

    max_side_len: int = 2000
    min_side_len: int = 30
    limit_type: str = "min"
    limit_side_len: int = 736

    def params(self) -> dict[str, Any]:
        """The rapidocr parameters that set this geometry."""
        return {
            "Global.max_side_len": self.max_side_len,
            "Global.min_side_len": self.min_side_len,
            "Det.limit_type": self.limit_type,
            "Det.limit_side_len": self.limit_side_len,
        }

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """The detector's input size for an image of ``width`` x ``height`` pixels."""
        if max(width, height) > self.max_side_len:
            width, height = scaled(width, height, self.max_side_len / max(width, height))
        if min(width, height) < self.min_side_len:
            width, height = scaled(width, height, self.min_side_len / min(width, height))
        if self.limit_type == "max":
            ratio = min(1.0, self.limit_side_len / max(width, height))
        else:
            ratio = max(1.0, self.limit_side_len / min(width, height))
        return scaled(width, height, ratio)


def scaled(width: int, height: int, ratio: float) -> tuple[int, int]:
    """Both sides times ``ratio``, rounded to the detector's alignment (at least one unit)."""

    def side(length: int) -> int:
        return max(
            DETECTOR_ALIGNMENT, round(int(length * ratio) / DETECTOR_ALIGNMENT) * DETECTOR_ALIGNMENT
        )

    return side(width), side(height)


class OcrEngine:
    """A rapidocr engine built once and reused for every image.

    One engine may be shared by several threads: calls are serialised by a lock, because rapidocr
    keeps per-call state on the engine. For parallel OCR use one engine per thread or process and
    give each a small `intra_op_threads` so that engines x threads is about the core count.
    """

    def __init__(
        self, intra_op_threads: int | None = None, geometry: DetectorGeometry | None = None
    ) -> None:
        self.geometry = geometry or DetectorGeometry()
        params: dict[str, Any] = {
            "Global.log_level": "warning",
            "Global.use_cls": False,
            **self.geometry.params(),
            **packaged_model_params(),
        }
        if intra_op_threads is not None:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = intra_op_threads
        self._engine = RapidOCR(params=params)
        quiet_rapidocr_logger()
        self._lock = threading.Lock()
        logger.debug("OCR engine ready (intra-op threads: %s)", intra_op_threads or "all")

    def read(self, image: Image.Image) -> OcrPage:
        """Recognise the text of one image."""
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        with self._lock:
            result = self._engine(bgr)
        if result.txts is None or result.boxes is None or result.scores is None:
            return assemble_page([])
        lines = [
            OcrLine(
                text=" ".join(str(text).split()),
                confidence=round(float(score), 4),
                box=[[round(float(x), 1), round(float(y), 1)] for x, y in box],
            )
            for text, score, box in zip(result.txts, result.scores, result.boxes, strict=True)
            if str(text).strip()
        ]
        return assemble_page(lines)


def assemble_page(lines: Iterable[OcrLine]) -> OcrPage:
    """Order lines into reading order and build the page text and confidence."""
    rows = group_rows(list(lines))
    ordered = tuple(line for row in rows for line in row)
    text = "\n".join(" ".join(line.text for line in row) for row in rows)
    confidence = statistics.fmean(line.confidence for line in ordered) if ordered else 0.0
    return OcrPage(lines=ordered, text=text, confidence=round(confidence, 4))


def group_rows(lines: Sequence[OcrLine]) -> list[tuple[OcrLine, ...]]:
    """Group lines into visual rows, top to bottom, each row left to right.

    The page skew, estimated from the boxes' top edges, is removed first, so a label on the left
    and an amount on the right of a slightly rotated photo still land in one row.
    """
    angle = skew_angle(lines)
    cos_a, sin_a = math.cos(angle), math.sin(angle)
    placed = []
    for line in lines:
        xs = [point[0] for point in line.box]
        ys = [point[1] for point in line.box]
        cx, cy = statistics.fmean(xs), statistics.fmean(ys)
        upright_x = cx * cos_a + cy * sin_a
        upright_y = -cx * sin_a + cy * cos_a
        placed.append((upright_y, upright_x, box_height(line.box), line))
    placed.sort(key=lambda item: item[0])

    rows: list[list[tuple[float, float, float, OcrLine]]] = []
    for item in placed:
        if rows:
            row = rows[-1]
            row_y = statistics.fmean(member[0] for member in row)
            row_height = statistics.fmean(member[2] for member in row)
            if abs(item[0] - row_y) < ROW_TOLERANCE * min(item[2], row_height):
                row.append(item)
                continue
        rows.append([item])
    return [tuple(member[3] for member in sorted(row, key=lambda m: m[1])) for row in rows]


def skew_angle(lines: Sequence[OcrLine]) -> float:
    """Median angle (radians) of the top edges of the wide boxes; 0.0 when there are none."""
    angles = []
    for line in lines:
        (x0, y0), (x1, y1) = line.box[0], line.box[1]
        width = math.hypot(x1 - x0, y1 - y0)
        if width > 2 * box_height(line.box):
            angles.append(math.atan2(y1 - y0, x1 - x0))
    return statistics.median(angles) if angles else 0.0


def box_height(box: list[list[float]]) -> float:
    """Distance between the top and bottom edges of a 4-point box (at least 1)."""
    (x0, y0), _, _, (x3, y3) = box
    return max(math.hypot(x3 - x0, y3 - y0), 1.0)


def document_result(pages: Sequence[OcrPage]) -> dict[str, Any]:
    """The `document-ocr` extractedData: every page's text and lines, the full text, a language."""
    text = "\n\n".join(page.text for page in pages)
    return {
        "pages": [
            {
                "pageIndex": index,
                "text": page.text,
                "confidence": page.confidence,
                "lines": [
                    {"text": line.text, "confidence": line.confidence, "box": line.box}
                    for line in page.lines
                ],
            }
            for index, page in enumerate(pages)
        ],
        "text": text,
        "language": guess_language(text),
    }


def document_confidence(pages: Sequence[OcrPage]) -> float:
    """Mean confidence over the pages that have text; 0.0 when none has."""
    confidences = [page.confidence for page in pages if page.lines]
    return round(statistics.fmean(confidences), 4) if confidences else 0.0


STOPWORDS: dict[str, frozenset[str]] = {
    language: frozenset(words.split())
    for language, words in {
        "en": "the and of to in is for with on that this are be by from at as your you our",
        "de": "der die das und ist nicht mit von den des zu auf für ein eine im dem sie wir",
        "fr": "le la les et des est pour dans une un du au pas sur que qui vous nous avec",
        "es": "el la los las y es para con una un del por que en se no su al como",
        "it": "il la di che è per un una con del della non sono gli le nel al",
        "pl": "i w na jest się z do nie że to od za jak po dla przez oraz są",
        "nl": "de het een en van is in op te dat voor met niet zijn aan er",
        "pt": "o a os as e de do da em para com um uma não que por são",
        "sv": "och att det som en på är av för med till den har inte om ett",
    }.items()
}
MIN_STOPWORD_HITS = 3
WORD_PATTERN = re.compile(r"[^\W\d_]+")


def guess_language(text: str) -> str | None:
    """Best-effort ISO 639-1 code from common function words; None when the text says too little.

    The winner needs at least 3 hits and more hits than any other language.
    """
    words = [word.lower() for word in WORD_PATTERN.findall(text)]
    scores = {
        language: sum(1 for word in words if word in stopwords)
        for language, stopwords in STOPWORDS.items()
    }
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    (best, best_hits), (_, runner_up_hits) = ranked[0], ranked[1]
    if best_hits < MIN_STOPWORD_HITS or best_hits == runner_up_hits:
        return None
    return best
