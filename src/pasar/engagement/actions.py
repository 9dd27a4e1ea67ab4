"""What a moderator changes for everyone, end to end: change, commit, then publish.

The show socket and the REST API both come through here, so a moderator's
action reaches viewers the same way whichever door it came in by, and never
before its transaction has committed. (Messages go through ``ingest``.)
"""

from __future__ import annotations

from pasar.db.engine import Database
from pasar.engagement import chat, moderation
from pasar.engagement.standing import Standings
from pasar.realtime.engine import Realtime
from pasar.realtime.events import ChatApprove, ChatDelete, ChatPin, UserMute

StaffCommand = ChatDelete | ChatPin | ChatApprove | UserMute


async def staff_action(
    database: Database,
    realtime: Realtime,
    vendor_id: str,
    show_id: str,
    actor: str,
    command: StaffCommand,
    standings: Standings,
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
                await standings.changed(vendor_id)
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
