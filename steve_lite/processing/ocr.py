"""Text recognition with rapidocr, and the `document-ocr` output built from it.

The models are the ones packaged inside the rapidocr wheel. Their paths are passed explicitly, so
rapidocr never reaches its download code: the engine works on a machine with no network.

rapidocr's per-line text-direction step is switched off: on upright receipts it turned short
numbers around (9,09 read as 60'6). Images are expected upright (EXIF orientation applied before
OCR); with `OcrSettings.orientation` the text-direction model instead votes, page by page, on
whether a page that reads poorly or sideways is turned (see `OcrEngine.read`).
"""

import logging
import math
import re
import statistics
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rapidocr
from PIL import Image
from rapidocr import RapidOCR
from rapidocr.ch_ppocr_cls import TextClassifier
from rapidocr.utils.process_img import get_rotate_crop_image

logger = logging.getLogger("steve_lite.ocr")

RAPIDOCR_LOGGER_NAME = "RapidOCR"
MODEL_DIR = Path(rapidocr.__file__).parent / "models"
MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
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
class DetectorLimit:
    """How the text detector's input is sized: the image is scaled so that its longest side
    (`kind="max"`) is at most `side` px, or its shortest side (`kind="min"`) at least `side` px."""

    side: int
    kind: Literal["max", "min"]

    def ratio(self, width: int, height: int) -> float:
        """The detector's scale for an image of this size."""
        if self.kind == "max":
            return min(1.0, self.side / max(width, height))
        return max(1.0, self.side / min(width, height))


STRIP_RATIO = 1.8
"""Long side / short side from which an image is a strip (a till receipt), not a page."""


@dataclass(frozen=True)
class DetectorGeometry:
    """How the engine resizes an image before its text detector runs (rapidocr's rules: the long
    side is cut to ``max_side_len``, a short side below ``min_side_len`` is raised to it, then the
    detector applies ``page`` or, for a strip (sides differing by ``STRIP_RATIO`` or more),
    ``strip``; sides are rounded to multiples of 32). Only the detector's input is resized: the
    recogniser reads its text boxes from the image at ``max_side_len``."""

    max_side_len: int = 2000
    min_side_len: int = 30
    page: DetectorLimit = DetectorLimit(1024, "max")
    strip: DetectorLimit = DetectorLimit(2000, "max")

    def params(self) -> dict[str, Any]:
        """The rapidocr parameters that set this geometry (the limit is set per image)."""
        return {
            "Global.max_side_len": self.max_side_len,
            "Global.min_side_len": self.min_side_len,
        }

    def limit(self, width: int, height: int) -> DetectorLimit:
        """The detector limit for an image of this size: strips and pages differ."""
        if max(width, height) >= STRIP_RATIO * min(width, height):
            return self.strip
        return self.page

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """The detector's input size for an image of ``width`` x ``height`` pixels."""
        if max(width, height) > self.max_side_len:
            width, height = scaled(width, height, self.max_side_len / max(width, height))
        if min(width, height) < self.min_side_len:
            width, height = scaled(width, height, self.min_side_len / min(width, height))
        return scaled(width, height, self.limit(width, height).ratio(width, height))


def scaled(width: int, height: int, ratio: float) -> tuple[int, int]:
    """Both sides times ``ratio``, rounded to the detector's alignment (at least one unit)."""

    def side(length: int) -> int:
        return max(
            DETECTOR_ALIGNMENT, round(int(length * ratio) / DETECTOR_ALIGNMENT) * DETECTOR_ALIGNMENT
        )

    return side(width), side(height)


@dataclass(frozen=True)
class OcrSettings:
    """The recogniser's and the orientation check's parameters."""

    rec_batch: int = 1
    """Text boxes recognised per inference call (a batch is padded to its widest box)."""
    rec_min_width: int = 96
    """Narrowest recogniser input (px at 48 px height); shorter crops are padded up to it."""
    orientation: bool = True
    """Check pages that read poorly or sideways for being turned, and read them turned back."""
    memory_arena: bool = False
    """onnxruntime's CPU memory arena (rapidocr turns it off): buffers are kept between calls."""


TODAY_GEOMETRY = DetectorGeometry(page=DetectorLimit(736, "min"), strip=DetectorLimit(736, "min"))
TODAY_SETTINGS = OcrSettings(rec_batch=6, rec_min_width=320, orientation=False)
"""rapidocr's defaults, as the engine ran before issue 19 (the benchmark's baseline)."""
TURN_CONFIDENCE = 0.85
"""A first reading with a mean confidence below this may come from a turned page."""
TURN_SAMPLE = 16
"""Longest text boxes whose direction the text-direction model votes on."""
TURN_SCORE = 0.9
"""Votes below this text-direction score count as upright."""
CLASSIFIER_ASPECT = 4
"""Width / height of the text-direction model's input (192 x 48 px)."""
TALL_BOX = 1.5
"""A box this many times taller than wide holds sideways text (rapidocr's own rule)."""


