"""Polls on the database: start, vote, count and close.

Callers publish ``poll.started`` / ``poll.closed`` after the transaction commits;
``pasar.engagement.tending`` closes polls on time and refreshes live results.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.db.tenancy import get_owned
from pasar.engagement import moderation
from pasar.engagement.errors import EngagementError
from pasar.engagement.models import PollRow, PollVoteRow
from pasar.engagement.rules import clean_text
from pasar.ids import new_id


def poll_data(poll: PollRow, counts: list[int]) -> dict[str, Any]:
    return {
        "id": poll.id,
        "question": poll.question,
        "options": [{"text": t, "votes": c} for t, c in zip(poll.options, counts, strict=True)],
        "closes_at": poll.closes_at.isoformat().replace("+00:00", "Z"),
        "closed": poll.closed_at is not None,
    }


async def start_poll(
    db: AsyncSession,
    vendor_id: str,
    show_id: str,
    question: str,
    options: list[str],
    duration_seconds: int,
    actor: str,
) -> PollRow:
    if await open_poll(db, vendor_id, show_id) is not None:
        raise EngagementError("conflict", "poll_running", "close the running poll first")
    now = utcnow()
    poll = PollRow(
        id=new_id("poll"),
        vendor_id=vendor_id,
        show_id=show_id,
        question=clean_text(question),
        options=[clean_text(o) for o in options],
        created_at=now,
        closes_at=now + timedelta(seconds=duration_seconds),
    )
    db.add(poll)
    await moderation.log(db, vendor_id, show_id, actor, "poll.start", None, {"poll_id": poll.id})
    await db.flush()
    return poll


async def open_poll(db: AsyncSession, vendor_id: str, show_id: str) -> PollRow | None:
    return (
        (
            await db.execute(
                select(PollRow).where(
                    PollRow.vendor_id == vendor_id,
                    PollRow.show_id == show_id,
                    PollRow.closed_at.is_(None),
                )
            )
        )
        .scalars()
        .first()
    )


async def get_poll(db: AsyncSession, vendor_id: str, show_id: str, poll_id: str) -> PollRow:
    missing = EngagementError.not_found("poll")
    return await get_owned(db, PollRow, vendor_id, poll_id, missing, PollRow.show_id == show_id)


async def list_polls(db: AsyncSession, vendor_id: str, show_id: str) -> list[PollRow]:
    rows = await db.execute(
        select(PollRow)
        .where(PollRow.vendor_id == vendor_id, PollRow.show_id == show_id)
        .order_by(PollRow.id)
    )
    return list(rows.scalars())


async def poll_counts(db: AsyncSession, poll: PollRow) -> list[int]:
    if poll.results is not None:
        return list(poll.results)
    rows = await db.execute(
        select(PollVoteRow.option, func.count())
        .where(PollVoteRow.poll_id == poll.id)
        .group_by(PollVoteRow.option)
    )
    counts = [0] * len(poll.options)
    for option, n in rows:
        if 0 <= option < len(counts):
            counts[option] = int(n)
    return counts


async def vote(db: AsyncSession, poll: PollRow, voter: str, option: int) -> None:
    if poll.closed_at is not None or poll.closes_at <= utcnow():
        raise EngagementError("conflict", "poll_closed", "this poll has closed")
    if not 0 <= option < len(poll.options):
        raise EngagementError("invalid", "invalid_option", "no such option")
    db.add(
        PollVoteRow(
            id=new_id("vote"),
            vendor_id=poll.vendor_id,
            poll_id=poll.id,
            voter=voter,
            option=option,
            created_at=utcnow(),
        )
    )
    try:
        await db.flush()
    except IntegrityError as exc:
        raise EngagementError("conflict", "already_voted", "you have voted in this poll") from exc


async def close_poll(db: AsyncSession, poll: PollRow, actor: str) -> bool:
    """Close once: the conditional update lets one node win when several try."""
    counts = await poll_counts(db, poll)
    now = utcnow()
    result = await db.execute(
        update(PollRow)
        .where(PollRow.id == poll.id, PollRow.closed_at.is_(None))
        .values(closed_at=now, results=counts)
    )
    if not getattr(result, "rowcount", 0):
        return False
    await db.refresh(poll)
    await moderation.log(
        db, poll.vendor_id, poll.show_id, actor, "poll.close", None, {"poll_id": poll.id}
    )
    await db.flush()
    return True


async def expired_polls(db: AsyncSession, show_ids: list[str]) -> list[PollRow]:
    if not show_ids:
        return []
    rows = await db.execute(
        select(PollRow).where(
            PollRow.show_id.in_(show_ids),
            PollRow.closed_at.is_(None),
            PollRow.closes_at <= utcnow(),
        )
    )
    return list(rows.scalars())


async def open_polls(db: AsyncSession, show_ids: list[str]) -> list[PollRow]:
    if not show_ids:
        return []
    rows = await db.execute(
        select(PollRow).where(PollRow.show_id.in_(show_ids), PollRow.closed_at.is_(None))
    )
    return list(rows.scalars())
