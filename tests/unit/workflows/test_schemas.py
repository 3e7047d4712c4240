"""What ``publish`` accepts in a version's upload contract: PDF and its page limit."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from steve_lite.workflows.schemas import UploadContract, WorkflowDefinition
from steve_lite.workflows.service import system_definitions


def upload(**changes: Any) -> dict[str, Any]:
    return {
        "minFiles": 1,
        "maxFiles": 3,
        "acceptedFormats": ["image/png", "application/pdf"],
        "fileLabels": ["page"],
        "maxFileSizeMb": 5,
        **changes,
    }


def test_a_version_that_accepts_pdf_allows_20_pages_unless_it_says_otherwise() -> None:
    assert UploadContract.model_validate(upload()).max_pages == 20
    assert UploadContract.model_validate(upload(maxPages=3)).max_pages == 3


def test_max_pages_is_refused_where_pdf_is_not_accepted() -> None:
    with pytest.raises(ValidationError, match="maxPages applies only to versions that accept"):
        UploadContract.model_validate(upload(acceptedFormats=["image/png"], maxPages=4))


@pytest.mark.parametrize("pages", [0, 501])
def test_max_pages_is_bounded(pages: int) -> None:
    with pytest.raises(ValidationError, match="maxPages"):
        UploadContract.model_validate(upload(maxPages=pages))


@pytest.mark.parametrize("pages", [1, 500])
def test_max_pages_at_its_bounds_is_accepted(pages: int) -> None:
    assert UploadContract.model_validate(upload(maxPages=pages)).max_pages == pages


def test_the_wire_upload_names_max_pages_only_where_pdf_is_accepted() -> None:
    photos = next(d for d in system_definitions() if d.slug == "compliance-vm")
    documents = next(d for d in system_definitions() if d.slug == "document-ocr")

    assert "maxPages" not in photos.upload_json
    assert documents.upload_json["maxPages"] == 20


def test_compliance_checks_refuse_pdf() -> None:
    photos = next(d for d in system_definitions() if d.slug == "compliance-vm")
    data = photos.model_dump(by_alias=True)
    data["upload"] = upload()

    with pytest.raises(ValidationError, match="compliance-vm checks photos"):
        WorkflowDefinition.model_validate(data)
