"""Staff emails are unique per vendor: adding staff tells a vendor nothing about
other shops' staff, and no vendor can take an address before another (issue 10,
item 13). One email may sign in to several shops."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Connection, inspect, select

from pasar.app import create_app
from pasar.bootstrap import add_vendor_with_owner
from pasar.db import migrate
from pasar.db.engine import Database
from pasar.db.models import Base
from pasar.shows.models import Show
from pasar.shows.schemas import ShowIn
from pasar.shows.service import create_show
from pasar.vendors import service as vendors
from pasar.vendors.models import StaffSession
from tests.conftest import MakeVendor, VendorCtx, make_settings
from tests.vendors.test_access import LOGIN, PASSWORD, add_staff, error

SHARED = "sari@freelance.example"


async def sign_in(client: httpx.AsyncClient, password: str, **extra: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": SHARED, "password": password, **extra})


async def test_adding_staff_reveals_nothing_about_other_shops(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a, b = await make_vendor(), await make_vendor()
    await add_staff(client, a, "host", SHARED)
    # B adds the same address: no email_taken, so B learns nothing about A's staff.
    r = await client.post(
        "/api/v1/staff",
        json={
            "email": SHARED,
            "display_name": "Sari",
            "password": "b's password 1",
            "role": "host",
        },
        headers=b.headers,
    )
    assert r.status_code == 201, r.text
    # Within one shop an email is still one user.
    r = await client.post(
        "/api/v1/staff",
        json={"email": SHARED.upper(), "display_name": "x", "password": PASSWORD, "role": "host"},
        headers=b.headers,
    )
    body = error(r, 409, "email_taken")
    assert body["message"] == "this shop already has a staff user with this email"
    # Each shop's login opens that shop.
    r = await sign_in(client, PASSWORD)
    assert r.status_code == 200 and r.json()["vendor"]["id"] == a.id
    r = await sign_in(client, "b's password 1")
    assert r.status_code == 200 and r.json()["vendor"]["id"] == b.id


async def test_an_address_cannot_be_squatted_before_its_shop_adds_it(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    # A vendor adds the owner-to-be of a shop that does not exist yet ...
    await add_staff(client, vendor, "host", "owner@next-shop.example")
    # ... and the operator can still create that shop with that owner.
    services = app.state.services
    async with services.db.session() as db:
        created = await add_vendor_with_owner(
            db,
            services,
            name="Next",
            slug="next-shop",
            email="owner@next-shop.example",
            password="the real owner's password",
        )
        await db.commit()
    r = await client.post(
        LOGIN, json={"email": "owner@next-shop.example", "password": "the real owner's password"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["vendor"]["id"] == created.vendor_id
    assert r.json()["user"]["role"] == "owner"


async def test_the_same_login_at_two_shops_asks_which(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a, b = await make_vendor(slug="toko-a"), await make_vendor(slug="toko-b")
    await add_staff(client, a, "host", SHARED)
    await add_staff(client, b, "moderator", SHARED)
    body = error(await sign_in(client, PASSWORD), 409, "choose_vendor")
    assert body["details"] == {
        "vendors": [{"slug": "toko-a", "name": "Vendor 1"}, {"slug": "toko-b", "name": "Vendor 2"}]
    }
    assert "pasar_session" not in client.cookies
    r = await sign_in(client, PASSWORD, vendor="toko-b")
    assert r.status_code == 200, r.text
    assert (r.json()["vendor"]["slug"], r.json()["user"]["role"]) == ("toko-b", "moderator")
    # A shop the login is not at is refused like a wrong password.
    error(await sign_in(client, PASSWORD, vendor="no-such-shop"), 401, "invalid_login")
    error(await sign_in(client, "wrong password", vendor="toko-a"), 401, "invalid_login")


async def test_a_disabled_account_does_not_count(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a, b = await make_vendor(), await make_vendor()
    at_a = await add_staff(client, a, "host", SHARED)
    await add_staff(client, b, "host", SHARED)
    r = await client.post(f"/api/v1/staff/{at_a['id']}/disable", headers=a.headers)
    assert r.status_code == 200
    r = await sign_in(client, PASSWORD)
    assert r.status_code == 200 and r.json()["vendor"]["id"] == b.id
    error(await sign_in(client, PASSWORD, vendor=a.slug), 401, "invalid_login")


async def _add_later_columns(db: Database) -> None:
    """Today's models write the old rows below, and an ORM insert names every
    nullable column (as NULL): give the old tables the columns later migrations
    add (0008's vendor branding, …). 0006 rebuilds only staff_users, so this
    changes nothing it is tested on."""

    def add(conn: Connection) -> None:
        have = inspect(conn)
        for table in Base.metadata.sorted_tables:
            if not have.has_table(table.name):
                continue
            present = {c["name"] for c in have.get_columns(table.name)}
            for column in table.columns:
                if column.name not in present and column.nullable:
                    kind = column.type.compile(dialect=conn.dialect)
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}'
                    )

    async with db.engine.begin() as conn:
        await conn.run_sync(add)


async def test_migration_keeps_sessions_and_show_hosts_on_sqlite(tmp_path: Path) -> None:
    """0006 rebuilds staff_users on SQLite; with foreign keys on, dropping the old
    table would delete every session and clear every show's host."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    db = Database(url)
    await migrate.upgrade(db, "0005")
    await _add_later_columns(db)
    await db.dispose()
    application = create_app(make_settings(url, tmp_path / "data"))
    services = application.state.services
    try:
        async with services.db.session() as session:
            created = await add_vendor_with_owner(
                session, services, name="Old", slug="old", email="o@old.example", password=PASSWORD
            )
            user = await vendors.get_staff(session, created.vendor_id, created.user_id)
            new = await vendors.start_session(
                session, user, ttl=timedelta(days=1), max_age=timedelta(days=7)
            )
            show = await create_show(
                session,
                services.box,
                created.vendor_id,
                ShowIn(title="Hosted", host_user_id=created.user_id),
            )
            await session.commit()
        await migrate.upgrade(services.db, "0006")
        assert await migrate.current_heads(services.db) == {"0006"}
        async with services.db.session() as session:
            sessions = (await session.execute(select(StaffSession))).scalars().all()
            assert [s.id for s in sessions] == [new.session.id]
            assert (await session.get(Show, show.id)).host_user_id == created.user_id  # type: ignore[union-attr]
            # and the session still signs in
            principal, _ = await vendors.authenticate_session(
                session, new.token, timedelta(days=1), timedelta(days=7)
            )
            assert principal.actor_id == created.user_id
    finally:
        await services.db.dispose()
