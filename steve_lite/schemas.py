"""Wire shapes shared by several features: the request-body base and the workflow pin."""

from __future__ import annotations

from typing import TypedDict

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class RequestModel(BaseModel):
    """camelCase request bodies; unknown fields are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class WorkflowPin(TypedDict):
    slug: str
    version: int
