"""The shows domain's public shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from pasar.shows.states import ShowState
from pasar.validation import IsoDateTime, Strict

ProductIds = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=200)
]


class ShowIn(Strict):
    title: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] = ""
    scheduled_at: IsoDateTime | None = Field(
        default=None, description="UTC (any offset accepted, stored as UTC)."
    )
    host_user_id: Annotated[str, Field(max_length=40)] | None = None
    product_ids: ProductIds = Field(default_factory=list, description="The ordered line-up.")

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "title": "Harbolnas 12.12 Batik Live",
                "description": "New batik drops with flash deals every 15 minutes.",
                "scheduled_at": "2026-12-12T12:00:00Z",
                "product_ids": ["prod_01JDEMO0000000000000000000"],
            }
        }
    )


class ShowPatch(Strict):
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    scheduled_at: IsoDateTime | None = None
    host_user_id: Annotated[str, Field(max_length=40)] | None = None


class LineupIn(Strict):
    product_ids: ProductIds


class TransitionIn(Strict):
    to: ShowState


class LineupItem(BaseModel):
    product_id: str
    position: int


class ShowOut(BaseModel):
    id: str
    title: str
    description: str
    state: ShowState
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    host_user_id: str | None
    cover_url: str | None
    lineup: list[LineupItem]
    playback_url: str
    created_at: datetime
    updated_at: datetime


class IngestOut(BaseModel):
    whip_url: str
    stream_key: str
    rotated_at: datetime
    rtmp_url: str | None = Field(description="Only when an external media server is configured.")
