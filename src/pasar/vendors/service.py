"""Vendor, staff, session and API-key operations. Other domains call these."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.clock import utcnow
from pasar.db.tenancy import get_owned
from pasar.ids import new_id
from pasar.money import validate_currency, validate_locale
from pasar.vendors import credentials
from pasar.vendors.errors import VendorError
from pasar.vendors.models import ApiKey, StaffSession, StaffUser, Vendor
from pasar.vendors.principal import Principal
from pasar.vendors.scopes import ALL_SCOPES, ROLE_SCOPES, Role, expand

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
API_KEY_PREFIX = "pk_"
SESSION_PREFIX = "ps_"
MIN_PASSWORD = 10


@dataclass(frozen=True, slots=True)
class NewApiKey:
    key: ApiKey
    secret: str


@dataclass(frozen=True, slots=True)
class NewSession:
    session: StaffSession
    token: str
    user: StaffUser


async def create_vendor(
    db: AsyncSession,
    box: credentials.SecretBox,
    *,
    name: str,
    slug: str,
    default_locale: str = "id_ID",
    default_currency: str = "IDR",
    allowed_origins: list[str] | None = None,
) -> Vendor:
    if not SLUG_RE.match(slug):
        raise VendorError(
            "invalid", "invalid_slug", "slug must be lowercase letters, digits and dashes"
        )
    vendor = Vendor(
        id=new_id("ven"),
        slug=slug,
        name=name.strip(),
        default_locale=validate_locale(default_locale),
        default_currency=validate_currency(default_currency),
        allowed_origins=list(allowed_origins or []),
        shopper_secret_encrypted=box.seal(secrets.token_urlsafe(32)),
    )
    db.add(vendor)
    try:
        await db.flush()
    except IntegrityError as exc:
        raise VendorError("conflict", "slug_taken", f"a vendor '{slug}' already exists") from exc
    return vendor


async def get_vendor(db: AsyncSession, vendor_id: str) -> Vendor:
    vendor = await db.get(Vendor, vendor_id)
    if vendor is None:
        raise VendorError.not_found("vendor")
    return vendor


async def get_vendor_by_slug(db: AsyncSession, slug: str) -> Vendor:
    vendor = (await db.execute(select(Vendor).where(Vendor.slug == slug))).scalar_one_or_none()
    if vendor is None:
        raise VendorError("not_found", "not_found", f"no vendor '{slug}'")
    return vendor


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise VendorError(
            "invalid",
            "weak_password",
            f"password must have at least {MIN_PASSWORD} characters",
        )


async def create_staff(
    db: AsyncSession,
    passwords: credentials.PasswordWork,
    vendor_id: str,
    *,
    email: str,
    display_name: str,
    password: str,
    role: Role,
) -> StaffUser:
    check_password(password)
    digest = await passwords.hash(password)
    user = StaffUser(
        id=new_id("usr"),
        vendor_id=vendor_id,
        email=email.strip().lower(),
        display_name=display_name.strip(),
        password_hash=digest,
        role=Role(role).value,
    )
    db.add(user)
    try:
        await db.flush()
    except IntegrityError as exc:
        # Only this vendor's own staff can collide: it learns nothing of other shops.
        raise VendorError(
            "conflict", "email_taken", "this shop already has a staff user with this email"
        ) from exc
    return user


async def list_staff(db: AsyncSession, vendor_id: str) -> list[StaffUser]:
    rows = await db.execute(
        select(StaffUser).where(StaffUser.vendor_id == vendor_id).order_by(StaffUser.id)
    )
    return list(rows.scalars())


async def get_staff(db: AsyncSession, vendor_id: str, user_id: str) -> StaffUser:
    return await get_owned(db, StaffUser, vendor_id, user_id, VendorError.not_found("staff user"))


async def set_password(
    db: AsyncSession, passwords: credentials.PasswordWork, user: StaffUser, password: str
) -> None:
    check_password(password)
    user.password_hash = await passwords.hash(password)
    await db.flush()


async def create_api_key(
    db: AsyncSession,
    vendor_id: str,
    *,
    name: str,
    scopes: list[str],
    created_by: str | None = None,
) -> NewApiKey:
    unknown = sorted(set(scopes) - ALL_SCOPES)
    if unknown or not scopes:
        raise VendorError(
            "invalid",
            "invalid_scopes",
            "scopes must be a non-empty list of known scopes",
            {"unknown": unknown, "known": sorted(ALL_SCOPES)},
        )
    secret = credentials.new_token(API_KEY_PREFIX)
    key = ApiKey(
        id=new_id("key"),
        vendor_id=vendor_id,
        name=name.strip(),
        prefix=secret[:10],
        key_hash=credentials.token_hash(secret),
        scopes=sorted(set(scopes)),
        created_at=utcnow(),
        created_by=created_by,
    )
    db.add(key)
    await db.flush()
    return NewApiKey(key=key, secret=secret)


async def list_api_keys(db: AsyncSession, vendor_id: str) -> list[ApiKey]:
    rows = await db.execute(select(ApiKey).where(ApiKey.vendor_id == vendor_id).order_by(ApiKey.id))
    return list(rows.scalars())


async def revoke_api_key(db: AsyncSession, vendor_id: str, key_id: str) -> ApiKey:
    key = await get_owned(db, ApiKey, vendor_id, key_id, VendorError.not_found("API key"))
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await db.flush()
    return key


# last_used_at is written at most this often per key, so reads don't become writes.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


async def authenticate_api_key(db: AsyncSession, secret: str) -> Principal:
    if not secret.startswith(API_KEY_PREFIX):
        raise VendorError("unauthorized", "invalid_credentials", "invalid API key")
    key = (
        await db.execute(select(ApiKey).where(ApiKey.key_hash == credentials.token_hash(secret)))
    ).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        raise VendorError("unauthorized", "invalid_credentials", "invalid or revoked API key")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > _LAST_USED_RESOLUTION:
        await db.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
        await db.commit()
    return Principal(
        vendor_id=key.vendor_id,
        kind="api_key",
        scopes=expand(key.scopes),
        actor_id=key.id,
    )


# An email may have a login at several shops (emails are unique per vendor). A
# sign-in without a shop checks the password against at most this many of them.
MAX_SHOPS_PER_EMAIL = 5


async def login(
    db: AsyncSession,
    passwords: credentials.PasswordWork,
    *,
    email: str,
    password: str,
    ttl: timedelta,
    max_age: timedelta,
    vendor_slug: str | None = None,
    user_agent: str = "",
) -> NewSession:
    """Sign in by email and password. The account is the one at ``vendor_slug``
    or, without it, the one whose password matches; when the same email and
    password open several shops, the caller must choose (409 ``choose_vendor``,
    which names them: whoever sees it knows the password of each)."""
    query = (
        select(StaffUser, Vendor)
        .join(Vendor, Vendor.id == StaffUser.vendor_id)
        .where(StaffUser.email == email.strip().lower())
    )
    if vendor_slug is not None:
        query = query.where(Vendor.slug == vendor_slug)
    rows = (
        await db.execute(
            query.order_by(StaffUser.created_at, StaffUser.id).limit(MAX_SHOPS_PER_EMAIL)
        )
    ).all()
    # End the read before the slow checks: holding a pooled connection (and, on
    # SQLite, the write lock) through argon2 would make other requests wait on it.
    await db.commit()
    if not rows:
        await passwords.burn(password)
        raise VendorError("unauthorized", "invalid_login", "wrong email or password")
    matches = [
        (user, vendor)
        for user, vendor in rows
        if await passwords.verify(user.password_hash, password) and user.disabled_at is None
    ]
    if not matches:
        raise VendorError("unauthorized", "invalid_login", "wrong email or password")
    if len(matches) > 1:
        raise VendorError(
            "conflict",
            "choose_vendor",
            "this email and password sign in to several shops: choose one",
            {"vendors": [{"slug": v.slug, "name": v.name} for _, v in matches]},
        )
    user = matches[0][0]
    return await start_session(db, user, ttl=ttl, max_age=max_age, user_agent=user_agent)


async def start_session(
    db: AsyncSession,
    user: StaffUser,
    *,
    ttl: timedelta,
    max_age: timedelta,
    user_agent: str = "",
) -> NewSession:
    token = credentials.new_token(SESSION_PREFIX)
    now = utcnow()
    session = StaffSession(
        id=new_id("ses"),
        vendor_id=user.vendor_id,
        token_hash=credentials.token_hash(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        created_at=now,
        expires_at=now + min(ttl, max_age),
        user_agent=user_agent[:300],
    )
    db.add(session)
    await db.flush()
    return NewSession(session=session, token=token, user=user)


async def authenticate_session(
    db: AsyncSession, token: str, ttl: timedelta, max_age: timedelta
) -> tuple[Principal, StaffSession]:
    """The session's principal. A session ends after ``ttl`` without use (sliding)
    and, however busy, ``max_age`` after sign-in."""
    row = (
        await db.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(StaffSession.token_hash == credentials.token_hash(token))
        )
    ).one_or_none()
    now = utcnow()
    if (
        row is None
        or row[0].expires_at <= now
        or row[0].created_at + max_age <= now
        or row[1].disabled_at is not None
    ):
        raise VendorError("unauthorized", "session_expired", "sign in again")
    session, user = row
    # Sliding expiry, refreshed at most once a minute, never past the absolute cap.
    renewed = min(now + ttl, session.created_at + max_age)
    if renewed - session.expires_at > _LAST_USED_RESOLUTION:
        session.expires_at = renewed
        await db.commit()
    principal = Principal(
        vendor_id=user.vendor_id,
        kind="staff",
        scopes=ROLE_SCOPES[Role(user.role)],
        actor_id=user.id,
        role=user.role,
    )
    return principal, session


async def logout(db: AsyncSession, session_id: str) -> None:
    session = await db.get(StaffSession, session_id)
    if session is not None:
        await db.delete(session)
        await db.flush()
