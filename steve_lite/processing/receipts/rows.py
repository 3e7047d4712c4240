"""Visual rows of a receipt rebuilt from the OCR boxes, with glued tokens split and OCR slips in
numbers undone.

Boxes whose vertical centres are close (after the page skew is removed) form one row, left to
right, so a label and its amount printed on one line are one row even when the OCR returned them
as two boxes. Each row keeps its page index and its bounding box in page pixels, for the field
evidence the review console draws.
"""

import re
import statistics
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from steve_lite.processing.ocr import OcrPage, box_height, group_rows


@dataclass(frozen=True)
class Row:
    """One visual row: cleaned text, mean OCR confidence, text height, page and bounding box."""

    text: str
    confidence: float
    height: float
    page_index: int = 0
    box: tuple[tuple[float, float], ...] = ((0, 0), (0, 0), (0, 0), (0, 0))


def receipt_rows(pages: Sequence[OcrPage]) -> list[Row]:
    """The visual rows of every page, in page order."""
    rows = []
    for page_index, page in enumerate(pages):
        for members in group_rows(page.lines):
            text = clean_text(" ".join(line.text for line in members))
            if not text:
                continue
            xs = [point[0] for line in members for point in line.box]
            ys = [point[1] for line in members for point in line.box]
            left, top, right, bottom = min(xs), min(ys), max(xs), max(ys)
            rows.append(
                Row(
                    text=text,
                    confidence=statistics.fmean(line.confidence for line in members),
                    height=statistics.fmean(box_height(line.box) for line in members),
                    page_index=page_index,
                    box=((left, top), (right, top), (right, bottom), (left, bottom)),
                )
            )
    return rows


GLUED_TOKENS = (
    # a currency mark glued to an amount whose first 1 was read as I or l: RMI11.90
    (re.compile(r"(RM|Rp|[$€£¥₹])\s?[Il|](?=\d)"), r"\g<1>1"),
    # a date glued to the time after it: 09/03/20184:21:23PM
    (re.compile(r"(?<!\d)(\d{1,2}[-/.]{1,2}\d{1,2}[-/.]{1,2}\d{4})(?=\d{1,2}:\d{2})"), r"\1 "),
    (re.compile(r"(?<!\d)(\d{1,2}[-/.]\d{1,2}[-/.]\d{2})(?=\d{2}:\d{2})"), r"\1 "),
    (re.compile(r"(?<!\d)(\d{4}[-/.]\d{1,2}[-/.]\d{2}|(?:19|20)\d{2})(?=\d{1,2}:\d{2})"), r"\1 "),
    # a label glued to its amount: TOTAL:193.00, RM23.60
    (re.compile(r"(?<=[^\W\d_]):(?=[-$]?\d)"), ": "),
    (re.compile(r"(?<=[^\W\d_]{2})(?=\d+[.,]\d{2}(?!\d))"), " "),
    # an amount glued to the word after it: 75.00SR
    (re.compile(r"(?<=\d[.,]\d\d)(?=[^\W\d_]{2})"), " "),
)
DIGIT_CONFUSIONS = (
    (re.compile(r"(?<=\d)[Oo](?![A-Za-z])|(?<=\d[.,])[Oo]|(?<![A-Za-z])[Oo](?=\d)"), "0"),
    (re.compile(r"(?<=\d)[lI|](?=\d)|(?<=\d[.,])[lI|]|(?<=[.,]\d)[lI|](?!\w)"), "1"),
    (re.compile(r"(?<=\d[.,]\d)S(?!\w)|(?<=\d)S(?=\d)"), "5"),
    (re.compile(r"(?<![\w$])S(?=\d+[.,]\d{2}(?!\d))"), "$"),
)
SPACED_DECIMALS = re.compile(r"(?<=\d)\s?([.,])\s(?=\d{2}(?!\d))|(?<=\d)\s([.,])(?=\d{2}(?!\d))")


def clean_text(text: str) -> str:
    """NFKC-normalise, collapse spaces, split glued tokens and undo OCR slips inside numbers."""
    text = " ".join(unicodedata.normalize("NFKC", text).split())
    for pattern, replacement in (*GLUED_TOKENS, *DIGIT_CONFUSIONS):
        text = pattern.sub(replacement, text)
    return SPACED_DECIMALS.sub(lambda match: match.group(1) or match.group(2), text)
