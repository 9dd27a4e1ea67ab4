"""Every real-time event of a show, with its schema: the single source for
``docs/realtime.md`` and the embed's TypeScript types.

Server → client events travel in an envelope ``{"type", "data", …}``. Events
that are history (chat, pins, deals, polls, state) also carry ``epoch`` and
``offset`` and can be replayed on resume; *state* events (``like.count``,
``viewers.count``, ``poll.results``) carry no offset: each one supersedes the
last, and a resume or snapshot brings the current value. Direct events
(``user.muted``, ``error``, ``ack``) go to one shopper's connections only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

# -- shared pieces ---------------------------------------------------------


class Author(BaseModel):
    id: str = Field(description="'guest:…', 'shopper:…' (vouched by the vendor) or 'staff:…'.")
    name: str
    role: Literal["guest", "shopper", "staff"]


class ChatMessage(BaseModel):
    id: str
    author: Author
    text: str = Field(description="Plain text; render it as text, never as HTML.")
    links: bool = Field(description="True when links in the text may be made clickable (staff).")
    ts: datetime


class PollOption(BaseModel):
    text: str
    votes: int


class Poll(BaseModel):
    id: str
    question: str
    options: list[PollOption]
    closes_at: datetime
    closed: bool


# -- server → client: history events (epoch + offset) -----------------------


class ChatMessageData(ChatMessage):
    pass


class ChatDeletedData(BaseModel):
    id: str


class ChatPinnedData(BaseModel):
    message: ChatMessage | None = Field(description="null when the pin was removed.")


class ShowStateData(BaseModel):
    state: Literal["scheduled", "live", "ended", "replay"]


class StreamStatusData(BaseModel):
    status: Literal["live", "reconnecting", "ended"] = Field(
        description="'reconnecting': the host's stream dropped; the show is still on."
    )


class PinnedVariant(BaseModel):
    id: str
    title: str = Field(description="The option values joined, e.g. 'M / Red'; '' for one variant.")
    price: int = Field(description="Minor units of the product's currency.")
    compare_at_price: int | None
    available: bool = Field(description="False: sold out, show it as such.")


class PinnedProduct(BaseModel):
    id: str
    title: str
    url: str | None = Field(description="The product's page on the vendor's site.")
    image_url: str | None
    currency: str
    variants: list[PinnedVariant]


class ProductPinnedData(BaseModel):
    product_id: str
    pin_id: str
    pinned_at: datetime
    product: PinnedProduct


class ProductUnpinnedData(BaseModel):
    product_id: str
    pin_id: str


class DealData(BaseModel):
    """A flash deal. Sent when it is announced: claims open at ``starts_at``
    (show a countdown while it is in the future) and close at ``ends_at``."""

    deal_id: str
    product_id: str
    variant_ids: list[str]
    title: str
    price: int = Field(description="Deal price per unit, minor units of `currency`.")
    currency: str
    quantity: int
    units_left: int
    per_shopper_limit: int
    signed_in_only: bool
    starts_at: datetime
    ends_at: datetime


class DealUpdatedData(BaseModel):
    deal_id: str
    units_left: int


class DealEndedData(BaseModel):
    deal_id: str
    reason: Literal["sold_out", "ended", "cancelled"]


class PollData(Poll):
    pass


class CouponPostedData(BaseModel):
    """Staff posted a coupon: show the code with a one-tap copy button."""

    coupon_id: str
    code: str = Field(description="What the shopper types at the shop's checkout.")
    description: str
    kind: Literal["percent", "fixed"]
    value: int = Field(description="percent: 1–100; fixed: minor units of `currency`.")
    currency: str | None = Field(description="null for a percentage.")
    ends_at: datetime | None = Field(description="null: no end date.")


# -- server → client: state and direct events --------------------------------


class CountData(BaseModel):
    count: int


class UserMutedData(BaseModel):
    until: datetime | None = Field(description="null: until lifted.")
    reason: str
    banned: bool


class WaitlistGrantedData(BaseModel):
    """Units came back and you were next in line: they are held for you."""

    deal_id: str
    reservation_id: str
    variant_id: str
    quantity: int
    expires_at: datetime


class AckData(BaseModel):
    ref: str | None = Field(description="The `ref` the client sent with its command.")
    status: Literal["ok", "held"] = Field(description="'held': waiting for a moderator.")
    id: str | None = None


class EmptyData(BaseModel):
    pass


class ErrorData(BaseModel):
    ref: str | None
    code: str
    message: str
    retry_after: float | None = None


class Me(BaseModel):
    id: str
    name: str
    role: Literal["guest", "shopper", "staff"]
    guest_token: str | None = Field(
        description="Send back as `guest` in the next `auth` frame (or as `X-Pasar-Guest`) to "
        "stay the same guest. Renewed on every connection: keep the latest."
    )


class SnapshotData(BaseModel):
    show_id: str
    state: Literal["scheduled", "live", "ended", "replay"]
    me: Me
    chat: list[ChatMessage] = Field(description="The last 50 visible messages, oldest first.")
    pinned_message: ChatMessage | None
    pinned_products: list[ProductPinnedData] = Field(description="Oldest pin first (at most 3).")
    deals: list[DealData] = Field(description="Deals announced and not yet ended.")
    poll: Poll | None
    viewers: int
    likes: int
    slow_mode_seconds: int


class ResetData(BaseModel):
    reason: Literal["epoch_changed", "too_old", "bad_position"]


# name → (schema, kind). kind: "history" (has offset), "state", "direct", "control".
EventKind = Literal["history", "state", "direct", "control"]
SERVER_EVENTS: dict[str, tuple[type[BaseModel], EventKind]] = {
    "snapshot": (SnapshotData, "control"),
    "reset": (ResetData, "control"),
    "chat.message": (ChatMessageData, "history"),
    "chat.deleted": (ChatDeletedData, "history"),
    "chat.pinned": (ChatPinnedData, "history"),
    "show.state": (ShowStateData, "history"),
    "stream.status": (StreamStatusData, "history"),
    "product.pinned": (ProductPinnedData, "history"),
    "product.unpinned": (ProductUnpinnedData, "history"),
    "deal.started": (DealData, "history"),
    "deal.updated": (DealUpdatedData, "history"),
    "deal.ended": (DealEndedData, "history"),
    "poll.started": (PollData, "history"),
    "poll.closed": (PollData, "history"),
    "coupon.posted": (CouponPostedData, "history"),
    "poll.results": (PollData, "state"),
    "like.count": (CountData, "state"),
    "viewers.count": (CountData, "state"),
    "user.muted": (UserMutedData, "direct"),
    "waitlist.granted": (WaitlistGrantedData, "direct"),
    "ack": (AckData, "direct"),
    "error": (ErrorData, "direct"),
    "pong": (EmptyData, "direct"),
}


class Envelope(BaseModel):
    """What every server → client event looks like on the wire."""

    type: str
    data: dict[str, Any]
    epoch: str | None = None
    offset: int | None = None


# -- client → server ---------------------------------------------------------


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ref: Annotated[str, Field(max_length=64)] | None = None


class Auth(Command):
    """The first frame of every connection, and only then: who is connecting.
    Credentials never go in the URL (URLs end up in logs). All fields optional:
    ``{"type": "auth"}`` is a new guest (or staff, by the studio's cookie)."""

    type: Literal["auth"]
    guest: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="A guest token from an earlier `me.guest_token`."
    )
    shopper: Annotated[str, Field(max_length=4000)] | None = Field(
        default=None, description="A shopper token the vendor's site signs (wins over `guest`)."
    )


