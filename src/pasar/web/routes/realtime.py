"""The REST side of chat moderation, polls and shopper tokens (the show socket is
``pasar.web.show_socket``, served ahead of the routes)."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from pasar.engagement import actions, chat, moderation, polls
from pasar.engagement.errors import EngagementError
from pasar.engagement.identity import Identity, staff
from pasar.engagement.models import BlockedTerm, ChatMessageRow, ModerationLog, Sanction
from pasar.engagement.rules import validate_term
from pasar.engagement.schemas import (
    BlockedTermIn,
    BlockedTermOut,
    ChatMessageOut,
    ChatPage,
    ChatPostIn,
    ChatSettingsIn,
    ChatSettingsOut,
    ModerationEntry,
    PinIn,
    PollIn,
    PollOut,
    SanctionIn,
    SanctionOut,
    ShopperSecretOut,
)
from pasar.realtime.events import ChatApprove, ChatDelete, ChatPin
from pasar.shows.models import Show
from pasar.shows.service import get_show
from pasar.vendors import service as vendors
from pasar.vendors.scopes import Scope
from pasar.web.deps import Ctx, requires
from pasar.web.errors import responses
from pasar.web.serialize import from_row

router = APIRouter(tags=["chat & moderation"], responses=responses(401, 403))
Moderate = Annotated[Ctx, Depends(requires(Scope.MODERATION))]
Host = Annotated[Ctx, Depends(requires(Scope.SHOWS_WRITE))]
Read = Annotated[Ctx, Depends(requires(Scope.SHOWS_READ))]
Settings = Annotated[Ctx, Depends(requires(Scope.SETTINGS_WRITE))]


def _message_out(row: ChatMessageRow) -> dict[str, Any]:
    return {**chat.message_data(row), "status": row.status}


async def _actor(ctx: Ctx) -> Identity:
    """Who speaks for the vendor: the signed-in staff member, or the shop for API keys."""
    if ctx.principal.kind == "staff":
        user = await vendors.get_staff(ctx.db, ctx.vendor_id, ctx.principal.actor_id)
        return staff(user.id, user.display_name, user.role)
    vendor = await vendors.get_vendor(ctx.db, ctx.vendor_id)
    return Identity(id=f"staff:{ctx.principal.actor_id}", name=vendor.name, role="staff")


P = "/api/v1/shows/{show_id}"


@router.get(f"{P}/chat", response_model=ChatPage, responses=responses(404, 422))
async def list_chat(
    show_id: str,
    ctx: Moderate,
    status: Annotated[str | None, Query(pattern="^(visible|held|deleted|rejected)$")] = None,
    before: Annotated[str | None, Query(max_length=40, description="A message id.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    """Messages newest first, including held ones waiting for approval (`status=held`)."""
    await get_show(ctx.db, ctx.vendor_id, show_id)
    rows = await chat.list_messages(ctx.db, ctx.vendor_id, show_id, status, before, limit)
    return {"data": [_message_out(r) for r in rows]}


@router.post(
    f"{P}/chat", status_code=201, response_model=ChatMessageOut, responses=responses(400, 404, 422)
)
async def post_chat(show_id: str, body: ChatPostIn, ctx: Host) -> dict[str, Any]:
    """Post as the host. Staff messages may carry clickable links."""
    await get_show(ctx.db, ctx.vendor_id, show_id)
    actor = await _actor(ctx)
    # Chat ingest stores the message in a session of its own: end this one's
    # transaction first (on SQLite it would hold the write connection).
    await ctx.db.commit()
    posted = await ctx.services.chat.send(ctx.vendor_id, show_id, actor, None, body.text)
    return _message_out(posted.row)


async def _staff_command(ctx: Ctx, show_id: str, command: actions.StaffCommand) -> None:
    await get_show(ctx.db, ctx.vendor_id, show_id)
    actor = (await _actor(ctx)).id
    # staff_action works in a session of its own: end this one's transaction first, or
    # on SQLite it would hold the write lock that session waits for (until busy_timeout).
    await ctx.db.commit()
    await actions.staff_action(
        ctx.services.db,
        ctx.services.realtime,
        ctx.vendor_id,
        show_id,
        actor,
        command,
        ctx.services.chat.standings,
    )


@router.delete(f"{P}/chat/{{message_id}}", status_code=204, responses=responses(404))
async def delete_chat(show_id: str, message_id: str, ctx: Moderate) -> Response:
    """Removes the message for every viewer, and from late joiners' snapshots."""
    await _staff_command(ctx, show_id, ChatDelete(type="chat.delete", message_id=message_id))
    return Response(status_code=204)


@router.post(f"{P}/chat/{{message_id}}/approve", status_code=204, responses=responses(404, 409))
async def approve_chat(show_id: str, message_id: str, ctx: Moderate) -> Response:
    await _staff_command(ctx, show_id, ChatApprove(type="chat.approve", message_id=message_id))
    return Response(status_code=204)


