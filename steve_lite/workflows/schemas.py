"""The workflow definition: what a version file holds and what ``publish`` validates."""

from __future__ import annotations

from functools import cached_property
from typing import Any, Literal, TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from steve_lite.formats import FORMATS
from steve_lite.pagination import Pagination

PROCESSORS = ("document-ocr", "receipt-ocr", "compliance-vm")


class WireModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields refused in definitions."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


PDF = "application/pdf"
DEFAULT_MAX_PAGES = 20


class UploadContract(WireModel):
    min_files: int = Field(ge=1, le=100)
    max_files: int = Field(ge=1, le=100)
    accepted_formats: list[str] = Field(min_length=1)
    file_labels: list[str] = Field(min_length=1)
    max_file_size_mb: float = Field(gt=0, le=100)
    max_pages: int | None = Field(None, ge=1, le=500)
    """The most pages a session's files may have together (an image is one page, a PDF as many
    as it has); only for versions that accept PDF, where it defaults to 20."""

    @field_validator("accepted_formats")
    @classmethod
    def _known_formats(cls, value: list[str]) -> list[str]:
        unknown = [fmt for fmt in value if fmt not in FORMATS]
        if unknown:
            raise ValueError(f"unsupported formats {unknown}; use {sorted(FORMATS)}")
        return value

    @model_validator(mode="after")
    def _files_in_order(self) -> UploadContract:
        if self.min_files > self.max_files:
            raise ValueError("minFiles must not exceed maxFiles")
        if PDF in self.accepted_formats:
            if self.max_pages is None:
                self.max_pages = DEFAULT_MAX_PAGES
        elif self.max_pages is not None:
            raise ValueError(f"maxPages applies only to versions that accept {PDF}")
        return self

    def label_for(self, file_index: int) -> str:
        """The label of file ``file_index``: labels repeat their last entry."""
        return self.file_labels[min(file_index, len(self.file_labels) - 1)]


class OutputField(WireModel):
    name: str = Field(min_length=1)
    label: str
    type: Literal["string", "number", "integer", "boolean", "date", "array", "object"]
    required: bool = False
    description: str = ""
    validation: dict[str, Any] | None = None


class WorkflowDefinition(WireModel):
    """One version of a workflow, as published (system catalog files and ``publish FILE``)."""

    slug: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=64)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    icon: str | None = None
    color: str | None = None
    processor: Literal["document-ocr", "receipt-ocr", "compliance-vm"]
    upload: UploadContract
    output_schema: list[OutputField]
    output_json_schema: dict[str, Any]
    min_confidence: float = Field(0.0, ge=0, le=1)
    compliance: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _photos_are_images(self) -> WorkflowDefinition:
        if self.processor == "compliance-vm" and PDF in self.upload.accepted_formats:
            raise ValueError(f"compliance-vm checks photos: {PDF} is not accepted")
        return self

    @cached_property
    def upload_json(self) -> UploadJson:
        """The upload contract as it goes on the wire (shared: do not modify); ``maxPages`` only
        where the version accepts PDF."""
        return cast(UploadJson, self.upload.model_dump(by_alias=True, exclude_none=True))

    def required_fields(self) -> list[str]:
        return [field.name for field in self.output_schema if field.required]


class UploadJsonBase(TypedDict):
    minFiles: int
    maxFiles: int
    acceptedFormats: list[str]
    fileLabels: list[str]
    maxFileSizeMb: float


class UploadJson(UploadJsonBase, total=False):
    """The upload contract on the wire; ``maxPages`` only on versions that accept PDF (a
    ``total=False`` class, not ``NotRequired``: Python 3.11 misses ``NotRequired`` in the
    string annotations of ``from __future__ import annotations``)."""

    maxPages: int


class WorkflowSummary(TypedDict):
    id: str
    slug: str
    name: str
    description: str
    icon: str | None
    color: str | None
    publishedVersion: int
    contractUrl: str
    upload: UploadJson


class WorkflowRef(TypedDict):
    id: str
    slug: str
    name: str
    description: str
    icon: str | None
    color: str | None


class OutputFieldJson(TypedDict):
    name: str
    label: str
    type: str
    required: bool
    description: str
    validation: dict[str, Any] | None


class WorkflowVersionJson(TypedDict):
    workflow: WorkflowRef
    version: int
    upload: UploadJson
    outputSchema: list[OutputFieldJson]
    outputJsonSchema: dict[str, Any]


class WorkflowPage(TypedDict):
    data: list[WorkflowSummary]
    pagination: Pagination
