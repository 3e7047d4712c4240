import difflib
import io
import logging
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image
from rapidocr.ch_ppocr_det.utils import DetPreProcess

from steve_lite.processing.ocr import (
    MODEL_DIR,
    DetectorGeometry,
    DetectorLimit,
    OcrEngine,
    OcrLine,
    OcrPage,
    OcrSettings,
    assemble_page,
    document_confidence,
    document_result,
    group_rows,
    guess_language,
    packaged_model_params,
)
from steve_lite.processing.receipts import extract_receipt
from tests.factories.pages import render_page, render_placed_text
from tests.factories.receipts import random_receipt_spec, render_receipt

KNOWN_LINES = [
    "Quarterly report for the board",
    "Revenue grew by 12 percent in March",
    "Invoice 2026-0042 was paid on time",
    "The office moves to Harbour Street 17",
    "Contact: finance@example.org",
]


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(intra_op_threads=2)


@pytest.fixture(scope="module")
def known_page(engine: OcrEngine) -> OcrPage:
    return engine.read(Image.open(io.BytesIO(render_page(KNOWN_LINES))))


def similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, " ".join(a.split()), " ".join(b.split())).ratio()


def best_match_index(lines: tuple[OcrLine, ...], expected: str) -> tuple[int, float]:
    scores = [similarity(line.text, expected) for line in lines]
    best = max(range(len(scores)), key=scores.__getitem__)
    return best, scores[best]


def test_a_page_of_known_text_comes_back_line_by_line_in_reading_order(
    known_page: OcrPage,
) -> None:
    positions = []
    for expected in KNOWN_LINES:
        index, score = best_match_index(known_page.lines, expected)
        assert score >= 0.9, (expected, known_page.text)
        positions.append(index)
    assert positions == sorted(positions)
    assert len(known_page.lines) == len(KNOWN_LINES)
    assert known_page.text.splitlines() == [line.text for line in known_page.lines]


def test_lines_carry_confidences_between_0_and_1_and_four_point_boxes(
    known_page: OcrPage,
) -> None:
    for line in known_page.lines:
        assert 0.5 <= line.confidence <= 1.0
        assert len(line.box) == 4
        assert all(len(point) == 2 for point in line.box)
        assert all(round(value, 1) == value for point in line.box for value in point)
    top_left_x, top_left_y = known_page.lines[0].box[0]
    assert 90 <= top_left_x <= 130 and 90 <= top_left_y <= 130
    expected_mean = sum(line.confidence for line in known_page.lines) / len(known_page.lines)
    assert known_page.confidence == pytest.approx(expected_mean, abs=1e-4)


def test_text_drawn_out_of_order_still_reads_top_to_bottom(engine: OcrEngine) -> None:
    drawn = [
        ("Third paragraph begins here", (120, 500)),
        ("First heading of the letter", (120, 100)),
        ("Fourth and final sentence", (120, 700)),
        ("Second line about the weather", (120, 300)),
    ]
    page = engine.read(Image.open(io.BytesIO(render_placed_text(drawn, height=900))))
    expected_order = [text for text, _ in sorted(drawn, key=lambda item: item[1][1])]
    assert len(page.lines) == 4
    for line, expected in zip(page.lines, expected_order, strict=True):
        assert similarity(line.text, expected) >= 0.9


def test_two_columns_on_a_rotated_page_read_row_by_row_left_then_right(
    engine: OcrEngine,
) -> None:
    rows = [("Coffee beans", "12.50"), ("Whole milk", "1.20"), ("Sourdough bread", "4.75")]
    drawn = []
    for index, (label, amount) in enumerate(rows):
        drawn.append((amount, (900, 200 + 110 * index)))
        drawn.append((label, (120, 200 + 110 * index)))
    photo = render_placed_text(drawn, width=1100, height=700, rotate_degrees=3.0)
    page = engine.read(Image.open(io.BytesIO(photo)))
    text_rows = page.text.splitlines()
    assert len(text_rows) == 3
    for text_row, (label, amount) in zip(text_rows, rows, strict=True):
        assert similarity(text_row, f"{label} {amount}") >= 0.9


