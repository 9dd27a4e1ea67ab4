"""``enqueue``/``enqueue_many``: how every domain emits a webhook event (the outbox).

The message and its deliveries are added to the caller's session and never committed
here, so they exist exactly when the caller's change does. After committing, the
caller may call ``services.webhooks.nudge()`` so this node sends at once instead of
at its next poll.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import as_utc, utcnow
from pasar.ids import id_at, new_id
from pasar.webhooks.events import EVENT_TYPES
from pasar.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage


def iso(value: datetime) -> str:
    """UTC ISO 8601 with a Z and milliseconds, the one time format payloads use."""
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def render(event_type: str, data: Mapping[str, Any], at: datetime) -> str:
    """The Standard Webhooks payload, serialised once: every attempt sends these bytes."""
    payload = {"type": event_type, "timestamp": iso(at), "data": data}
    return json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":"))


async def add_message(
    db: AsyncSession,
    vendor_id: str,
    event_type: str,
    data: Mapping[str, Any],
    endpoint_ids: list[str],
) -> list[WebhookDelivery]:
    """Write one message with a pending, due-now delivery to each endpoint given."""
    return await _add_messages(db, vendor_id, [(event_type, data, endpoint_ids)])


async def _add_messages(
    db: AsyncSession, vendor_id: str, messages: Sequence[tuple[str, Mapping[str, Any], list[str]]]
) -> list[WebhookDelivery]:
    now = utcnow()
    rows = [
        WebhookMessage(
            id=new_id("msg"),
            vendor_id=vendor_id,
            event_type=event_type,
            body=render(event_type, data, now),
            created_at=now,
        )
        for event_type, data, _ in messages
    ]
    db.add_all(rows)
    await db.flush()  # no relationship orders the inserts: the messages go first
    deliveries = [
        WebhookDelivery(
            id=new_id("dlv"),
            vendor_id=vendor_id,
            message_id=message.id,
            endpoint_id=endpoint_id,
            event_type=message.event_type,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            next_trigger="scheduled",
            created_at=now,
        )
        for message, (_, _, endpoint_ids) in zip(rows, messages, strict=True)
        for endpoint_id in endpoint_ids
    ]
    db.add_all(deliveries)
    await db.flush()
    return deliveries


async def enqueue(
    db: AsyncSession, vendor_id: str, event_type: str, data: Mapping[str, Any]
) -> int:
    """Emit ``event_type`` to every enabled endpoint of the vendor subscribed to it, in
    the caller's transaction (no commit); the messages queued (0 or 1). A vendor without
    such endpoints costs one indexed SELECT and writes nothing."""
    return await enqueue_many(db, vendor_id, [(event_type, data)])


async def enqueue_many(
    db: AsyncSession, vendor_id: str, events: Sequence[tuple[str, Mapping[str, Any]]]
) -> int:
    """``enqueue`` for several events of one vendor with one look at its endpoints
    (a flash sale's group commit records hundreds of reservations at once); the
    messages queued (0: nothing for the dispatcher to send)."""
    for event_type, _ in events:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown webhook event type {event_type!r}")  # a typo in the caller
    if not events:
        return 0
    rows = await db.execute(
        select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
            WebhookEndpoint.vendor_id == vendor_id, WebhookEndpoint.enabled.is_(True)
        )
    )
    endpoints = list(rows)
    messages = [
        (event_type, data, targets)
        for event_type, data in events
        if (targets := [endpoint_id for endpoint_id, types in endpoints if event_type in types])
    ]
    if messages:
        await _add_messages(db, vendor_id, messages)
    return len(messages)


async def message_bodies(db: AsyncSession, message_ids: set[str]) -> dict[str, str]:
    rows = await db.execute(
        select(WebhookMessage.id, WebhookMessage.body).where(WebhookMessage.id.in_(message_ids))
    )
    return {message_id: body for message_id, body in rows}


async def purge(db: AsyncSession, before: datetime) -> int:
    """Delete messages created before ``before`` (their deliveries and attempts go by
    cascade) unless one is still waiting to be sent. Ids are time-sortable ULIDs, so
    "older than" is a primary-key range, no extra index."""
    boundary = id_at("msg", before)
    waiting = exists().where(
        WebhookDelivery.message_id == WebhookMessage.id,
        WebhookDelivery.next_attempt_at.is_not(None),
    )
    result = await db.execute(delete(WebhookMessage).where(WebhookMessage.id < boundary, ~waiting))
    return int(getattr(result, "rowcount", 0) or 0)
