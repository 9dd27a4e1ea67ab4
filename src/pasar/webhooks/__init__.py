"""Webhooks (Standard Webhooks): endpoints, the outbox, signing and delivery.

Other domains emit events with ``enqueue(db, vendor_id, event_type, data)`` inside
their own transaction; the ``Dispatcher`` on ``Services`` sends them.
"""

from pasar.webhooks.events import EVENT_TYPES
from pasar.webhooks.outbox import enqueue, enqueue_many

__all__ = ["EVENT_TYPES", "enqueue", "enqueue_many"]