def test_an_empty_white_page_has_no_lines_and_zero_confidence(engine: OcrEngine) -> None:
    page = engine.read(Image.new("RGB", (800, 1000), "white"))
    assert page == OcrPage(lines=(), text="", confidence=0.0)


def test_one_engine_serves_several_threads_with_the_same_results(engine: OcrEngine) -> None:
    image = Image.open(io.BytesIO(render_page(["Shared engine 4711"], width=700, height=200)))
    expected = engine.read(image)
    results: list[OcrPage] = []
    threads = [threading.Thread(target=lambda: results.append(engine.read(image))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [(page.text, [line.box for line in page.lines]) for page in results] == [
        (expected.text, [line.box for line in expected.lines])
    ] * 2
    assert similarity(expected.text, "Shared engine 4711") >= 0.9


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network access attempted during OCR")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    yield attempts


def test_a_new_engine_loads_the_packaged_models_without_touching_the_network(
    no_network: list[object],
) -> None:
    params = packaged_model_params()
    assert {path.rsplit("/", 1)[0] for path in params.values()} == {str(MODEL_DIR)}
    fresh = OcrEngine(intra_op_threads=1)
    page = fresh.read(Image.open(io.BytesIO(render_page(["Offline 2026"], width=600, height=160))))
    assert similarity(page.text, "Offline 2026") >= 0.9
    assert no_network == []


def test_rapidocr_logs_go_through_standard_logging_at_warning_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        fresh = OcrEngine(intra_op_threads=1)
        fresh.read(Image.open(io.BytesIO(render_page(["Quiet logs"], width=500, height=160))))
    rapid_logger = logging.getLogger("RapidOCR")
    assert rapid_logger.handlers == []
    assert rapid_logger.propagate is True
    assert rapid_logger.level == logging.WARNING
    rapid_records = [record for record in caplog.records if record.name == "RapidOCR"]
    assert all(record.levelno >= logging.WARNING for record in rapid_records)


def synthetic_line(text: str, x: float, y: float, width: float, slope: float = 0.0) -> OcrLine:
    height = 30.0
    rise = width * slope
    box = [[x, y], [x + width, y + rise], [x + width, y + rise + height], [x, y + height]]
    return OcrLine(text=text, confidence=0.9, box=box)


def test_group_rows_removes_skew_before_pairing_labels_with_amounts() -> None:
    slope = 0.06
    lines = []
    for index, (label, amount) in enumerate([("TOTAL", "12.50"), ("CASH", "20.00")]):
        y = 100 + 45 * index
        lines.append(synthetic_line(amount, 500, y + 500 * slope, 80, slope))
        lines.append(synthetic_line(label, 20, y + 20 * slope, 300, slope))
    rows = group_rows(lines)
    assert [[line.text for line in row] for row in rows] == [["TOTAL", "12.50"], ["CASH", "20.00"]]


def test_assemble_page_joins_a_row_with_spaces_and_rows_with_newlines() -> None:
    lines = [
        synthetic_line("world", 300, 10, 100),
        synthetic_line("second row", 10, 60, 200),
        synthetic_line("hello", 10, 12, 100),
    ]
    page = assemble_page(lines)
    assert page.text == "hello world\nsecond row"
    assert [line.text for line in page.lines] == ["hello", "world", "second row"]
    assert page.confidence == 0.9


def test_document_result_has_camel_case_pages_and_the_joined_text(known_page: OcrPage) -> None:
    empty = OcrPage(lines=(), text="", confidence=0.0)
    result = document_result([known_page, empty])
    assert set(result) == {"pages", "text", "language"}
    assert [page["pageIndex"] for page in result["pages"]] == [0, 1]
    first = result["pages"][0]
    assert set(first) == {"pageIndex", "text", "confidence", "lines"}
    assert set(first["lines"][0]) == {"text", "confidence", "box"}
    assert first["lines"][0]["text"] == known_page.lines[0].text
    assert result["pages"][1]["lines"] == []
    assert result["text"] == known_page.text + "\n\n"
    assert result["language"] == "en"


def test_document_confidence_averages_pages_that_have_text(known_page: OcrPage) -> None:
    empty = OcrPage(lines=(), text="", confidence=0.0)
    assert document_confidence([known_page, empty]) == known_page.confidence
    assert document_confidence([empty]) == 0.0
    assert document_confidence([]) == 0.0


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The invoice is for the services that you ordered from our office", "en"),
        ("Die Rechnung ist für die Leistungen, die Sie bei uns bestellt haben", "de"),
        ("Faktura jest za usługi, które zamówili Państwo w naszym biurze i nie", "pl"),
        ("La facture est pour les services que vous avez commandés dans une agence", "fr"),
        ("TOTAL 12.50 CASH 20.00", None),
        ("", None),
    ],
)
def test_guess_language_names_the_language_of_running_text(text: str, language: str | None) -> None:
    assert guess_language(text) == language


