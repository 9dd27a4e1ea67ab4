"""The webhooks domain's public shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from pasar.validation import Strict
from pasar.webhooks.events import EVENT_TYPES


def _known(value: str) -> str:
    if value not in EVENT_TYPES:
        raise ValueError(f"unknown event type; one of: {', '.join(EVENT_TYPES)}")
    return value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


EventType = Annotated[
    str,
    Field(max_length=40, json_schema_extra={"enum": list(EVENT_TYPES)}),
    AfterValidator(_known),
]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(EVENT_TYPES) * 2),
    AfterValidator(_unique),
]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2048,
        description="http(s) URL that receives the events (https recommended).",
    ),
]
Description = Annotated[str, Field(max_length=500)]


class EndpointIn(Strict):
    url: Url
    description: Description = ""
    event_types: EventTypes = Field(description="What to send; at least one.")
    enabled: StrictBool = True

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "url": "https://toko.example/hooks/pasar",
                "description": "Order sync",
                "event_types": ["show.live", "reservation.confirmed"],
            }
        }
    )


class EndpointPatch(Strict):
    url: Url | None = None
    description: Description | None = None
    event_types: EventTypes | None = None
    enabled: StrictBool | None = Field(
        default=None,
        description="false stops deliveries (pending ones fail); true also clears disabled_reason.",
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = Field(description="Why Pasar turned it off (410 Gone).")
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until then the previous secret also signs."
    )
    created_at: datetime
    updated_at: datetime


class EndpointWithSecretOut(EndpointOut):
    secret: str = Field(description="whsec_…: verify signatures with it.")


class SecretOut(BaseModel):
    secret: str
    previous_secret_expires_at: datetime | None


class AttemptOut(BaseModel):
    id: str
    trigger: Literal["scheduled", "manual"]
    started_at: datetime
    duration_ms: int
    status_code: int | None = Field(description="The endpoint's answer; null on an error.")
    error: str | None = Field(description="Why there is no answer (timeout, refused …).")
    response_body: str = Field(description="The first 1 KiB of the answer's body.")


class DeliveryOut(BaseModel):
    id: str
    message_id: str = Field(description="The webhook-id header: the same on every attempt.")
    endpoint_id: str
    event_type: str
    status: Literal["pending", "sending", "succeeded", "failed"]
    attempt_count: int
    next_attempt_at: datetime | None
    created_at: datetime
    payload: dict[str, Any]
    attempts: list[AttemptOut]