@router.put(f"{P}/chat/pin", status_code=204, responses=responses(404, 409, 422))
async def pin_chat(show_id: str, body: PinIn, ctx: Moderate) -> Response:
    """Pin a visible message above the chat; `null` removes the pin."""
    await _staff_command(ctx, show_id, ChatPin(type="chat.pin", message_id=body.message_id))
    return Response(status_code=204)


@router.get(f"{P}/chat/settings", response_model=ChatSettingsOut, responses=responses(404))
async def get_chat_settings(show_id: str, ctx: Moderate) -> dict[str, Any]:
    await get_show(ctx.db, ctx.vendor_id, show_id)
    row = await chat.chat_settings(ctx.db, ctx.vendor_id, show_id)
    return ChatSettingsOut.model_validate(row, from_attributes=True).model_dump(mode="json")


@router.put(f"{P}/chat/settings", response_model=ChatSettingsOut, responses=responses(404, 422))
async def set_chat_settings(show_id: str, body: ChatSettingsIn, ctx: Moderate) -> dict[str, Any]:
    """Slow mode (one message per N seconds per shopper) and hold-for-approval."""
    await get_show(ctx.db, ctx.vendor_id, show_id)
    actor = (await _actor(ctx)).id
    row = await chat.update_chat_settings(
        ctx.db, ctx.vendor_id, show_id, actor, **body.model_dump(exclude_unset=True)
    )
    out = ChatSettingsOut.model_validate(row, from_attributes=True).model_dump(mode="json")
    await ctx.db.commit()
    await ctx.services.chat.standings.changed(ctx.vendor_id)
    return out


def _sanction_out(s: Sanction) -> dict[str, Any]:
    return from_row(SanctionOut, s, user_id=s.subject).model_dump(mode="json")


@router.get(f"{P}/sanctions", response_model=list[SanctionOut], responses=responses(404))
async def list_sanctions(show_id: str, ctx: Moderate) -> list[dict[str, Any]]:
    """Mutes and bans in force for this show (vendor-wide ones included)."""
    await get_show(ctx.db, ctx.vendor_id, show_id)
    return [
        _sanction_out(s) for s in await moderation.list_sanctions(ctx.db, ctx.vendor_id, show_id)
    ]


@router.post(
    f"{P}/sanctions",
    status_code=201,
    response_model=SanctionOut,
    responses=responses(400, 404, 422),
)
async def add_sanction(show_id: str, body: SanctionIn, ctx: Moderate) -> dict[str, Any]:
    """Mute (cannot chat) or ban (cannot connect) a guest or shopper."""
    await get_show(ctx.db, ctx.vendor_id, show_id)
    actor = (await _actor(ctx)).id
    s = await moderation.sanction(
        ctx.db,
        ctx.vendor_id,
        None if body.vendor_wide else show_id,
        body.user_id,
        minutes=body.minutes,
        banned=body.ban,
        reason=body.reason,
        actor=actor,
    )
    out = _sanction_out(s)
    # A vendor-wide sanction reaches (and a ban disconnects) them on every show.
    shows = [show_id]
    if body.vendor_wide:
        rows = await ctx.db.execute(select(Show.id).where(Show.vendor_id == ctx.vendor_id))
        shows = list(rows.scalars())
    await ctx.db.commit()
    await ctx.services.chat.standings.changed(ctx.vendor_id)
    for target in shows:
        await ctx.services.realtime.send_to(
            target,
            body.user_id,
            "user.muted",
            {
                "until": out["until"],
                "reason": s.reason,
                "banned": s.banned,
            },
        )
    return out


@router.delete(f"{P}/sanctions/{{sanction_id}}", status_code=204, responses=responses(404))
async def lift_sanction(show_id: str, sanction_id: str, ctx: Moderate) -> Response:
    await get_show(ctx.db, ctx.vendor_id, show_id)
    actor = (await _actor(ctx)).id
    await moderation.lift_sanction(ctx.db, ctx.vendor_id, sanction_id, actor, show_id=show_id)
    await ctx.db.commit()
    await ctx.services.chat.standings.changed(ctx.vendor_id)
    return Response(status_code=204)


def _term_out(t: BlockedTerm) -> dict[str, Any]:
    return BlockedTermOut.model_validate(t, from_attributes=True).model_dump(mode="json")


@router.get(
    "/api/v1/moderation/blocked-terms",
    response_model=list[BlockedTermOut],
    responses=responses(422),
)
async def list_terms(
    ctx: Moderate, show_id: Annotated[str | None, Query(max_length=40)] = None
) -> list[dict[str, Any]]:
    return [
        _term_out(t) for t in await moderation.list_blocked_terms(ctx.db, ctx.vendor_id, show_id)
    ]


