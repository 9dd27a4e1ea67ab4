"""Webhook tables: endpoints, the outbox of messages, deliveries and their attempts.

A message is written in the same transaction as the change it describes (the
transactional outbox), with one delivery per subscribed endpoint. Deliveries are the
work queue: ``next_attempt_at`` says when one is due (NULL once it succeeded or
failed for good), and claiming one pushes it forward by a lease, so a node that dies
mid-send leaves it due again rather than lost.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pasar.db.base import Base, TenantMixin, Timestamps, UTCDateTime, parent_id


class WebhookEndpoint(TenantMixin, Timestamps, Base):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False, default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # Why Pasar turned the endpoint off (410 Gone); NULL when on or turned off by people.
    disabled_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Sealed with the server secret (SecretBox) so owners can reveal it again.
    secret_sealed: Mapped[str] = mapped_column(String(400), nullable=False)
    # After a rotation the previous secret signs too, until previous_secret_until.
    previous_secret_sealed: Mapped[str | None] = mapped_column(String(400), nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WebhookMessage(TenantMixin, Base):
    """One event, as the exact bytes every attempt sends and signs."""

    __tablename__ = "webhook_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # msg_…: the webhook-id
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WebhookDelivery(TenantMixin, Base):
    """One message to one endpoint: pending → sending → succeeded | failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    message_id: Mapped[str] = parent_id("webhook_messages.id", index=True, nullable=False)
    endpoint_id: Mapped[str] = parent_id("webhook_endpoints.id", nullable=False)
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    status: Mapped[str] = mapped_column(String(12), nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Due when <= now; NULL when nothing more will be sent (succeeded or failed).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # What the next attempt is: scheduled (the first send, retries) | manual (redeliver).
    next_trigger: Mapped[str] = mapped_column(String(10), nullable=False, default="scheduled")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class WebhookAttempt(TenantMixin, Base):
    """One HTTP request of a delivery, for the delivery log."""

    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    delivery_id: Mapped[str] = parent_id("webhook_deliveries.id", index=True, nullable=False)
    # scheduled | manual, as the delivery's next_trigger was when it was sent
    trigger: Mapped[str] = mapped_column(String(10), nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    response_body: Mapped[str] = mapped_column(Text, nullable=False, default="")
