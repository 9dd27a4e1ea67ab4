"""Staff can be disabled, removed, have their password changed or reset and be
signed out everywhere, at once; sessions have an absolute lifetime (issue 10, item 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from pasar.bootstrap import add_vendor_with_owner
from pasar.clock import utcnow
from pasar.vendors import service as vendor_service
from tests.conftest import VendorCtx
from tests.vendors.conftest import AppFactory, client_from
from tests.vendors.test_access import PASSWORD, add_staff, bearer, error, login, new_key

NEW_PASSWORD = "a brand new password"


@asynccontextmanager
async def staff_client(
    app: FastAPI, email: str, password: str = PASSWORD
) -> AsyncIterator[httpx.AsyncClient]:
    """A signed-in studio client (its own cookie jar), with its CSRF token set."""
    async with client_from(app) as c:
        c.headers["X-CSRF-Token"] = await login(c, email, password)
        yield c


async def signed_in(c: httpx.AsyncClient) -> bool:
    r = await c.get("/api/v1/auth/session")
    if r.status_code == 401:
        assert r.json()["error"]["code"] == "session_expired", r.text
        return False
    assert r.status_code == 200, r.text
    return True


async def staff_row(
    client: httpx.AsyncClient, vendor: VendorCtx, user_id: str
) -> dict[str, object]:
    rows = (await client.get("/api/v1/staff", headers=vendor.headers)).json()
    (row,) = [u for u in rows if u["id"] == user_id]
    return dict(row)


# ------------------------------------------------------------------ disable, enable


async def test_disabling_signs_out_at_once_and_blocks_sign_in(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    host = await add_staff(client, vendor, "host", "host@toko.example")
    async with (
        staff_client(app, "host@toko.example") as c1,
        staff_client(app, "host@toko.example") as c2,
    ):
        assert await signed_in(c1) and await signed_in(c2)
        r = await client.post(f"/api/v1/staff/{host['id']}/disable", headers=vendor.headers)
        assert r.status_code == 200, r.text
        assert r.json()["disabled_at"] is not None
        assert not await signed_in(c1) and not await signed_in(c2)
        error(
            await c1.post(
                "/api/v1/auth/login", json={"email": "host@toko.example", "password": PASSWORD}
            ),
            401,
            "invalid_login",
        )
        # Disabling twice is harmless and keeps the first time.
        again = await client.post(f"/api/v1/staff/{host['id']}/disable", headers=vendor.headers)
        assert again.json()["disabled_at"] == r.json()["disabled_at"]
        assert (await staff_row(client, vendor, host["id"]))["disabled_at"] is not None

        r = await client.post(f"/api/v1/staff/{host['id']}/enable", headers=vendor.headers)
        assert r.status_code == 200 and r.json()["disabled_at"] is None
        assert not await signed_in(c1)  # the old sessions stay ended
        async with staff_client(app, "host@toko.example") as c3:
            assert await signed_in(c3)


async def test_the_last_active_owner_cannot_be_disabled_or_removed(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    async with staff_client(app, vendor.email, vendor.password) as owner:
        for method, path in (
            ("POST", f"/api/v1/staff/{vendor.owner_id}/disable"),
            ("DELETE", f"/api/v1/staff/{vendor.owner_id}"),
        ):
            body = error(await owner.request(method, path), 409, "last_owner")
            assert "only active owner" in body["message"]
            error(await client.request(method, path, headers=vendor.headers), 409, "last_owner")
        assert await signed_in(owner)
        second = await add_staff(client, vendor, "owner", "second@toko.example")
        # With a second owner the first may remove themself ...
        r = await owner.post(f"/api/v1/staff/{vendor.owner_id}/disable")
        assert r.status_code == 200, r.text
        assert not await signed_in(owner)
    # ... and the second, now the only active one, is protected in turn.
    error(
        await client.delete(f"/api/v1/staff/{second['id']}", headers=vendor.headers),
        409,
        "last_owner",
    )
    r = await client.delete(f"/api/v1/staff/{vendor.owner_id}", headers=vendor.headers)
    assert r.status_code == 204  # a disabled owner is not the last active one


async def test_deleting_staff_ends_their_sessions_and_frees_their_shows(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    host = await add_staff(client, vendor, "host", "host@toko.example")
    show = (
        await client.post(
            "/api/v1/shows",
            json={"title": "Malam", "host_user_id": host["id"]},
            headers=vendor.headers,
        )
    ).json()
    async with staff_client(app, "host@toko.example") as c:
        r = await client.delete(f"/api/v1/staff/{host['id']}", headers=vendor.headers)
        assert r.status_code == 204, r.text
        error(await c.get("/api/v1/products"), 401, "session_expired")
    error(await client.delete(f"/api/v1/staff/{host['id']}", headers=vendor.headers), 404)
    assert host["id"] not in (await client.get("/api/v1/staff", headers=vendor.headers)).text
    got = (await client.get(f"/api/v1/shows/{show['id']}", headers=vendor.headers)).json()
    assert got["host_user_id"] is None
    # The address can be used again.
    await add_staff(client, vendor, "moderator", "host@toko.example")


@pytest.mark.parametrize("role", ["host", "moderator"])
async def test_only_owners_manage_staff(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, role: str
) -> None:
    other = await add_staff(client, vendor, "moderator", "other@toko.example")
    await add_staff(client, vendor, role, f"{role}@toko.example")
    async with staff_client(app, f"{role}@toko.example") as c:
        for method, path, body in (
            ("POST", f"/api/v1/staff/{other['id']}/disable", None),
            ("POST", f"/api/v1/staff/{other['id']}/enable", None),
            ("DELETE", f"/api/v1/staff/{other['id']}", None),
            ("PUT", f"/api/v1/staff/{other['id']}/password", {"password": NEW_PASSWORD}),
            ("DELETE", f"/api/v1/staff/{other['id']}/sessions", None),
        ):
            error(await c.request(method, path, json=body), 403, "missing_scope")
    assert (await staff_row(client, vendor, other["id"]))["disabled_at"] is None
    async with staff_client(app, "other@toko.example") as c:
        assert await signed_in(c)


async def test_a_key_cannot_manage_staff_with_more_scopes_than_it_has(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    narrow = bearer((await new_key(client, vendor, "settings:write"))["key"])
    mod = await add_staff(client, vendor, "moderator", "mod@toko.example")
    for path in (f"/api/v1/staff/{vendor.owner_id}/disable", f"/api/v1/staff/{mod['id']}/disable"):
        body = error(await client.post(path, headers=narrow), 403, "scope_escalation")
        assert "cannot manage" in body["message"]
    r = await client.put(
        f"/api/v1/staff/{vendor.owner_id}/password", json={"password": NEW_PASSWORD}, headers=narrow
    )
    error(r, 403, "scope_escalation")
    wide = bearer(
        (
            await new_key(
                client, vendor, "settings:write", "catalog:read", "shows:read", "moderation"
            )
        )["key"]
    )
    assert (
        await client.post(f"/api/v1/staff/{mod['id']}/disable", headers=wide)
    ).status_code == 200


async def test_staff_of_other_vendors_are_not_found(
    client: httpx.AsyncClient, vendor: VendorCtx, make_vendor: object
) -> None:
    other = await make_vendor()  # type: ignore[operator]
    for method, path in (
        ("POST", f"/api/v1/staff/{other.owner_id}/disable"),
        ("DELETE", f"/api/v1/staff/{other.owner_id}"),
        ("DELETE", f"/api/v1/staff/{other.owner_id}/sessions"),
    ):
        error(await client.request(method, path, headers=vendor.headers), 404)


# ------------------------------------------------------------------ passwords


async def test_owner_resets_a_password_and_their_sessions_end(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    host = await add_staff(client, vendor, "host", "host@toko.example")
    async with (
        staff_client(app, "host@toko.example") as c,
        staff_client(app, vendor.email, vendor.password) as owner,
    ):
        r = await owner.put(f"/api/v1/staff/{host['id']}/password", json={"password": NEW_PASSWORD})
        assert r.status_code == 204, r.text
        assert not await signed_in(c)
        assert await signed_in(owner)
        error(
            await c.post(
                "/api/v1/auth/login", json={"email": "host@toko.example", "password": PASSWORD}
            ),
            401,
        )
        assert (
            await c.post(
                "/api/v1/auth/login", json={"email": "host@toko.example", "password": NEW_PASSWORD}
            )
        ).status_code == 200
        # Not for one's own password, which needs the current one.
        r = await owner.put(
            f"/api/v1/staff/{vendor.owner_id}/password", json={"password": NEW_PASSWORD}
        )
        error(r, 400, "own_password")
        r = await owner.put(f"/api/v1/staff/{host['id']}/password", json={"password": "short"})
        error(r, 422, "validation_failed")


async def test_changing_your_password_needs_the_current_one_and_ends_every_session(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    async with (
        staff_client(app, vendor.email, vendor.password) as me,
        staff_client(app, vendor.email, vendor.password) as laptop,
    ):
        old_cookie = me.cookies["pasar_session"]
        body = {"current_password": "not my password", "new_password": NEW_PASSWORD}
        error(await me.put("/api/v1/auth/password", json=body), 400, "wrong_password")
        assert await signed_in(me) and await signed_in(laptop)

        body = {"current_password": vendor.password, "new_password": NEW_PASSWORD}
        error(
            await me.put("/api/v1/auth/password", json=body, headers={"X-CSRF-Token": "x"}),
            403,
            "csrf_failed",
        )
        r = await me.put("/api/v1/auth/password", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["user"]["id"] == vendor.owner_id
        # A new session for this device, with a new CSRF token ...
        assert me.cookies["pasar_session"] != old_cookie
        me.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        assert await signed_in(me)
        assert (await me.post("/api/v1/shows", json={"title": "x"})).status_code == 201
        # ... every other one ended, the old cookie of this one too.
        assert not await signed_in(laptop)
        laptop.cookies.set("pasar_session", old_cookie)
        assert not await signed_in(laptop)
    error(
        await client.post(
            "/api/v1/auth/login", json={"email": vendor.email, "password": vendor.password}
        ),
        401,
    )
    r = await client.post(
        "/api/v1/auth/login", json={"email": vendor.email, "password": NEW_PASSWORD}
    )
    assert r.status_code == 200
    error(
        await client.put("/api/v1/auth/password", json=body, headers=vendor.headers),
        403,
        "not_a_session",
    )


async def test_wrong_current_passwords_are_throttled_like_sign_ins(
    app: FastAPI, vendor: VendorCtx
) -> None:
    async with staff_client(app, vendor.email, vendor.password) as me:
        body = {"current_password": "guess guess", "new_password": NEW_PASSWORD}
        for _ in range(5):
            error(await me.put("/api/v1/auth/password", json=body), 400, "wrong_password")
        r = await me.put(
            "/api/v1/auth/password",
            json={"current_password": vendor.password, "new_password": NEW_PASSWORD},
        )
        error(r, 429, "too_many_attempts")
        assert await signed_in(me)


# ------------------------------------------------------------------ revoking sessions


async def test_owner_signs_a_user_out_everywhere(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    host = await add_staff(client, vendor, "host", "host@toko.example")
    async with (
        staff_client(app, "host@toko.example") as c1,
        staff_client(app, "host@toko.example") as c2,
        staff_client(app, vendor.email, vendor.password) as owner,
    ):
        r = await client.delete(f"/api/v1/staff/{host['id']}/sessions", headers=vendor.headers)
        assert r.status_code == 204
        assert not await signed_in(c1) and not await signed_in(c2)
        assert await signed_in(owner)
        # They may sign in again (it was not a disable).
        assert (
            await c1.post(
                "/api/v1/auth/login", json={"email": "host@toko.example", "password": PASSWORD}
            )
        ).status_code == 200


async def test_sign_out_everywhere(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    await add_staff(client, vendor, "host", "host@toko.example")
    async with (
        staff_client(app, vendor.email, vendor.password) as me,
        staff_client(app, vendor.email, vendor.password) as phone,
        staff_client(app, "host@toko.example") as host,
    ):
        r = await me.delete("/api/v1/auth/sessions")
        assert r.status_code == 204
        assert "max-age=0" in r.headers["set-cookie"].lower()
        assert not await signed_in(phone)
        assert await signed_in(host)  # someone else's sessions are untouched
    error(
        await client.delete("/api/v1/auth/sessions", headers=vendor.headers), 403, "not_a_session"
    )


async def test_revocation_is_seen_by_every_node_at_once(app_with: AppFactory) -> None:
    node_a = await app_with()
    node_b = await app_with()
    services = node_a.state.services
    async with services.db.session() as db:
        created = await add_vendor_with_owner(
            db, services, name="Two", slug="two", email="owner@two.example", password=PASSWORD
        )
        await db.commit()
    async with client_from(node_a) as on_a:
        await login(on_a, "owner@two.example")
        async with client_from(node_b) as on_b:
            on_b.cookies.set("pasar_session", on_a.cookies["pasar_session"])
            assert await signed_in(on_b)
            r = await on_b.delete("/api/v1/auth/sessions", headers={"X-CSRF-Token": "x"})
            error(r, 403, "csrf_failed")
            r = await on_b.delete(
                f"/api/v1/staff/{created.user_id}/sessions",
                headers={"Authorization": f"Bearer {created.api_key}"},
            )
            assert r.status_code == 204
        assert not await signed_in(on_a)


# ------------------------------------------------------------------ lifetime


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def test_sessions_end_after_the_absolute_limit_however_active(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = app.state.services.settings
    assert (settings.session_ttl_hours, settings.session_max_age_hours) == (72, 168)
    clock = Clock()
    monkeypatch.setattr(vendor_service, "utcnow", clock)
    r = await client.post(
        "/api/v1/auth/login", json={"email": vendor.email, "password": vendor.password}
    )
    assert "max-age=259200" in r.headers["set-cookie"].lower()  # 3 days, the idle limit
    for _ in range(6):  # used every day: the sliding expiry keeps it alive
        clock.now += timedelta(days=1)
        assert await signed_in(client)
    clock.now += timedelta(days=1) - timedelta(seconds=1)
    assert await signed_in(client)
    clock.now += timedelta(seconds=1)  # seven days after sign-in
    assert not await signed_in(client)


async def test_sessions_end_when_idle(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(vendor_service, "utcnow", clock)
    await login(client, vendor.email, vendor.password)
    clock.now += timedelta(days=3) - timedelta(seconds=1)
    assert await signed_in(client)  # and that use slides it on
    clock.now += timedelta(days=3) - timedelta(seconds=1)
    assert await signed_in(client)
    clock.now += timedelta(days=3)
    assert not await signed_in(client)


async def test_a_short_cap_shortens_the_cookie(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.services.settings, "session_max_age_hours", 2)
    r = await client.post(
        "/api/v1/auth/login", json={"email": vendor.email, "password": vendor.password}
    )
    assert "max-age=7200" in r.headers["set-cookie"].lower()
