"""/api/v1/vendor, /api-keys and /auth: the vendor's own settings and access (/staff:
routes/staff.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.money import validate_currency, validate_locale
from pasar.services import Services
from pasar.vendors import service as vendors
from pasar.vendors import staff as staff_ops
from pasar.vendors.errors import VendorError
from pasar.vendors.models import StaffSession, StaffUser, Vendor
from pasar.vendors.schemas import (
    ApiKeyIn,
    ApiKeyOut,
    LoginIn,
    NewApiKeyOut,
    PasswordChangeIn,
    SessionOut,
    VendorOut,
    VendorPatch,
)
from pasar.vendors.scopes import ROLE_SCOPES, Role, expand
from pasar.web import serialize
from pasar.web.deps import (
    SESSION_COOKIE,
    Ctx,
    SettingsWrite,
    any_principal,
    get_db,
    get_services,
)
from pasar.web.errors import responses
from pasar.web.idempotency import REPLAY_HEADER, IdempotencyDep

router = APIRouter(prefix="/api/v1", tags=["vendor"])
Anyone = Annotated[Ctx, Depends(any_principal)]


def may_grant(ctx: Ctx, scopes: frozenset[str], what: str, verb: str = "create") -> None:
    """Nobody hands out more than they hold: a key limited to settings:write must not
    mint an all-scope key or an owner login for itself, nor take over an owner's."""
    missing = sorted(scopes - ctx.principal.scopes)
    if missing:
        raise VendorError(
            "forbidden",
            "scope_escalation",
            f"cannot {verb} {what} with scopes this credential lacks",
            {"missing_scopes": missing},
        )


@router.get("/vendor", response_model=VendorOut, responses=responses(401))
async def get_vendor(ctx: Anyone) -> dict[str, Any]:
    return serialize.vendor(await vendors.get_vendor(ctx.db, ctx.vendor_id))


@router.patch("/vendor", response_model=VendorOut, responses=responses(400, 401, 403, 422))
async def update_vendor(body: VendorPatch, ctx: SettingsWrite) -> dict[str, Any]:
    vendor = await vendors.get_vendor(ctx.db, ctx.vendor_id)
    if body.name is not None:
        vendor.name = body.name
    if body.default_locale is not None:
        vendor.default_locale = validate_locale(body.default_locale)
    if body.default_currency is not None:
        vendor.default_currency = validate_currency(body.default_currency)
    if body.allowed_origins is not None:
        vendor.allowed_origins = sorted({o.rstrip("/").lower() for o in body.allowed_origins})
    if body.checkout_url_template is not None:
        vendor.checkout_url_template = body.checkout_url_template or None
    if body.brand_color is not None:
        vendor.brand_color = body.brand_color.lower() or None
    if body.logo_url is not None:
        vendor.logo_url = body.logo_url or None
    await ctx.db.flush()
    out = serialize.vendor(vendor)
    await ctx.db.commit()
    ctx.services.commerce.vendor_changed(ctx.vendor_id)
    return out


@router.get("/api-keys", response_model=list[ApiKeyOut], responses=responses(401, 403))
async def list_api_keys(ctx: SettingsWrite) -> list[dict[str, Any]]:
    return [serialize.api_key(k) for k in await vendors.list_api_keys(ctx.db, ctx.vendor_id)]


@router.post(
    "/api-keys",
    status_code=201,
    response_model=NewApiKeyOut,
    responses=responses(400, 401, 403, 409, 422),
)
async def create_api_key(body: ApiKeyIn, ctx: SettingsWrite, idem: IdempotencyDep) -> JSONResponse:
    """The key's secret is in this answer only; Pasar keeps just its hash.

    Idempotent replays do not repeat the secret, so a retry cannot leak it twice."""
    may_grant(ctx, expand([s.value for s in body.scopes]), "an API key")
    if replay := await idem.replay(ctx):
        return replay
    new = await vendors.create_api_key(
        ctx.db,
        ctx.vendor_id,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        created_by=ctx.principal.actor_id,
    )
    out = serialize.api_key(new.key)
    response = await idem.commit(ctx, 201, {**out, "key": "(shown once, in the first answer)"})
    if response.headers.get(REPLAY_HEADER):
        return response  # lost a race with the same key: that request's key is the one
    return JSONResponse({**out, "key": new.secret}, status_code=201)


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, responses=responses(401, 403, 404))
async def revoke_api_key(key_id: str, ctx: SettingsWrite) -> dict[str, Any]:
    key = await vendors.revoke_api_key(ctx.db, ctx.vendor_id, key_id)
    out = serialize.api_key(key)
    await ctx.db.commit()
    return out


