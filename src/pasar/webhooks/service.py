"""Endpoint and delivery operations, always scoped by vendor id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import as_utc, utcnow
from pasar.db.children import children_by_parent
from pasar.db.tenancy import get_owned
from pasar.ids import new_id
from pasar.pagination import Page, paginate
from pasar.vendors.credentials import SecretBox
from pasar.webhooks import signing
from pasar.webhooks.errors import WebhookError
from pasar.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from pasar.webhooks.outbox import add_message, message_bodies
from pasar.webhooks.schemas import EndpointIn, EndpointPatch
from pasar.webhooks.urls import check_url

# After a rotation the previous secret keeps signing this long, so receivers can
# switch to the new one without dropping a message.
ROTATION_OVERLAP = timedelta(hours=24)
TERMINAL = ("succeeded", "failed")


async def create_endpoint(
    db: AsyncSession, box: SecretBox, vendor_id: str, body: EndpointIn, *, allow_private: bool
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (in the clear: for the answer only)."""
    url = await check_url(body.url, allow_private=allow_private)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint(
        id=new_id("ep"),
        vendor_id=vendor_id,
        url=url,
        description=body.description,
        event_types=body.event_types,
        enabled=body.enabled,
        secret_sealed=box.seal(secret),
    )
    db.add(endpoint)
    await db.flush()
    return endpoint, secret


async def get_endpoint(db: AsyncSession, vendor_id: str, endpoint_id: str) -> WebhookEndpoint:
    missing = WebhookError.not_found("webhook endpoint")
    return await get_owned(db, WebhookEndpoint, vendor_id, endpoint_id, missing)


async def list_endpoints(
    db: AsyncSession, vendor_id: str, *, cursor: str | None, limit: int
) -> Page[WebhookEndpoint]:
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.vendor_id == vendor_id)
    return await paginate(db, stmt, WebhookEndpoint.id, cursor=cursor, limit=limit)


async def update_endpoint(
    db: AsyncSession, endpoint: WebhookEndpoint, body: EndpointPatch, *, allow_private: bool
) -> WebhookEndpoint:
    if body.url is not None:
        endpoint.url = await check_url(body.url, allow_private=allow_private)
    if body.description is not None:
        endpoint.description = body.description
    if body.event_types is not None:
        endpoint.event_types = body.event_types
    if body.enabled is True:
        endpoint.enabled, endpoint.disabled_reason = True, None
    elif body.enabled is False and endpoint.enabled:
        await disable(db, endpoint, None)
    await db.flush()
    return endpoint


async def delete_endpoint(db: AsyncSession, endpoint: WebhookEndpoint) -> None:
    await db.delete(endpoint)  # its deliveries and their attempts go by cascade
    await db.flush()


async def disable(db: AsyncSession, endpoint: WebhookEndpoint, reason: str | None) -> None:
    """Turn the endpoint off; deliveries waiting for it fail (redeliver brings any back
    once it is on again). One in flight records its answer, then fails too."""
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    await db.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == "pending",
        )
        .values(status="failed", next_attempt_at=None)
    )
    await db.flush()


def reveal_secret(box: SecretBox, endpoint: WebhookEndpoint) -> str:
    return box.open(endpoint.secret_sealed)


def previous_secret_expires_at(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    until = endpoint.previous_secret_until
    if endpoint.previous_secret_sealed is None or until is None or as_utc(until) <= now:
        return None
    return as_utc(until)


def signing_secrets(box: SecretBox, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and during a rotation's overlap the previous one too."""
    out = [box.open(endpoint.secret_sealed)]
    if previous_secret_expires_at(endpoint, now) and endpoint.previous_secret_sealed:
        out.append(box.open(endpoint.previous_secret_sealed))
    return out


async def rotate_secret(db: AsyncSession, box: SecretBox, endpoint: WebhookEndpoint) -> str:
    """A new secret; the current one signs as well for ROTATION_OVERLAP (a previous
    rotation's old secret, if still in its overlap, stops at once)."""
    secret = signing.new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_until = utcnow() + ROTATION_OVERLAP
    endpoint.secret_sealed = box.seal(secret)
    await db.flush()
    return secret


async def send_test(db: AsyncSession, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A ``webhook.test`` message to this endpoint alone, subscribed or not."""
    _require_enabled(endpoint)
    data = {"endpoint_id": endpoint.id, "message": "A test event from Pasar."}
    [delivery] = await add_message(db, endpoint.vendor_id, "webhook.test", data, [endpoint.id])
    return delivery


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise WebhookError(
            "conflict", "endpoint_disabled", "the endpoint is disabled; enable it first"
        )


# --- deliveries --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryView:
    """A delivery with what the log shows of it."""

    delivery: WebhookDelivery
    body: str
    attempts: list[WebhookAttempt]

    @property
    def id(self) -> str:
        return self.delivery.id

    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


async def _views(db: AsyncSession, deliveries: list[WebhookDelivery]) -> list[DeliveryView]:
    if not deliveries:
        return []
    ids = [d.id for d in deliveries]
    bodies = await message_bodies(db, {d.message_id for d in deliveries})
    attempts = await children_by_parent(
        db,
        WebhookAttempt,
        WebhookAttempt.delivery_id,
        ids,
        WebhookAttempt.started_at,
        WebhookAttempt.id,
    )
    return [DeliveryView(d, bodies[d.message_id], attempts[d.id]) for d in deliveries]


async def list_deliveries(
    db: AsyncSession,
    endpoint: WebhookEndpoint,
    *,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> Page[DeliveryView]:
    """The endpoint's deliveries, oldest first, each with its attempts."""
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.vendor_id == endpoint.vendor_id,
        WebhookDelivery.endpoint_id == endpoint.id,
    )
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    page = await paginate(db, stmt, WebhookDelivery.id, cursor=cursor, limit=limit)
    return Page(items=await _views(db, page.items), next_cursor=page.next_cursor)


async def get_delivery(db: AsyncSession, vendor_id: str, delivery_id: str) -> DeliveryView:
    missing = WebhookError.not_found("webhook delivery")
    delivery = await get_owned(db, WebhookDelivery, vendor_id, delivery_id, missing)
    return (await _views(db, [delivery]))[0]


async def redeliver(db: AsyncSession, view: DeliveryView) -> DeliveryView:
    """Make the delivery due now for one more attempt, whatever its state (one that
    had failed for good goes back to failed if this attempt fails too)."""
    delivery = view.delivery
    endpoint = await get_endpoint(db, delivery.vendor_id, delivery.endpoint_id)
    _require_enabled(endpoint)
    now = utcnow()
    lease = delivery.next_attempt_at
    if delivery.status == "sending" and lease is not None and as_utc(lease) > now:
        raise WebhookError(
            "conflict", "attempt_in_flight", "an attempt is being sent; try again in a minute"
        )
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.next_trigger = "manual"
    await db.flush()
    return view
