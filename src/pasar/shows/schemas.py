"""The shows domain's public shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

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


class _ShowTimes(BaseModel):
    """What the studio's and the public's views of a show both say first."""

    id: str
    title: str
    description: str
    state: ShowState
    scheduled_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None


class ShowOut(_ShowTimes):
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


# -- the public show document (Storefront API, issue 11) ---------------------------


class PublicHostOut(BaseModel):
    display_name: str


class PublicVendorOut(BaseModel):
    name: str
    slug: str
    locale: str = Field(description="The vendor's default locale (BCP 47).")
    currency: str = Field(description="The vendor's default currency (ISO 4217).")
    brand_color: str | None = Field(description="Accent colour, #rrggbb; null: the player's own.")
    logo_url: str | None


class PublicImageOut(BaseModel):
    url: str
    alt: str
    width: int | None
    height: int | None


class PublicVariantOut(BaseModel):
    id: str
    sku: str | None = Field(description="The vendor's SKU: what its own cart knows the item by.")
    title: str = Field(description="The option values joined, e.g. 'M / Blue'.")
    options: dict[str, str] = Field(description="Option name → value.")
    price: int = Field(description="Integer minor units of the product's currency.")
    compare_at_price: int | None = Field(description="The usual price, to show struck through.")
    in_stock: bool
    low_stock: bool = Field(description="In stock, but 5 units or fewer: 'only a few left'.")


class PublicProductOut(BaseModel):
    id: str
    title: str
    description: str = Field(description="Plain text: render it as text, never as HTML.")
    url: str | None = Field(description="The product's page on the vendor's site.")
    currency: str
    options: list[str] = Field(description="The option axes in order, e.g. ['Size', 'Colour'].")
    images: list[PublicImageOut]
    variants: list[PublicVariantOut]


class ChapterOut(BaseModel):
    pin_id: str
    product_id: str
    pinned_at: datetime
    media_time: float | None = Field(description="Seconds into the replay; null: not recorded.")


class PlaybackOut(BaseModel):
    hls_url: str
    chapters: list[ChapterOut] = Field(
        description="Once the show has ended: a chapter at every pin (jump to media_time)."
    )


class PublicShowOut(_ShowTimes):
    cover_url: str | None
    host: PublicHostOut | None
    vendor: PublicVendorOut
    watch_url: str
    embed_url: str
    socket_url: str = Field(description="The show socket (docs/realtime.md).")
    playback: PlaybackOut
    lineup: list[PublicProductOut] = Field(description="In line-up order; only active products.")
    pinned_products: list[dict[str, Any]] = Field(
        description="On screen now: the socket snapshot's `pinned_products`."
    )
    deals: list[dict[str, Any]] = Field(
        description="Running flash deals: the socket snapshot's `deals`."
    )


class OEmbedOut(BaseModel):
    """oEmbed 1.0, type `rich` (https://oembed.com)."""

    version: Literal["1.0"] = "1.0"
    type: Literal["rich"] = "rich"
    title: str
    author_name: str
    provider_name: str
    provider_url: str
    html: str
    width: int
    height: int
    cache_age: int
    thumbnail_url: str | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None


class ReplayAuthorOut(BaseModel):
    id: str
    name: str
    role: Literal["guest", "shopper", "staff"]


class ReplayMessageOut(BaseModel):
    id: str
    author: ReplayAuthorOut
    text: str = Field(description="Plain text: render it as text, never as HTML.")
    links: bool
    ts: datetime
    media_time: float | None = Field(
        description="Seconds into the replay when it was sent; null: during a dropout."
    )


class ReplayChatPage(BaseModel):
    data: list[ReplayMessageOut]
    next_cursor: str | None = Field(description="Pass as `after` for the next page.")
