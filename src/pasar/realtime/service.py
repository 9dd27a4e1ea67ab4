"""Chat, moderation and poll operations on the database.

They return what happened; callers publish the resulting events through
``Realtime.publish`` after the transaction commits, never before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.ids import new_id
from pasar.realtime.errors import RealtimeError
from pasar.realtime.identity import Identity
from pasar.realtime.models import (
    BlockedTerm,
    ChatMessageRow,
    ChatSettings,
    ModerationLog,
    PollRow,
    PollVoteRow,
    Sanction,
)
from pasar.realtime.moderation import MAX_MESSAGE_CHARS, Rules, clean_text

SNAPSHOT_MESSAGES = 50


# -- serialisation shared by the socket and the REST API ----------------------


def message_data(row: ChatMessageRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "author": {"id": row.author_id, "name": row.author_name, "role": row.author_role},
        "text": row.text,
        "links": row.author_role == "staff",
        "ts": row.created_at.isoformat().replace("+00:00", "Z"),
    }


def poll_data(poll: PollRow, counts: list[int]) -> dict[str, Any]:
    return {
        "id": poll.id,
        "question": poll.question,
        "options": [{"text": t, "votes": c} for t, c in zip(poll.options, counts, strict=True)],
        "closes_at": poll.closes_at.isoformat().replace("+00:00", "Z"),
        "closed": poll.closed_at is not None,
    }


# -- settings and rules --------------------------------------------------------


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
    await log(db, vendor_id, show_id, actor, "chat.settings", None, changes)
    await db.flush()
    return row


async def rules(db: AsyncSession, vendor_id: str, show_id: str) -> Rules:
    rows = await db.execute(
        select(BlockedTerm.kind, BlockedTerm.term).where(
            BlockedTerm.vendor_id == vendor_id,
            or_(BlockedTerm.show_id.is_(None), BlockedTerm.show_id == show_id),
        )
    )
    words: list[str] = []
    patterns: list[str] = []
    for kind, term in rows:
        (patterns if kind == "pattern" else words).append(term)
    return Rules(tuple(words), tuple(patterns))


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
        raise RealtimeError("conflict", "term_exists", "this term is already blocked") from exc
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
    row = (
        await db.execute(
            select(BlockedTerm).where(BlockedTerm.vendor_id == vendor_id, BlockedTerm.id == term_id)
        )
    ).scalar_one_or_none()
    if row is None:
        raise RealtimeError.not_found("blocked term")
    await db.delete(row)
    await log(db, vendor_id, row.show_id, actor, "term.remove", None, {"term": row.term})
    await db.flush()


# -- sanctions -------------------------------------------------------------------


def _active(now: datetime) -> Any:
    return and_(Sanction.lifted_at.is_(None), or_(Sanction.until.is_(None), Sanction.until > now))


async def active_sanction(
    db: AsyncSession,
    vendor_id: str,
    show_id: str,
    subject: str,
    ip: str | None,
    *,
    bans_only: bool = False,
) -> Sanction | None:
    """The sanction that applies to this shopper on this show, if any. A ban or
    mute by IP applies to guests only: an account's sanctions follow the account."""
    who = [Sanction.subject == subject]
    if ip and subject.startswith("guest:"):
        who.append(Sanction.ip == ip)
    stmt = select(Sanction).where(
        Sanction.vendor_id == vendor_id,
        or_(Sanction.show_id.is_(None), Sanction.show_id == show_id),
        or_(*who),
        _active(utcnow()),
    )
    if bans_only:
        stmt = stmt.where(Sanction.banned.is_(True))
    rows = list((await db.execute(stmt.order_by(Sanction.banned.desc()))).scalars())
    return rows[0] if rows else None


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
        raise RealtimeError("invalid", "invalid_subject", "only guests and shoppers can be muted")
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
    stmt = select(Sanction).where(Sanction.vendor_id == vendor_id, Sanction.id == sanction_id)
    if show_id is not None:
        stmt = stmt.where(or_(Sanction.show_id.is_(None), Sanction.show_id == show_id))
    row = (await db.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise RealtimeError.not_found("sanction")
    if row.lifted_at is None:
        row.lifted_at = utcnow()
        await log(db, vendor_id, row.show_id, actor, "user.unmute", row.subject, {})
        await db.flush()
    return row


# -- messages ----------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    row: ChatMessageRow
    # visible: publish it; held: wait for a moderator; rejected: tell only the sender
    status: str
    rule: str | None = None


async def post_message(
    db: AsyncSession, vendor_id: str, show_id: str, who: Identity, ip: str | None, text: str
) -> Posted:
    text = clean_text(text)
    if not text:
        raise RealtimeError("invalid", "empty_message", "the message is empty")
    if len(text) > MAX_MESSAGE_CHARS:
        raise RealtimeError(
            "invalid", "message_too_long", f"messages have at most {MAX_MESSAGE_CHARS} characters"
        )
    status, rule = "visible", None
    if not who.is_staff:
        muted = await active_sanction(db, vendor_id, show_id, who.id, ip)
        if muted is not None:
            raise RealtimeError(
                "forbidden",
                "muted",
                "you cannot chat in this show right now",
                {
                    "until": muted.until.isoformat() if muted.until else None,
                    "reason": muted.reason,
                    "banned": muted.banned,
                },
            )
        rule = (await rules(db, vendor_id, show_id)).blocked(text)
        if rule is not None:
            status = "rejected"
        elif (await chat_settings(db, vendor_id, show_id)).hold_for_approval:
            status = "held"
    row = ChatMessageRow(
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
    db.add(row)
    if status == "rejected":
        await log(db, vendor_id, show_id, "system", "chat.reject", who.id, {"rule": rule})
    await db.flush()
    return Posted(row, status, rule)


async def get_message(
    db: AsyncSession, vendor_id: str, show_id: str, message_id: str
) -> ChatMessageRow:
    row = (
        await db.execute(
            select(ChatMessageRow).where(
                ChatMessageRow.vendor_id == vendor_id,
                ChatMessageRow.show_id == show_id,
                ChatMessageRow.id == message_id,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise RealtimeError.not_found("message")
    return row


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
    await log(db, vendor_id, show_id, actor, "chat.delete", row.author_id, {"message_id": row.id})
    await db.flush()
    return row, unpinned


async def approve_message(
    db: AsyncSession, vendor_id: str, show_id: str, message_id: str, actor: str
) -> ChatMessageRow:
    row = await get_message(db, vendor_id, show_id, message_id)
    if row.status != "held":
        raise RealtimeError("conflict", "not_held", f"the message is {row.status}, not held")
    row.status = "visible"
    await log(db, vendor_id, show_id, actor, "chat.approve", row.author_id, {"message_id": row.id})
    await db.flush()
    return row


async def pin_message(
    db: AsyncSession, vendor_id: str, show_id: str, message_id: str | None, actor: str
) -> ChatMessageRow | None:
    row = None
    if message_id is not None:
        row = await get_message(db, vendor_id, show_id, message_id)
        if row.status != "visible":
            raise RealtimeError("conflict", "not_visible", "only visible messages can be pinned")
    settings = await _settings_row(db, vendor_id, show_id)
    settings.pinned_message_id = message_id
    await log(db, vendor_id, show_id, actor, "chat.pin", None, {"message_id": message_id})
    await db.flush()
    return row


async def pinned_message(db: AsyncSession, vendor_id: str, show_id: str) -> ChatMessageRow | None:
    settings = await chat_settings(db, vendor_id, show_id)
    if settings.pinned_message_id is None:
        return None
    row = await db.get(ChatMessageRow, settings.pinned_message_id)
    return row if row is not None and row.status == "visible" else None


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


# -- polls -------------------------------------------------------------------------


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
        raise RealtimeError("conflict", "poll_running", "close the running poll first")
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
    await log(db, vendor_id, show_id, actor, "poll.start", None, {"poll_id": poll.id})
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
    poll = (
        await db.execute(
            select(PollRow).where(
                PollRow.vendor_id == vendor_id, PollRow.show_id == show_id, PollRow.id == poll_id
            )
        )
    ).scalar_one_or_none()
    if poll is None:
        raise RealtimeError.not_found("poll")
    return poll


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
        raise RealtimeError("conflict", "poll_closed", "this poll has closed")
    if not 0 <= option < len(poll.options):
        raise RealtimeError("invalid", "invalid_option", "no such option")
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
        raise RealtimeError("conflict", "already_voted", "you have voted in this poll") from exc


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
    await log(db, poll.vendor_id, poll.show_id, actor, "poll.close", None, {"poll_id": poll.id})
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
