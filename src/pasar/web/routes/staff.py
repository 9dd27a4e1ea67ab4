"""/api/v1/staff: an owner's (or a settings:write key's) view of the shop's staff.

Whoever manages a user must hold every scope that user's role has, as when
creating one: a key limited to settings:write cannot disable, remove or reset the
password of an owner (or make itself one).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from pasar.vendors import service as vendors
from pasar.vendors import staff as staff_ops
from pasar.vendors.errors import VendorError
from pasar.vendors.models import StaffUser
from pasar.vendors.schemas import PasswordResetIn, StaffIn, StaffOut
from pasar.vendors.scopes import ROLE_SCOPES, Role
from pasar.web import serialize
from pasar.web.deps import Ctx, SettingsWrite
from pasar.web.errors import responses
from pasar.web.idempotency import IdempotencyDep
from pasar.web.routes.vendors import may_grant

router = APIRouter(prefix="/api/v1/staff", tags=["vendor"])


async def _managed(ctx: Ctx, user_id: str, what: str) -> StaffUser:
    user = await vendors.get_staff(ctx.db, ctx.vendor_id, user_id)
    may_grant(ctx, ROLE_SCOPES[Role(user.role)], what, verb="manage")
    return user


@router.get("", response_model=list[StaffOut], responses=responses(401, 403))
async def list_staff(ctx: SettingsWrite) -> list[dict[str, Any]]:
    return [serialize.staff(u) for u in await vendors.list_staff(ctx.db, ctx.vendor_id)]


@router.post(
    "", status_code=201, response_model=StaffOut, responses=responses(400, 401, 403, 409, 422)
)
async def create_staff(body: StaffIn, ctx: SettingsWrite, idem: IdempotencyDep) -> JSONResponse:
    may_grant(ctx, ROLE_SCOPES[body.role], f"a {body.role.value}")
    if replay := await idem.replay(ctx):
        return replay
    user = await vendors.create_staff(
        ctx.db,
        ctx.services.passwords,
        ctx.vendor_id,
        email=str(body.email),
        display_name=body.display_name,
        password=body.password,
        role=body.role,
    )
    return await idem.commit(ctx, 201, serialize.staff(user))


@router.post("/{user_id}/disable", response_model=StaffOut, responses=responses(401, 403, 404, 409))
async def disable_staff(user_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    """The user can no longer sign in, and is signed out everywhere at once.
    The shop's last active owner cannot be disabled (409 `last_owner`)."""
    await _managed(ctx, user_id, "a staff user")
    user = await staff_ops.disable_staff(ctx.db, ctx.vendor_id, user_id)
    out = serialize.staff(user)
    await ctx.db.commit()
    return out


@router.post("/{user_id}/enable", response_model=StaffOut, responses=responses(401, 403, 404))
async def enable_staff(user_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    await _managed(ctx, user_id, "a staff user")
    user = await staff_ops.enable_staff(ctx.db, ctx.vendor_id, user_id)
    out = serialize.staff(user)
    await ctx.db.commit()
    return out


@router.delete("/{user_id}", status_code=204, responses=responses(401, 403, 404, 409))
async def delete_staff(user_id: str, ctx: SettingsWrite) -> Response:
    """Removes the user and their sessions; shows they host keep no host. The
    shop's last active owner cannot be removed (409 `last_owner`)."""
    await _managed(ctx, user_id, "a staff user")
    await staff_ops.delete_staff(ctx.db, ctx.vendor_id, user_id)
    await ctx.db.commit()
    return Response(status_code=204)


@router.put("/{user_id}/password", status_code=204, responses=responses(400, 401, 403, 404, 422))
async def reset_password(user_id: str, body: PasswordResetIn, ctx: SettingsWrite) -> Response:
    """Sets another user's password (tell them the new one); their sessions end.
    Your own password: `PUT /api/v1/auth/password`, which asks for the current one."""
    if ctx.principal.kind == "staff" and ctx.principal.actor_id == user_id:
        raise VendorError(
            "invalid",
            "own_password",
            "change your own password with PUT /api/v1/auth/password (it asks for the current one)",
        )
    await _managed(ctx, user_id, "a staff user")
    await staff_ops.reset_password(
        ctx.db, ctx.services.passwords, ctx.vendor_id, user_id, body.password
    )
    await ctx.db.commit()
    return Response(status_code=204)


@router.delete("/{user_id}/sessions", status_code=204, responses=responses(401, 403, 404))
async def revoke_sessions(user_id: str, ctx: SettingsWrite) -> Response:
    """Signs the user out everywhere, at once, on every node."""
    user = await _managed(ctx, user_id, "a staff user")
    await staff_ops.revoke_sessions(ctx.db, user.id)
    await ctx.db.commit()
    return Response(status_code=204)
