"""int8 copies of rapidocr's packaged models, made here from the packaged ones (never downloaded).

`quantised_models(directory)` returns the paths of the int8 detector and recogniser in
`directory`, making them first when they are missing: the float models are converted to ONNX
opset 13, pre-processed and statically quantised (QDQ, int8 weights per channel, uint8
activations) with onnxruntime's quantisation tools, calibrated on text this module renders with
Pillow's built-in font. A file's name carries the hash of its source model and the recipe
version, so a new rapidocr wheel or recipe makes new files; each is written to a temporary name
and renamed, so a crash never leaves half a model behind and concurrent starts do not collide.
"""

import hashlib
import logging
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from steve_lite.processing.ocr import MODEL_DIR, MODEL_FILES

logger = logging.getLogger("steve_lite.ocr")

QUANTISED_SECTIONS = ("Det", "Rec")
RECIPE_VERSION = 1
OPSET = 13
"""Per-channel QDQ quantisation needs opset 13; the packaged models are opset 11."""
CALIBRATION_TEXT = (
    "TOTAL CASH CHANGE Invoice Receipt Date Amount Tax VAT Qty Price Summe Rechnung Kasse "
    "Paragon Razem Netto Brutto Street Road Thank you 12.50 4.08 72,08 1,234.56 2026-03-14 "
    "14/03/2026 No: 0042 RM 6.00 EUR PLN USD $ # % @ Tel +44 20 7946 0958 www.example.org"
)
CALIBRATION_WORDS = CALIBRATION_TEXT.split()


def quantised_models(directory: Path) -> dict[str, Path]:
    """The int8 detector ("Det") and recogniser ("Rec") in directory, made when missing."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for section in QUANTISED_SECTIONS:
        file_name = MODEL_FILES[section]
        source = MODEL_DIR / file_name
        digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
        target = directory / f"{source.stem}.int8-r{RECIPE_VERSION}-{digest}.onnx"
        if not target.is_file():
            logger.info("making an int8 copy of %s (once, takes a minute)", file_name)
            quantise(source, target, calibration_inputs(section))
        paths[section] = target
    return paths


def quantise(source: Path, target: Path, inputs: list[np.ndarray]) -> None:
    """Statically quantise source into target, calibrated on inputs (each one model input)."""
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._inputs: Iterator[np.ndarray] = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            value = next(self._inputs, None)
            return None if value is None else {"x": value}

    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        converted = Path(work) / "opset13.onnx"
        prepared = Path(work) / "prepared.onnx"
        quantised = Path(work) / "int8.onnx"
        onnx.save(version_converter.convert_version(onnx.load(source), OPSET), converted)
        quant_pre_process(str(converted), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(quantised),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        os.replace(quantised, target)


def calibration_inputs(section: str) -> list[np.ndarray]:
    """Model inputs for calibrating the detector (whole images) or the recogniser (lines)."""
    rng = random.Random(19)
    if section == "Det":
        images = [calibration_image(rng, width, height) for width, height in CALIBRATION_SIZES]
        return [normalised(image) for image in images]
    return [normalised(calibration_line(rng)) for _ in range(48)]


CALIBRATION_SIZES = ((736, 1024), (640, 1472), (1024, 736), (896, 1280))
"""Detector calibration images (multiples of 32, as rapidocr feeds the detector)."""


def calibration_image(rng: random.Random, width: int, height: int) -> Image.Image:
    """Lines of text in several sizes on paper that may lie on a grey table, slightly noisy."""
    table = rng.randint(150, 230)
    image = Image.new("RGB", (width, height), (table, table, table - 5))
    paper_left = rng.randint(0, width // 8)
    draw = ImageDraw.Draw(image)
    draw.rectangle((paper_left, 0, width - rng.randint(0, width // 8), height), fill="white")
    y = rng.randint(10, 40)
    while y < height - 60:
        size = rng.choice((14, 18, 22, 28, 36))
        font = ImageFont.load_default(size=size)
        ink = rng.randint(0, 90)
        draw.text((paper_left + 20, y), random_text(rng, 6), font=font, fill=(ink, ink, ink))
        y += int(size * rng.uniform(1.3, 2.2))
    return add_noise(image, rng)


def calibration_line(rng: random.Random) -> Image.Image:
    """One line of text at the recogniser's 48 px height, as the detector would crop it."""
    font = ImageFont.load_default(size=rng.choice((26, 30, 34)))
    text = random_text(rng, rng.randint(1, 8))
    width = max(48, int(font.getlength(text)) + 16)
    paper = rng.randint(200, 255)
    image = Image.new("RGB", (width, 48), (paper, paper, paper))
    ink = rng.randint(0, 100)
    ImageDraw.Draw(image).text((8, 6), text, font=font, fill=(ink, ink, ink))
    return add_noise(image, rng)


def random_text(rng: random.Random, words: int) -> str:
    """Words drawn from receipts' and invoices' vocabulary."""
    return " ".join(rng.choice(CALIBRATION_WORDS) for _ in range(words))


def add_noise(image: Image.Image, rng: random.Random) -> Image.Image:
    """Mild sensor-like noise, so the calibrated ranges also cover photos."""
    pixels = np.asarray(image, dtype=np.int16)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def normalised(image: Image.Image) -> np.ndarray:
    """An image as rapidocr feeds its models: BGR, scaled to -1..1, NCHW float32."""
    bgr = np.asarray(image.convert("RGB"), dtype=np.float32)[:, :, ::-1]
    return ((bgr / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[np.newaxis].astype(np.float32)
