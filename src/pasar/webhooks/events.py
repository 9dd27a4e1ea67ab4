"""The event types a webhook endpoint can subscribe to.

``webhook.test`` is sent only by ``POST /api/v1/webhooks/endpoints/{id}/test`` (to
that endpoint alone); every other type is enqueued by the domain that owns the change.
"""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "show.scheduled",
    "show.live",
    "show.ended",
    "replay.ready",
    "product.pinned",
    "product.unpinned",
    "deal.started",
    "deal.sold_out",
    "deal.ended",
    "reservation.created",
    "reservation.expired",
    "reservation.confirmed",
    "reservation.released",
    "order.attributed",
    "cart.checkout",
    "webhook.test",
)