@router.post(
    "/auth/login",
    response_model=SessionOut,
    tags=["studio"],
    responses=responses(400, 401, 409, 422, 429, 503),
)
async def login(
    body: LoginIn,
    request: Request,
    response: Response,
    db: Annotated[AsyncSession, Depends(get_db)],
    services: Annotated[Services, Depends(get_services)],
) -> dict[str, Any]:
    """Studio sign-in: sets an HttpOnly session cookie and returns the CSRF token.

    Repeated failures are refused for a while with 429 `too_many_attempts` and
    `Retry-After` (docs/api.md, Authentication, says how)."""
    # The peer address; trusted-proxy handling rewrites it before routing.
    ip = request.client.host if request.client else "unknown"
    throttle = services.login_throttle
    await throttle.check(body.email, ip)
    try:
        new = await vendors.login(
            db,
            services.passwords,
            email=body.email,
            password=body.password,
            ttl=services.session_ttl,
            max_age=services.session_max_age,
            vendor_slug=body.vendor,
            user_agent=request.headers.get("user-agent", ""),
        )
    except VendorError as exc:
        if exc.code == "invalid_login":
            await throttle.failed(body.email, ip)
        raise
    await throttle.succeeded(body.email, ip)
    vendor = await vendors.get_vendor(db, new.user.vendor_id)
    out = _session_out(new.user, vendor, new.session.csrf_token)
    await db.commit()
    _set_cookie(response, services, new.token)
    return out


def _set_cookie(response: Response, services: Services, token: str) -> None:
    lifetime = min(services.session_ttl, services.session_max_age)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(lifetime.total_seconds()),
        httponly=True,
        secure=services.settings.cookies_secure,
        samesite="lax",
        path="/",
    )


def _session_out(user: StaffUser, vendor: Vendor, csrf: str) -> dict[str, Any]:
    return {
        "user": serialize.staff(user),
        "vendor": serialize.vendor(vendor),
        "csrf_token": csrf,
        "scopes": sorted(ROLE_SCOPES[Role(user.role)]),
    }


@router.get(
    "/auth/session", response_model=SessionOut, tags=["studio"], responses=responses(401, 403)
)
async def current_session(request: Request, ctx: Anyone) -> dict[str, Any]:
    _staff_only(ctx)
    session = await ctx.db.get(StaffSession, request.state.staff_session_id)
    if session is None:
        raise VendorError("unauthorized", "session_expired", "sign in again")
    user = await vendors.get_staff(ctx.db, ctx.vendor_id, ctx.principal.actor_id)
    vendor = await vendors.get_vendor(ctx.db, ctx.vendor_id)
    return _session_out(user, vendor, session.csrf_token)


@router.post("/auth/logout", status_code=204, tags=["studio"], responses=responses(401, 403))
async def logout(request: Request, ctx: Anyone) -> Response:
    session_id = getattr(request.state, "staff_session_id", None)
    if session_id:
        await vendors.logout(ctx.db, session_id)
        await ctx.db.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _staff_only(ctx: Ctx) -> None:
    if ctx.principal.kind != "staff":
        raise VendorError("forbidden", "not_a_session", "this is for studio sessions, not API keys")


@router.put(
    "/auth/password",
    response_model=SessionOut,
    tags=["studio"],
    responses=responses(400, 401, 403, 422, 429),
)
async def change_password(
    body: PasswordChangeIn, request: Request, response: Response, ctx: Anyone
) -> dict[str, Any]:
    """Change your own password (the current one is required). Every session of
    yours ends, on every device; this answer signs you in again with a new session
    cookie and CSRF token. Wrong current passwords count as failed sign-ins."""
    _staff_only(ctx)
    services = ctx.services
    user = await vendors.get_staff(ctx.db, ctx.vendor_id, ctx.principal.actor_id)
    ip = request.client.host if request.client else "unknown"
    await services.login_throttle.check(user.email, ip)
    try:
        await staff_ops.change_own_password(
            ctx.db, services.passwords, user, body.current_password, body.new_password
        )
    except VendorError as exc:
        if exc.code == "wrong_password":
            await services.login_throttle.failed(user.email, ip)
        raise
    new = await vendors.start_session(
        ctx.db,
        user,
        ttl=services.session_ttl,
        max_age=services.session_max_age,
        user_agent=request.headers.get("user-agent", ""),
    )
    vendor = await vendors.get_vendor(ctx.db, ctx.vendor_id)
    out = _session_out(user, vendor, new.session.csrf_token)
    await ctx.db.commit()
    _set_cookie(response, services, new.token)
    return out


@router.delete("/auth/sessions", status_code=204, tags=["studio"], responses=responses(401, 403))
async def sign_out_everywhere(ctx: Anyone) -> Response:
    """Ends every session of yours (this one too), on every device and node."""
    _staff_only(ctx)
    await staff_ops.revoke_sessions(ctx.db, ctx.principal.actor_id)
    await ctx.db.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
