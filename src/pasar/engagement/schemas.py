"""REST shapes of engagement (chat, moderation, polls, the shopper secret)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from pasar.realtime.events import ChatMessage, Poll
from pasar.validation import Strict


class ChatMessageOut(ChatMessage):
    status: Literal["visible", "held", "deleted", "rejected"]


class ChatPage(BaseModel):
    data: list[ChatMessageOut]


class ChatPostIn(Strict):
    text: Annotated[str, Field(min_length=1, max_length=300)]


class PinIn(Strict):
    message_id: Annotated[str, Field(max_length=40)] | None


class ChatSettingsIn(Strict):
    slow_mode_seconds: Annotated[int, Field(ge=0, le=3600)] | None = None
    hold_for_approval: bool | None = None


class ChatSettingsOut(BaseModel):
    slow_mode_seconds: int
    hold_for_approval: bool
    pinned_message_id: str | None


class SanctionIn(Strict):
    user_id: Annotated[str, Field(min_length=7, max_length=80, pattern=r"^(guest|shopper):")]
    minutes: Annotated[int, Field(ge=1, le=525_600)] | None = Field(
        default=None, description="Leave out for 'until lifted'."
    )
    ban: bool = Field(default=False, description="A ban also disconnects and keeps them out.")
    reason: Annotated[str, Field(max_length=200)] = ""
    vendor_wide: bool = Field(
        default=False, description="Every show of the vendor, not just this one."
    )


class SanctionOut(BaseModel):
    id: str
    show_id: str | None
    user_id: str
    banned: bool
    reason: str
    until: datetime | None
    created_by: str
    created_at: datetime


class BlockedTermIn(Strict):
    kind: Literal["word", "pattern"] = Field(
        default="word",
        description=(
            "word: whole words, folded (case, accents, leetspeak); pattern: a glob with * and ?."
        ),
    )
    term: Annotated[str, Field(min_length=1, max_length=200)]
    show_id: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="Only this show; leave out for every show of the vendor."
    )


class BlockedTermOut(BaseModel):
    id: str
    kind: str
    term: str
    show_id: str | None
    created_at: datetime


class ModerationEntry(BaseModel):
    id: str
    show_id: str | None
    actor: str
    action: str
    target: str | None
    details: dict[str, object]
    created_at: datetime


class PollIn(Strict):
    question: Annotated[str, Field(min_length=1, max_length=200)]
    options: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=80)]], Field(min_length=2, max_length=4)
    ]
    duration_seconds: Annotated[int, Field(ge=10, le=3600)] = 60


class PollOut(Poll):
    pass


class ShopperSecretOut(BaseModel):
    secret: str = Field(description="Sign shopper tokens (JWT HS256: sub, name, exp) with it.")