@router.post(
    "/api/v1/moderation/blocked-terms",
    status_code=201,
    response_model=BlockedTermOut,
    responses=responses(400, 404, 409, 422),
)
async def add_term(body: BlockedTermIn, ctx: Moderate) -> dict[str, Any]:
    if body.show_id:
        await get_show(ctx.db, ctx.vendor_id, body.show_id)
    try:
        term = validate_term(body.kind, body.term)
    except ValueError as exc:
        raise EngagementError("invalid", "invalid_term", str(exc)) from exc
    row = await moderation.add_blocked_term(
        ctx.db, ctx.vendor_id, body.show_id, body.kind, term, (await _actor(ctx)).id
    )
    out = _term_out(row)
    await ctx.db.commit()
    await ctx.services.chat.standings.changed(ctx.vendor_id)
    return out


@router.delete(
    "/api/v1/moderation/blocked-terms/{term_id}", status_code=204, responses=responses(404)
)
async def remove_term(term_id: str, ctx: Moderate) -> Response:
    await moderation.remove_blocked_term(ctx.db, ctx.vendor_id, term_id, (await _actor(ctx)).id)
    await ctx.db.commit()
    await ctx.services.chat.standings.changed(ctx.vendor_id)
    return Response(status_code=204)


@router.get(
    "/api/v1/moderation/log", response_model=list[ModerationEntry], responses=responses(422)
)
async def moderation_log(
    ctx: Moderate,
    show_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """Every moderation action, newest first: who did what to whom."""
    rows: list[ModerationLog] = await moderation.moderation_log(
        ctx.db, ctx.vendor_id, show_id, limit
    )
    return [
        ModerationEntry.model_validate(r, from_attributes=True).model_dump(mode="json")
        for r in rows
    ]


@router.get(f"{P}/polls", response_model=list[PollOut], tags=["polls"], responses=responses(404))
async def list_polls(show_id: str, ctx: Read) -> list[dict[str, Any]]:
    await get_show(ctx.db, ctx.vendor_id, show_id)
    rows = await polls.list_polls(ctx.db, ctx.vendor_id, show_id)
    return [polls.poll_data(p, await polls.poll_counts(ctx.db, p)) for p in rows]


@router.post(
    f"{P}/polls",
    status_code=201,
    response_model=PollOut,
    tags=["polls"],
    responses=responses(404, 409, 422),
)
async def start_poll(show_id: str, body: PollIn, ctx: Host) -> dict[str, Any]:
    """Ask viewers a question with 2–4 options; one vote per shopper; results are live."""
    await get_show(ctx.db, ctx.vendor_id, show_id)
    poll = await polls.start_poll(
        ctx.db,
        ctx.vendor_id,
        show_id,
        body.question,
        body.options,
        body.duration_seconds,
        (await _actor(ctx)).id,
    )
    data = polls.poll_data(poll, [0] * len(poll.options))
    await ctx.db.commit()
    await ctx.services.realtime.publish(show_id, "poll.started", data)
    return data


@router.post(
    f"{P}/polls/{{poll_id}}/close", response_model=PollOut, tags=["polls"], responses=responses(404)
)
async def close_poll(show_id: str, poll_id: str, ctx: Host) -> dict[str, Any]:
    poll = await polls.get_poll(ctx.db, ctx.vendor_id, show_id, poll_id)
    closed = await polls.close_poll(ctx.db, poll, (await _actor(ctx)).id)
    data = polls.poll_data(poll, await polls.poll_counts(ctx.db, poll))
    await ctx.db.commit()
    if closed:
        await ctx.services.realtime.publish(show_id, "poll.closed", data)
    return data


@router.get("/api/v1/vendor/shopper-secret", response_model=ShopperSecretOut, tags=["vendor"])
async def shopper_secret(ctx: Settings) -> dict[str, str]:
    """The key your server signs shopper tokens with (JWT HS256 with `sub`, `name`, `exp`),
    so chat shows real names and bans follow the account."""
    vendor = await vendors.get_vendor(ctx.db, ctx.vendor_id)
    return {"secret": ctx.services.box.open(vendor.shopper_secret_encrypted)}


@router.post(
    "/api/v1/vendor/shopper-secret/rotate", response_model=ShopperSecretOut, tags=["vendor"]
)
async def rotate_shopper_secret(ctx: Settings) -> dict[str, str]:
    """A new signing key; tokens signed with the old one stop working at once (on
    other nodes of a cluster within 10 seconds)."""
    vendor = await vendors.get_vendor(ctx.db, ctx.vendor_id)
    secret = secrets.token_urlsafe(32)
    vendor.shopper_secret_encrypted = ctx.services.box.seal(secret)
    await ctx.db.commit()
    ctx.services.commerce.vendor_changed(ctx.vendor_id)
    return {"secret": secret}
