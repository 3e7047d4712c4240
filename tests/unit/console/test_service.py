"""What the console pages derive from stored results and how form values become typed."""

from __future__ import annotations

from typing import Any

import pytest

from steve_lite.console.service import (
    QueueFilters,
    boxes_by_file,
    form_changes,
    parse_value,
    sniff_image,
)
from steve_lite.errors import ValidationFailed
from steve_lite.workflows.schemas import OutputField, WorkflowDefinition
from steve_lite.workflows.service import system_definitions
from tests.support.uploads import jpeg, png

BOX = [[10, 20], [110, 20], [110, 40], [10, 40]]


def receipt_definition() -> WorkflowDefinition:
    return next(d for d in system_definitions() if d.slug == "receipt-ocr")


def field(kind: str) -> OutputField:
    return OutputField(name="x", label="X", type=kind)  # type: ignore[arg-type]


def test_boxes_come_from_lines_of_both_processors_and_from_field_evidence() -> None:
    result: dict[str, Any] = {
        "extractedData": {"pages": [{"pageIndex": 1, "lines": [{"text": "a", "box": BOX}]}]},
        "pages": [{"fileIndex": 0, "lines": [{"text": "b", "box": BOX}]}],
        "fieldEvidence": {"totalAmount": {"pageIndex": 0, "box": BOX, "text": "TOTAL 9.99"}},
    }
    boxes = boxes_by_file(result)
    assert [b["text"] for b in boxes[1]] == ["a"]
    assert [(b["text"], b["field"]) for b in boxes[0]] == [
        ("b", None),
        ("TOTAL 9.99", "totalAmount"),
    ]
    assert boxes[0][0]["points"] == "10,20 110,20 110,40 10,40"


@pytest.mark.parametrize(
    "box",
    [None, [], [[1, 2]] * 3, [[1, "2"]] * 4, [[1, float("nan")]] * 4, [[1, 2, 3]] * 4, "1,2"],
)
def test_malformed_boxes_are_not_drawn(box: Any) -> None:
    result = {"pages": [{"fileIndex": 0, "lines": [{"text": "a", "box": box}]}]}
    assert boxes_by_file(result) == {}
    assert boxes_by_file({"fieldEvidence": {"x": {"pageIndex": 0, "box": box}}}) == {}


def test_a_result_without_boxes_has_none() -> None:
    assert boxes_by_file(None) == {}
    assert boxes_by_file({"extractedData": {"totalAmount": 1.0}, "pages": [{"fileIndex": 0}]}) == {}


@pytest.mark.parametrize(
    ("kind", "text", "value"),
    [
        ("number", "12.50", 12.5),
        ("number", "12,50", 12.5),
        ("number", " 1 234.5 ", 1234.5),
        ("number", "", None),
        ("integer", "7", 7),
        ("string", "  Shop  ", "Shop"),
        ("string", "", None),
        ("date", "2024-03-05", "2024-03-05"),
        ("boolean", "on", True),
        ("boolean", "", False),
        ("array", '[{"description": "tea", "amount": 2}]', [{"description": "tea", "amount": 2}]),
        ("array", "", []),
    ],
)
def test_form_values_become_the_fields_type(kind: str, text: str, value: Any) -> None:
    assert parse_value(field(kind), text) == value


@pytest.mark.parametrize(
    ("kind", "text"), [("number", "12.5.1"), ("number", "inf"), ("integer", "1.5"), ("array", "[")]
)
def test_values_that_are_not_of_the_type_are_refused(kind: str, text: str) -> None:
    with pytest.raises(ValueError, match="is not"):
        parse_value(field(kind), text)


def test_only_changed_fields_are_corrections() -> None:
    data = {"merchantName": "Shop", "totalAmount": 6.0, "currency": "EUR", "lineItems": []}
    form = {
        "field.merchantName": "Shop",
        "field.totalAmount": "6",
        "field.currency": "USD",
        "field.lineItems": "[]",
        "csrf_token": "x",
    }
    assert form_changes(receipt_definition(), data, form) == {"currency": "USD"}


def test_a_bad_value_names_its_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        form_changes(receipt_definition(), {}, {"field.totalAmount": "a lot"})
    assert [e.field for e in caught.value.errors] == ["extractedData.totalAmount"]


def test_images_are_sniffed_from_their_bytes() -> None:
    assert sniff_image(jpeg(seed=1)) == "image/jpeg"
    assert sniff_image(png(seed=1)) == "image/png"
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff_image(b"<html><script>alert(1)</script>") is None


def test_queue_filters_ignore_unknown_values() -> None:
    filters = QueueFilters.parse(
        {"status": "nope", "fraudStatus": "flagged", "order": "x", "page": "-3"}
    )
    assert (filters.status, filters.fraud_status, filters.order, filters.page) == (
        None,
        "flagged",
        "newest",
        1,
    )
    assert filters.query(page=2) == "fraudStatus=flagged&page=2"
