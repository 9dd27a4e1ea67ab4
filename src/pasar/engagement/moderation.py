"""Moderation on the database: blocked terms, mutes and bans, the moderation log.

The text rules themselves (folding, globs) are ``pasar.engagement.rules``; what
the chat path reads of all this per message is kept in memory by
``pasar.engagement.standing`` (call ``Standings.changed`` after a change commits).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.db.tenancy import get_owned
from pasar.engagement.errors import EngagementError
from pasar.engagement.models import BlockedTerm, ChatMessageRow, ModerationLog, Sanction
from pasar.ids import new_id

# -- blocked terms -----------------------------------------------------------------


async def add_blocked_term(
    db: AsyncSession, vendor_id: str, show_id: str | None, kind: str, term: str, actor: str
) -> BlockedTerm:
    row = BlockedTerm(
        id=new_id("blk"),
        vendor_id=vendor_id,
        show_id=show_id,
        kind=kind,
        term=term,
        created_at=utcnow(),
    )
    db.add(row)
    try:
        await db.flush()
    except IntegrityError as exc:
        raise EngagementError("conflict", "term_exists", "this term is already blocked") from exc
    await log(db, vendor_id, show_id, actor, "term.add", None, {"kind": kind, "term": term})
    return row


async def list_blocked_terms(
    db: AsyncSession, vendor_id: str, show_id: str | None
) -> list[BlockedTerm]:
    stmt = select(BlockedTerm).where(BlockedTerm.vendor_id == vendor_id)
    if show_id is not None:
        stmt = stmt.where(BlockedTerm.show_id == show_id)
    return list((await db.execute(stmt.order_by(BlockedTerm.id))).scalars())


async def remove_blocked_term(db: AsyncSession, vendor_id: str, term_id: str, actor: str) -> None:
    row = await get_owned(
        db, BlockedTerm, vendor_id, term_id, EngagementError.not_found("blocked term")
    )
    await db.delete(row)
    await log(db, vendor_id, row.show_id, actor, "term.remove", None, {"term": row.term})
    await db.flush()


# -- sanctions -------------------------------------------------------------------


def _active(now: datetime) -> Any:
    return and_(Sanction.lifted_at.is_(None), or_(Sanction.until.is_(None), Sanction.until > now))


async def banned_subjects(db: AsyncSession, vendor_id: str, show_id: str) -> set[str]:
    """Everyone banned from this show (vendor-wide bans included), by shopper id."""
    rows = await db.execute(
        select(Sanction.subject).where(
            Sanction.vendor_id == vendor_id,
            or_(Sanction.show_id.is_(None), Sanction.show_id == show_id),
            Sanction.banned.is_(True),
            _active(utcnow()),
        )
    )
    return {subject for (subject,) in rows}


async def sanction(
    db: AsyncSession,
    vendor_id: str,
    show_id: str | None,
    subject: str,
    *,
    minutes: int | None,
    banned: bool,
    reason: str,
    actor: str,
) -> Sanction:
    if not subject.startswith(("guest:", "shopper:")):
        raise EngagementError("invalid", "invalid_subject", "only guests and shoppers can be muted")
    # A guest's IP comes from their latest message, so clearing storage does not help.
    ip = None
    if subject.startswith("guest:"):
        ip = (
            await db.execute(
                select(ChatMessageRow.author_ip)
                .where(ChatMessageRow.vendor_id == vendor_id, ChatMessageRow.author_id == subject)
                .order_by(ChatMessageRow.id.desc())
                .limit(1)
            )
        ).scalar_one_or_none()
    now = utcnow()
    row = Sanction(
        id=new_id("snc"),
        vendor_id=vendor_id,
        show_id=show_id,
        subject=subject,
        ip=ip,
        banned=banned,
        reason=reason,
        until=now + timedelta(minutes=minutes) if minutes else None,
        created_by=actor,
        created_at=now,
    )
    db.add(row)
    await log(
        db,
        vendor_id,
        show_id,
        actor,
        "user.ban" if banned else "user.mute",
        subject,
        {"minutes": minutes, "reason": reason},
    )
    await db.flush()
    return row


async def list_sanctions(db: AsyncSession, vendor_id: str, show_id: str) -> list[Sanction]:
    rows = await db.execute(
        select(Sanction)
        .where(
            Sanction.vendor_id == vendor_id,
            or_(Sanction.show_id.is_(None), Sanction.show_id == show_id),
            _active(utcnow()),
        )
        .order_by(Sanction.id)
    )
    return list(rows.scalars())


async def lift_sanction(
    db: AsyncSession, vendor_id: str, sanction_id: str, actor: str, *, show_id: str | None = None
) -> Sanction:
    """With ``show_id``, only a sanction that applies there: the show's own or a
    vendor-wide one (what ``list_sanctions`` shows for it)."""
    applies = (
        [] if show_id is None else [or_(Sanction.show_id.is_(None), Sanction.show_id == show_id)]
    )
    missing = EngagementError.not_found("sanction")
    row = await get_owned(db, Sanction, vendor_id, sanction_id, missing, *applies)
    if row.lifted_at is None:
        row.lifted_at = utcnow()
        await log(db, vendor_id, row.show_id, actor, "user.unmute", row.subject, {})
        await db.flush()
    return row


# -- the log -----------------------------------------------------------------------


async def log(
    db: AsyncSession,
    vendor_id: str,
    show_id: str | None,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any],
) -> None:
    db.add(
        ModerationLog(
            id=new_id("mod"),
            vendor_id=vendor_id,
            show_id=show_id,
            actor=actor,
            action=action,
            target=target,
            details=details,
            created_at=utcnow(),
        )
    )


async def moderation_log(
    db: AsyncSession, vendor_id: str, show_id: str | None, limit: int
) -> list[ModerationLog]:
    stmt = select(ModerationLog).where(ModerationLog.vendor_id == vendor_id)
    if show_id:
        stmt = stmt.where(ModerationLog.show_id == show_id)
    return list((await db.execute(stmt.order_by(ModerationLog.id.desc()).limit(limit))).scalars())
