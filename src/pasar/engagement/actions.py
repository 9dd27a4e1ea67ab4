"""What changes chat for everyone, end to end: change, commit, then publish.

The show socket and the REST API both come through here, so a message or a
moderator's action reaches viewers the same way whichever door it came in by,
and never before its transaction has committed.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from pasar.db.engine import Database
from pasar.engagement import chat, moderation
from pasar.engagement.errors import SlowModeWait
from pasar.engagement.identity import Identity
from pasar.realtime.engine import Realtime
from pasar.realtime.events import ChatApprove, ChatDelete, ChatPin, UserMute

StaffCommand = ChatDelete | ChatPin | ChatApprove | UserMute


async def send_message(
    db: AsyncSession,
    realtime: Realtime,
    vendor_id: str,
    show_id: str,
    who: Identity,
    ip: str | None,
    text: str,
) -> chat.Posted:
    """Post, commit, then publish a visible message (a held or rejected one is
    for its sender alone). Raises ``SlowModeWait`` when a shopper is early."""
    if not who.is_staff:
        interval = (await chat.chat_settings(db, vendor_id, show_id)).slow_mode_seconds
        wait = realtime.slow_mode.wait(show_id, who.id, interval)
        if wait:
            raise SlowModeWait(interval, wait)
    posted = await chat.post_message(db, vendor_id, show_id, who, ip, text)
    await db.commit()
    if posted.status == "visible":
        await realtime.publish(show_id, "chat.message", chat.message_data(posted.row))
    return posted


async def staff_action(
    database: Database,
    realtime: Realtime,
    vendor_id: str,
    show_id: str,
    actor: str,
    command: StaffCommand,
) -> None:
    """Delete, pin or approve a message, or mute a shopper: change, commit, publish.

    Works in a session of its own."""
    async with database.session() as db:
        match command:
            case ChatDelete():
                row, unpinned = await chat.delete_message(
                    db, vendor_id, show_id, command.message_id, actor
                )
                await db.commit()
                await realtime.publish(show_id, "chat.deleted", {"id": row.id})
                if unpinned:
                    await realtime.publish(show_id, "chat.pinned", {"message": None})
            case ChatPin():
                pinned = await chat.pin_message(db, vendor_id, show_id, command.message_id, actor)
                await db.commit()
                data = chat.message_data(pinned) if pinned else None
                await realtime.publish(show_id, "chat.pinned", {"message": data})
            case ChatApprove():
                row = await chat.approve_message(db, vendor_id, show_id, command.message_id, actor)
                await db.commit()
                await realtime.publish(show_id, "chat.message", chat.message_data(row))
            case UserMute():
                s = await moderation.sanction(
                    db,
                    vendor_id,
                    show_id,
                    command.user_id,
                    minutes=command.minutes,
                    banned=command.ban,
                    reason=command.reason,
                    actor=actor,
                )
                await db.commit()
                await realtime.send_to(
                    show_id,
                    command.user_id,
                    "user.muted",
                    {
                        "until": s.until.isoformat() if s.until else None,
                        "reason": s.reason,
                        "banned": s.banned,
                    },
                )