@pytest.fixture(scope="module")
def turning_engine() -> OcrEngine:
    return OcrEngine(intra_op_threads=2, settings=OcrSettings(orientation=True))


def turned_point(x: float, y: float, degrees: int, width: int, height: int) -> tuple[float, float]:
    """Where PIL's `rotate(degrees, expand=True)` (counter-clockwise) moves a point."""
    if degrees == 90:
        return y, width - x
    if degrees == 180:
        return width - x, height - y
    return height - y, x


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_a_turned_page_is_read_upright_with_boxes_on_the_turned_image(
    turning_engine: OcrEngine, known_page: OcrPage, degrees: int
) -> None:
    upright = Image.open(io.BytesIO(render_page(KNOWN_LINES)))
    turned = upright.rotate(degrees, expand=True)
    page = turning_engine.read(turned)
    assert len(page.lines) == len(KNOWN_LINES)
    for line, expected in zip(page.lines, KNOWN_LINES, strict=True):
        assert similarity(line.text, expected) >= 0.9, page.text
    for line, upright_line in zip(page.lines, known_page.lines, strict=True):
        expected_corners = sorted(
            turned_point(x, y, degrees, upright.width, upright.height) for x, y in upright_line.box
        )
        for (x, y), (ex, ey) in zip(sorted(map(tuple, line.box)), expected_corners, strict=True):
            assert abs(x - ex) <= 8 and abs(y - ey) <= 8, (line.box, expected_corners)


def test_an_upright_page_reads_the_same_with_orientation_checks_on(
    turning_engine: OcrEngine, known_page: OcrPage
) -> None:
    page = turning_engine.read(Image.open(io.BytesIO(render_page(KNOWN_LINES))))
    assert page == known_page


def test_an_upside_down_receipt_yields_its_fields(turning_engine: OcrEngine) -> None:
    spec = random_receipt_spec(3)
    photo = Image.open(io.BytesIO(render_receipt(spec))).rotate(180, expand=True)
    fields = extract_receipt([turning_engine.read(photo)])
    assert fields["totalAmount"] == spec.total
    assert fields["purchaseDate"] == spec.date.isoformat()


@pytest.mark.parametrize(("width", "height"), [(1240, 1754), (620, 1256)])
def test_the_detector_is_fed_the_input_size_its_geometry_gives(
    monkeypatch: pytest.MonkeyPatch, width: int, height: int
) -> None:
    geometry = DetectorGeometry(page=DetectorLimit(1024, "max"), strip=DetectorLimit(2000, "max"))
    fresh = OcrEngine(intra_op_threads=1, geometry=geometry)
    shapes: list[tuple[int, ...]] = []
    original = DetPreProcess.__call__

    def recording(self: DetPreProcess, img: np.ndarray) -> np.ndarray | None:
        tensor = original(self, img)
        if tensor is not None:
            shapes.append(tensor.shape)
        return tensor

    monkeypatch.setattr(DetPreProcess, "__call__", recording)
    page = fresh.read(Image.open(io.BytesIO(render_page(KNOWN_LINES, width=width, height=height))))
    assert shapes == [(1, 3, *reversed(geometry.input_size(width, height)))]
    assert similarity(page.lines[0].text, KNOWN_LINES[0]) >= 0.9