class OcrEngine:
    """A rapidocr engine built once and reused for every image.

    One engine may be shared by several threads: calls are serialised by a lock, because rapidocr
    keeps per-call state on the engine. For parallel OCR use one engine per thread or process and
    give each a small `intra_op_threads` so that engines x threads is about the core count.
    """

    def __init__(
        self,
        intra_op_threads: int | None = None,
        geometry: DetectorGeometry | None = None,
        settings: OcrSettings | None = None,
    ) -> None:
        self.geometry = geometry or DetectorGeometry()
        self.settings = settings or OcrSettings()
        params: dict[str, Any] = {
            "Global.log_level": "warning",
            "Global.use_cls": False,
            "Rec.rec_batch_num": self.settings.rec_batch,
            "Rec.rec_img_shape": [3, 48, self.settings.rec_min_width],
            "EngineConfig.onnxruntime.enable_cpu_mem_arena": self.settings.memory_arena,
            **self.geometry.params(),
            **packaged_model_params(),
        }
        if intra_op_threads is not None:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = intra_op_threads
        self._engine = RapidOCR(params=params)
        quiet_rapidocr_logger()
        self._detector = self._engine._load_det_model()  # loaded now to set its limit per call
        self._classifier: TextClassifier | None = None  # text direction, loaded when needed
        self._lock = threading.Lock()
        logger.debug("OCR engine ready (%s, %s)", self.geometry, self.settings)

    def read(self, image: Image.Image) -> OcrPage:
        """Recognise the text of one image; boxes are in the coordinates of `image`."""
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        with self._lock:
            page = self._read_bgr(bgr)
            if self.settings.orientation and page.lines:
                page = self._read_turned_if_better(bgr, page)
        return page

    def _read_bgr(self, bgr: np.ndarray) -> OcrPage:
        height, width = bgr.shape[:2]
        limit = self.geometry.limit(width, height)
        self._detector.limit_side_len = limit.side
        self._detector.limit_type = limit.kind
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

    def _read_turned_if_better(self, bgr: np.ndarray, page: OcrPage) -> OcrPage:
        """Read the page turned back when it looks turned and the turned reading is better.

        Costs nothing on pages that read well with lying text boxes; otherwise the
        text-direction model votes on the longest boxes, and a turned page is read again.
        """
        sideways = is_sideways(page)
        if page.confidence >= TURN_CONFIDENCE and not sideways:
            return page
        quarter_turns = self._quarter_turns(bgr, page, sideways)
        if quarter_turns == 0:
            return page
        height, width = bgr.shape[:2]
        turned = self._read_bgr(np.ascontiguousarray(np.rot90(bgr, quarter_turns)))
        candidate = turn_back(turned, quarter_turns, width, height)
        needed = recognised_mass(page) * (0.9 if sideways else 1.0)
        return candidate if recognised_mass(candidate) > needed else page

    def _quarter_turns(self, bgr: np.ndarray, page: OcrPage, sideways: bool) -> int:
        """Counter-clockwise quarter turns (np.rot90) that make the page upright: 0 to 3."""
        boxes = [line.box for line in page.lines if is_tall(line.box) == sideways]
        boxes.sort(key=lambda box: -max(edge_lengths(box)))
        crops = [
            classifier_window(get_rotate_crop_image(bgr, np.array(box, dtype=np.float32)))
            for box in boxes[:TURN_SAMPLE]
        ]
        if not crops:
            return 0
        if self._classifier is None:
            self._classifier = self._engine._load_cls_model()
        votes = self._classifier(crops).cls_res or []
        upside_down = sum(1 for label, score in votes if label == "180" and score >= TURN_SCORE)
        flipped = upside_down * 2 > len(crops)
        if sideways:  # rapidocr turned these crops a quarter counter-clockwise before the vote
            return 3 if flipped else 1
        return 2 if flipped else 0


def classifier_window(crop: np.ndarray) -> np.ndarray:
    """The middle of a line crop, at most CLASSIFIER_ASPECT times as wide as high: the
    text-direction model squeezes its input to 192 x 48 px, so a whole long line would be a blur."""
    height, width = crop.shape[:2]
    window = min(width, CLASSIFIER_ASPECT * height)
    start = (width - window) // 2
    return crop[:, start : start + window]


def is_sideways(page: OcrPage) -> bool:
    """Whether most of the page's text boxes are standing (text running up or down)."""
    return sum(1 for line in page.lines if is_tall(line.box)) * 2 > len(page.lines)


def is_tall(box: list[list[float]]) -> bool:
    """Whether a box is much taller than wide."""
    width, height = edge_lengths(box)
    return height >= TALL_BOX * width


def edge_lengths(box: list[list[float]]) -> tuple[float, float]:
    """Width (top edge) and height (left edge) of a 4-point box."""
    (x0, y0), (x1, y1), _, (x3, y3) = box
    return math.hypot(x1 - x0, y1 - y0), math.hypot(x3 - x0, y3 - y0)


def recognised_mass(page: OcrPage) -> float:
    """Characters read, weighted by confidence: how much a reading found."""
    return sum(line.confidence * len(line.text) for line in page.lines)


def turn_back(page: OcrPage, quarter_turns: int, width: int, height: int) -> OcrPage:
    """A page read from `np.rot90(image, quarter_turns)` with its boxes in `image` coordinates
    (`width` x `height`); reading order and text stay those of the turned reading."""

    def original(x: float, y: float) -> list[float]:
        if quarter_turns == 1:
            x, y = width - y, x
        elif quarter_turns == 2:
            x, y = width - x, height - y
        elif quarter_turns == 3:
            x, y = y, height - x
        return [round(x, 1), round(y, 1)]

    lines = tuple(replace(line, box=[original(x, y) for x, y in line.box]) for line in page.lines)
    return replace(page, lines=lines)


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