class ChatSend(Command):
    type: Literal["chat.send"]
    text: Annotated[str, Field(min_length=1)]


class Like(Command):
    type: Literal["like"]
    count: Annotated[int, Field(ge=1, le=50)] = 1


class PollVote(Command):
    type: Literal["poll.vote"]
    poll_id: Annotated[str, Field(max_length=40)]
    option: Annotated[int, Field(ge=0, le=3)]


class Ping(Command):
    type: Literal["ping"]


class ChatDelete(Command):
    """Staff only."""

    type: Literal["chat.delete"]
    message_id: Annotated[str, Field(max_length=40)]


class ChatPin(Command):
    """Staff only. ``message_id`` null removes the pin."""

    type: Literal["chat.pin"]
    message_id: Annotated[str, Field(max_length=40)] | None


class ChatApprove(Command):
    """Staff only: publish a message held for approval."""

    type: Literal["chat.approve"]
    message_id: Annotated[str, Field(max_length=40)]


class UserMute(Command):
    """Staff only. ``minutes`` null: until lifted. ``ban`` also ends their connections."""

    type: Literal["user.mute"]
    user_id: Annotated[str, Field(max_length=80)]
    minutes: Annotated[int, Field(ge=1, le=60 * 24 * 365)] | None = None
    ban: bool = False
    reason: Annotated[str, Field(max_length=200)] = ""


ClientCommand = Annotated[
    Auth | ChatSend | Like | PollVote | Ping | ChatDelete | ChatPin | ChatApprove | UserMute,
    Field(discriminator="type"),
]
CLIENT_COMMANDS = TypeAdapter(list[ClientCommand] | ClientCommand)
AUTH_COMMAND = TypeAdapter(Auth)
STAFF_COMMANDS = frozenset({"chat.delete", "chat.pin", "chat.approve", "user.mute"})


def validate_server_event(event: dict[str, Any]) -> None:
    """Raise if ``event`` is not a valid envelope of a known type (tests use this)."""
    envelope = Envelope.model_validate(event)
    schema, kind = SERVER_EVENTS[envelope.type]
    schema.model_validate(envelope.data)
    if kind == "history" and (envelope.offset is None or envelope.epoch is None):
        raise ValueError(f"{envelope.type} must carry epoch and offset")
