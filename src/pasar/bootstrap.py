"""Operator tasks the CLI runs outside a request: create vendors, import files.

They open the database the way the server does (upgrading it first), so a
fresh machine needs no separate migrate step.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.importers import finish_import, parse_csv, parse_shopify, run_import
from pasar.catalog.schemas import ImportReport
from pasar.db import migrate
from pasar.services import Services
from pasar.settings import Settings
from pasar.vendors import service as vendors
from pasar.vendors import staff as staff_ops
from pasar.vendors.errors import VendorError
from pasar.vendors.models import StaffUser
from pasar.vendors.scopes import ALL_SCOPES, Role


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    services = Services.build(settings)
    try:
        if settings.auto_migrate:
            await migrate.upgrade(services.db)
        yield services
    finally:
        await services.close()


@dataclass(frozen=True)
class CreatedVendor:
    vendor_id: str
    user_id: str
    api_key: str


async def add_vendor_with_owner(
    db: AsyncSession,
    services: Services,
    *,
    name: str,
    slug: str,
    email: str,
    password: str,
    currency: str = "IDR",
    locale: str = "id_ID",
) -> CreatedVendor:
    vendor = await vendors.create_vendor(
        db, services.box, name=name, slug=slug, default_currency=currency, default_locale=locale
    )
    owner = await vendors.create_staff(
        db,
        services.passwords,
        vendor.id,
        email=email,
        display_name="Owner",
        password=password,
        role=Role.OWNER,
    )
    key = await vendors.create_api_key(
        db, vendor.id, name="first key", scopes=sorted(ALL_SCOPES), created_by=owner.id
    )
    return CreatedVendor(vendor.id, owner.id, key.secret)


async def create_vendor_with_owner(settings: Settings, **kwargs: str) -> CreatedVendor:
    async with open_services(settings) as services, services.db.session() as db:
        created = await add_vendor_with_owner(db, services, **kwargs)
        await db.commit()
        return created


async def import_file(
    settings: Settings,
    data: bytes,
    *,
    vendor_slug: str,
    kind: str,
    atomic: bool,
    store_url: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    async with open_services(settings) as services, services.db.session() as db:
        vendor = await vendors.get_vendor_by_slug(db, vendor_slug)
        if kind == "shopify":
            candidates = parse_shopify(data, vendor.default_currency, store_url)
        else:
            candidates = parse_csv(data, vendor.default_currency)
        result = await run_import(
            db,
            vendor.id,
            vendor.default_currency,
            candidates,
            atomic=atomic,
            on_progress=on_progress,
        )
        return await finish_import(db, result, atomic=atomic)


@dataclass(frozen=True)
class StaffRow:
    email: str
    display_name: str
    role: str
    disabled: bool
    sessions: int


async def list_staff(settings: Settings, vendor_slug: str) -> list[StaffRow]:
    async with open_services(settings) as services, services.db.session() as db:
        vendor = await vendors.get_vendor_by_slug(db, vendor_slug)
        return [
            StaffRow(
                u.email,
                u.display_name,
                u.role,
                u.disabled_at is not None,
                await staff_ops.count_sessions(db, u.id),
            )
            for u in await vendors.list_staff(db, vendor.id)
        ]


StaffAction = Literal["disable", "enable", "reset-password", "revoke-sessions"]


async def manage_staff(
    settings: Settings,
    vendor_slug: str,
    email: str,
    action: StaffAction,
    password: str | None = None,
) -> int:
    """An operator's change to one staff user; how many sessions were ended."""
    async with open_services(settings) as services, services.db.session() as db:
        vendor = await vendors.get_vendor_by_slug(db, vendor_slug)
        user = (
            await db.execute(
                select(StaffUser).where(
                    StaffUser.vendor_id == vendor.id, StaffUser.email == email.strip().lower()
                )
            )
        ).scalar_one_or_none()
        if user is None:
            raise VendorError("not_found", "not_found", f"{vendor_slug} has no staff user {email}")
        ended = await staff_ops.count_sessions(db, user.id)
        if action == "disable":
            await staff_ops.disable_staff(db, vendor.id, user.id)
        elif action == "enable":
            await staff_ops.enable_staff(db, vendor.id, user.id)
            ended = 0
        elif action == "reset-password":
            assert password is not None
            await staff_ops.reset_password(db, services.passwords, vendor.id, user.id, password)
        else:
            await staff_ops.revoke_sessions(db, user.id)
        await db.commit()
        return ended
