"""Chat on the database: settings, posting, reading and staff changes to messages.

They return what happened; callers publish the resulting events through
``Realtime.publish`` after the transaction commits, never before
(``pasar.engagement.actions`` does both for the socket and the REST API).
Posting a message is ``pasar.engagement.ingest``'s: it stores a tick's
messages in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.db.tenancy import get_owned
from pasar.engagement import moderation
from pasar.engagement.errors import EngagementError
from pasar.engagement.identity import Identity
from pasar.engagement.models import ChatMessageRow, ChatSettings, Sanction
from pasar.engagement.rules import MAX_MESSAGE_CHARS, clean_text
from pasar.ids import new_id

SNAPSHOT_MESSAGES = 50


def message_data(row: ChatMessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "author": {"id": row.author_id, "name": row.author_name, "role": row.author_role},
        "text": row.text,
        "links": row.author_role == "staff",
        "ts": row.created_at.isoformat().replace("+00:00", "Z"),
    }


# -- settings ------------------------------------------------------------------------


async def chat_settings(db: AsyncSession, vendor_id: str, show_id: str) -> ChatSettings:
    row = await db.get(ChatSettings, show_id)
    if row is None or row.vendor_id != vendor_id:
        return ChatSettings(
            vendor_id=vendor_id,
            show_id=show_id,
            slow_mode_seconds=0,
            hold_for_approval=False,
            pinned_message_id=None,
        )
    return row


async def _settings_row(db: AsyncSession, vendor_id: str, show_id: str) -> ChatSettings:
    row = await db.get(ChatSettings, show_id)
    if row is None:
        row = ChatSettings(
            vendor_id=vendor_id, show_id=show_id, slow_mode_seconds=0, hold_for_approval=False
        )
        db.add(row)
    return row


async def update_chat_settings(
    db: AsyncSession, vendor_id: str, show_id: str, actor: str, **changes: Any
) -> ChatSettings:
    row = await _settings_row(db, vendor_id, show_id)
    for key, value in changes.items():
        if value is not None:
            setattr(row, key, value)
    await moderation.log(db, vendor_id, show_id, actor, "chat.settings", None, changes)
    await db.flush()
    return row


# -- messages ----------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    row: ChatMessageRow
    # visible: publish it; held: wait for a moderator; rejected: tell only the sender
    status: str
    rule: str | None = None


def checked_text(text: str) -> str:
    """The message as it will be stored, or the reason it cannot be."""
    text = clean_text(text)
    if not text:
        raise EngagementError("invalid", "empty_message", "the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise EngagementError(
            "invalid", "message_too_long", f"messages have at most {MAX_MESSAGE_CHARS} characters"
        )
    return text


def muted_error(muted: Sanction) -> EngagementError:
    return EngagementError(
        "forbidden",
        "muted",
        "you cannot chat in this show right now",
        {
            "until": muted.until.isoformat() if muted.until else None,
            "reason": muted.reason,
            "banned": muted.banned,
        },
    )


def new_message(
    vendor_id: str, show_id: str, who: Identity, ip: str | None, text: str, status: str
) -> ChatMessageRow:
    return ChatMessageRow(
        id=new_id("msg"),
        vendor_id=vendor_id,
        show_id=show_id,
        author_id=who.id,
        author_name=who.name,
        author_role=who.role,
        author_ip=ip,
        text=text,
        status=status,
        created_at=utcnow(),
    )


async def get_message(
    db: AsyncSession, vendor_id: str, show_id: str, message_id: str
) -> ChatMessageRow:
    missing = EngagementError.not_found("message")
    return await get_owned(
        db, ChatMessageRow, vendor_id, message_id, missing, ChatMessageRow.show_id == show_id
    )


async def recent_messages(
    db: AsyncSession, vendor_id: str, show_id: str, limit: int = SNAPSHOT_MESSAGES
) -> list[ChatMessageRow]:
    rows = await db.execute(
        select(ChatMessageRow)
        .where(
            ChatMessageRow.vendor_id == vendor_id,
            ChatMessageRow.show_id == show_id,
            ChatMessageRow.status == "visible",
        )
        .order_by(ChatMessageRow.id.desc())
        .limit(limit)
    )
    return list(reversed(list(rows.scalars())))


async def visible_after(
    db: AsyncSession, vendor_id: str, show_id: str, after: str | None, limit: int
) -> list[ChatMessageRow]:
    """Visible messages oldest first, after a message id (the replay's chat)."""
    stmt = select(ChatMessageRow).where(
        ChatMessageRow.vendor_id == vendor_id,
        ChatMessageRow.show_id == show_id,
        ChatMessageRow.status == "visible",
    )
    if after:
        stmt = stmt.where(ChatMessageRow.id > after)
    rows = await db.execute(stmt.order_by(ChatMessageRow.id).limit(limit))
    return list(rows.scalars())


async def list_messages(
    db: AsyncSession,
    vendor_id: str,
    show_id: str,
    status: str | None,
    before: str | None,
    limit: int,
) -> list[ChatMessageRow]:
    stmt = select(ChatMessageRow).where(
        ChatMessageRow.vendor_id == vendor_id, ChatMessageRow.show_id == show_id
    )
    if status:
        stmt = stmt.where(ChatMessageRow.status == status)
    if before:
        stmt = stmt.where(ChatMessageRow.id < before)
    rows = await db.execute(stmt.order_by(ChatMessageRow.id.desc()).limit(limit))
    return list(rows.scalars())


async def delete_message(
    db: AsyncSession, vendor_id: str, show_id: str, message_id: str, actor: str
) -> tuple[ChatMessageRow, bool]:
    """Returns the message and whether the pin was removed with it."""
    row = await get_message(db, vendor_id, show_id, message_id)
    row.status = "deleted"
    settings = await db.get(ChatSettings, show_id)
    unpinned = settings is not None and settings.pinned_message_id == message_id
    if unpinned and settings is not None:
        settings.pinned_message_id = None
    await moderation.log(
        db, vendor_id, show_id, actor, "chat.delete", row.author_id, {"message_id": row.id}
    )
    await db.flush()
    return row, unpinned


async def approve_message(
    db: AsyncSession, vendor_id: str, show_id: str, message_id: str, actor: str
) -> ChatMessageRow:
    row = await get_message(db, vendor_id, show_id, message_id)
    if row.status != "held":
        raise EngagementError("conflict", "not_held", f"the message is {row.status}, not held")
    row.status = "visible"
    await moderation.log(
        db, vendor_id, show_id, actor, "chat.approve", row.author_id, {"message_id": row.id}
    )
    await db.flush()
    return row


async def pin_message(
    db: AsyncSession, vendor_id: str, show_id: str, message_id: str | None, actor: str
) -> ChatMessageRow | None:
    row = None
    if message_id is not None:
        row = await get_message(db, vendor_id, show_id, message_id)
        if row.status != "visible":
            raise EngagementError("conflict", "not_visible", "only visible messages can be pinned")
    settings = await _settings_row(db, vendor_id, show_id)
    settings.pinned_message_id = message_id
    await moderation.log(
        db, vendor_id, show_id, actor, "chat.pin", None, {"message_id": message_id}
    )
    await db.flush()
    return row


async def pinned_message(db: AsyncSession, vendor_id: str, show_id: str) -> ChatMessageRow | None:
    settings = await chat_settings(db, vendor_id, show_id)
    if settings.pinned_message_id is None:
        return None
    row = await db.get(ChatMessageRow, settings.pinned_message_id)
    return row if row is not None and row.status == "visible" else None
