"""Tables of engagement: chat messages and settings, moderation, polls."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pasar.db.base import Base, TenantMixin, UTCDateTime, parent_id


class ChatMessageRow(TenantMixin, Base):
    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_show_created", "show_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str] = parent_id("shows.id", nullable=False)
    author_id: Mapped[str] = mapped_column(String(80), nullable=False)
    author_name: Mapped[str] = mapped_column(String(60), nullable=False)
    author_role: Mapped[str] = mapped_column(String(10), nullable=False)
    author_ip: Mapped[str | None] = mapped_column(String(45), nullable=True)
    text: Mapped[str] = mapped_column(String(1200), nullable=False)
    # visible | held (waiting for approval) | deleted | rejected (blocked words)
    status: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ChatSettings(TenantMixin, Base):
    """Per-show chat rules. A show without a row uses the defaults."""

    __tablename__ = "chat_settings"

    show_id: Mapped[str] = parent_id("shows.id", primary_key=True)
    slow_mode_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    hold_for_approval: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    pinned_message_id: Mapped[str | None] = mapped_column(String(40), nullable=True)


class BlockedTerm(TenantMixin, Base):
    """A word, phrase or pattern refused in chat, vendor-wide or for one show."""

    __tablename__ = "blocked_terms"
    __table_args__ = (UniqueConstraint("vendor_id", "show_id", "kind", "term"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str | None] = parent_id("shows.id", nullable=True)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)  # word | pattern
    term: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class Sanction(TenantMixin, Base):
    """A mute (cannot chat) or ban (cannot connect) of a shopper.

    ``subject`` is the shopper's id ('shopper:…' follows the account, 'guest:…'
    the device); ``ip`` catches a banned guest who clears their storage."""

    __tablename__ = "sanctions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str | None] = parent_id("shows.id", nullable=True)
    subject: Mapped[str] = mapped_column(String(80), index=True, nullable=False)
    ip: Mapped[str | None] = mapped_column(String(45), nullable=True, index=True)
    banned: Mapped[bool] = mapped_column(Boolean, nullable=False)
    reason: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class ModerationLog(TenantMixin, Base):
    __tablename__ = "moderation_log"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(80), nullable=False)
    action: Mapped[str] = mapped_column(String(40), nullable=False)
    target: Mapped[str | None] = mapped_column(String(80), nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class PollRow(TenantMixin, Base):
    __tablename__ = "polls"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    show_id: Mapped[str] = parent_id("shows.id", index=True, nullable=False)
    question: Mapped[str] = mapped_column(String(200), nullable=False)
    options: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    # Final counts, written when the poll closes.
    results: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PollVoteRow(TenantMixin, Base):
    __tablename__ = "poll_votes"
    __table_args__ = (UniqueConstraint("poll_id", "voter"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    poll_id: Mapped[str] = parent_id("polls.id", index=True, nullable=False)
    voter: Mapped[str] = mapped_column(String(80), nullable=False)
    option: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
