"""Who may do what: API keys and scopes, staff, studio sessions with CSRF, vendor settings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import MakeVendor, VendorCtx, product_body

LOGIN = "/api/v1/auth/login"
PASSWORD = "a long enough password"


def error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert set(body) == {"code", "message", "details"}
    if code is not None:
        assert body["code"] == code, body
    return body


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_key(
    client: httpx.AsyncClient, vendor: VendorCtx, *scopes: str, name: str = "k"
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/api-keys", json={"name": name, "scopes": list(scopes)}, headers=vendor.headers
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def add_staff(
    client: httpx.AsyncClient, vendor: VendorCtx, role: str, email: str
) -> dict[str, Any]:
    r = await client.post(
        "/api/v1/staff",
        json={"email": email, "display_name": role.title(), "password": PASSWORD, "role": role},
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    r = await client.post(LOGIN, json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    csrf: str = r.json()["csrf_token"]
    return csrf


async def key_row(client: httpx.AsyncClient, vendor: VendorCtx, key_id: str) -> dict[str, Any]:
    r = await client.get("/api/v1/api-keys", headers=vendor.headers)
    assert r.status_code == 200, r.text
    (row,) = [k for k in r.json() if k["id"] == key_id]
    result: dict[str, Any] = row
    return result


# --------------------------------------------------------------------------- API keys


async def test_new_key_shows_its_secret_once(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    created = await new_key(client, vendor, "catalog:write", "catalog:read", name="  Shopify  ")
    secret = created["key"]
    assert secret.startswith("pk_") and len(secret) > 30
    assert created["id"].startswith("key_")
    assert created["name"] == "Shopify"
    assert created["prefix"] == secret[:10]
    assert created["scopes"] == ["catalog:read", "catalog:write"]
    assert created["last_used_at"] is None and created["revoked_at"] is None

    r = await client.get("/api/v1/api-keys", headers=vendor.headers)
    assert r.status_code == 200
    listed = {k["id"]: k for k in r.json()}
    assert len(listed) == 2  # the fixture's key and this one
    assert "key" not in listed[created["id"]]
    assert listed[created["id"]]["prefix"] == secret[:10]
    assert secret not in r.text
    assert secret[10:] not in r.text
    assert vendor.key[10:] not in r.text

    # The key works.
    r = await client.get("/api/v1/products", headers=bearer(secret))
    assert r.status_code == 200, r.text


async def test_idempotent_key_creation_does_not_repeat_the_secret(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    body = {"name": "ci", "scopes": ["shows:read"]}
    headers = {**vendor.headers, "Idempotency-Key": "key-once"}
    first = await client.post("/api/v1/api-keys", json=body, headers=headers)
    again = await client.post("/api/v1/api-keys", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["key"].startswith("pk_")
    assert first.json()["key"] not in again.text
    keys = (await client.get("/api/v1/api-keys", headers=vendor.headers)).json()
    assert [k["name"] for k in keys].count("ci") == 1


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "scopes": []},
        {"name": "x", "scopes": ["everything"]},
        {"name": "", "scopes": ["catalog:read"]},
        {"scopes": ["catalog:read"]},
    ],
)
async def test_invalid_key_requests_are_422(
    client: httpx.AsyncClient, vendor: VendorCtx, body: dict[str, Any]
) -> None:
    error(await client.post("/api/v1/api-keys", json=body, headers=vendor.headers), 422)
    assert len((await client.get("/api/v1/api-keys", headers=vendor.headers)).json()) == 1


async def test_last_used_at_is_recorded(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    created = await new_key(client, vendor, "catalog:read")
    assert (await key_row(client, vendor, created["id"]))["last_used_at"] is None
    r = await client.get("/api/v1/products", headers=bearer(created["key"]))
    assert r.status_code == 200
    row = await key_row(client, vendor, created["id"])
    assert row["last_used_at"] is not None
    assert row["last_used_at"] >= created["created_at"][:19]


async def test_revoked_key_is_401(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    created = await new_key(client, vendor, "catalog:read")
    r = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=vendor.headers)
    assert r.status_code == 200, r.text
    revoked_at = r.json()["revoked_at"]
    assert revoked_at is not None
    assert "key" not in r.json()
    r = await client.get("/api/v1/products", headers=bearer(created["key"]))
    body = error(r, 401, "invalid_credentials")
    assert "revoked" in body["message"]
    assert r.headers["www-authenticate"] == "Bearer"
    # Revoking again is harmless and keeps the first time.
    r = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=vendor.headers)
    assert r.json()["revoked_at"] == revoked_at
    assert (await key_row(client, vendor, created["id"]))["revoked_at"] == revoked_at
    # The other key is untouched.
    assert (await client.get("/api/v1/products", headers=vendor.headers)).status_code == 200


async def test_keys_of_other_vendors_cannot_be_revoked(
    client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    a = await make_vendor()
    b = await make_vendor()
    created = await new_key(client, a, "catalog:read")
    error(await client.delete(f"/api/v1/api-keys/{created['id']}", headers=b.headers), 404)
    assert (await client.get("/api/v1/products", headers=bearer(created["key"]))).status_code == 200
    assert created["id"] not in (await client.get("/api/v1/api-keys", headers=b.headers)).text


async def test_scopes_are_enforced(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    reader = bearer((await new_key(client, vendor, "catalog:read"))["key"])
    assert (await client.get("/api/v1/products", headers=reader)).status_code == 200
    assert (await client.get("/api/v1/vendor", headers=reader)).status_code == 200

    r = await client.post("/api/v1/products", json=product_body(), headers=reader)
    body = error(r, 403, "missing_scope")
    assert body["details"] == {"required_scope": "catalog:write"}
    assert "catalog:write" in body["message"]
    assert (await client.get("/api/v1/products", headers=vendor.headers)).json()["data"] == []

    for method, url, required in (
        ("GET", "/api/v1/shows", "shows:read"),
        ("POST", "/api/v1/shows", "shows:write"),
        ("GET", "/api/v1/api-keys", "settings:write"),
        ("POST", "/api/v1/api-keys", "settings:write"),
        ("GET", "/api/v1/staff", "settings:write"),
        ("PATCH", "/api/v1/vendor", "settings:write"),
    ):
        r = await client.request(method, url, json={"title": "x"}, headers=reader)
        body = error(r, 403, "missing_scope")
        assert body["details"] == {"required_scope": required}, (method, url)
    assert (await client.get("/api/v1/shows", headers=vendor.headers)).json()["data"] == []


async def test_write_scope_implies_read(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    writer = bearer((await new_key(client, vendor, "catalog:write"))["key"])
    r = await client.post("/api/v1/products", json=product_body(), headers=writer)
    assert r.status_code == 201, r.text
    assert (
        await client.get(f"/api/v1/products/{r.json()['id']}", headers=writer)
    ).status_code == 200
    error(await client.get("/api/v1/shows", headers=writer), 403, "missing_scope")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "unauthenticated"),
        ("Basic b3duZXI6cGFzcw==", "invalid_credentials"),
        ("Bearer", "invalid_credentials"),
        ("Bearer    ", "invalid_credentials"),
        ("Bearer pk_not-a-real-key", "invalid_credentials"),
        ("Bearer live_a-stream-key", "invalid_credentials"),
        ("Bearer ps_a-session-token", "invalid_credentials"),
    ],
)
async def test_bad_credentials_are_401(
    client: httpx.AsyncClient, vendor: VendorCtx, authorization: str | None, code: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    r = await client.get("/api/v1/products", headers=headers)
    error(r, 401, code)
    assert r.headers["www-authenticate"] == "Bearer"


async def test_a_key_cannot_grant_scopes_it_lacks(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    admin = bearer((await new_key(client, vendor, "settings:write", "catalog:write"))["key"])
    # Scopes it holds (catalog:read through catalog:write) may be handed on ...
    r = await client.post(
        "/api/v1/api-keys",
        json={"name": "sync", "scopes": ["catalog:read", "settings:write"]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    # ... but not more.
    r = await client.post(
        "/api/v1/api-keys", json={"name": "all", "scopes": ["shows:write"]}, headers=admin
    )
    body = error(r, 403, "scope_escalation")
    assert body["details"] == {"missing_scopes": ["shows:read", "shows:write"]}
    for role in ("owner", "host", "moderator"):
        r = await client.post(
            "/api/v1/staff",
            json={
                "email": f"{role}@x.example",
                "display_name": "x",
                "password": PASSWORD,
                "role": role,
            },
            headers=admin,
        )
        error(r, 403, "scope_escalation")
    keys = (await client.get("/api/v1/api-keys", headers=vendor.headers)).json()
    assert sorted(k["name"] for k in keys) == ["first key", "k", "sync"]
    assert len((await client.get("/api/v1/staff", headers=vendor.headers)).json()) == 1


# --------------------------------------------------------------------------- staff


async def test_owner_creates_staff(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await client.post(
        "/api/v1/staff",
        json={
            "email": "Host@Toko.Example",
            "display_name": "Sari",
            "password": PASSWORD,
            "role": "host",
        },
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    user = r.json()
    assert set(user) == {"id", "email", "display_name", "role", "created_at", "disabled_at"}
    assert user["email"] == "host@toko.example"
    assert user["role"] == "host"
    assert PASSWORD not in r.text and "argon2" not in r.text
    staff = (await client.get("/api/v1/staff", headers=vendor.headers)).json()
    assert {u["email"] for u in staff} == {vendor.email, "host@toko.example"}
    assert "argon2" not in str(staff)
    # The email is unique whatever its case.
    r = await client.post(
        "/api/v1/staff",
        json={
            "email": "HOST@toko.example",
            "display_name": "x",
            "password": PASSWORD,
            "role": "host",
        },
        headers=vendor.headers,
    )
    error(r, 409, "email_taken")
    # An owner signed in to the studio may create staff too.
    csrf = await login(client, vendor.email, vendor.password)
    r = await client.post(
        "/api/v1/staff",
        json={
            "email": "mod@toko.example",
            "display_name": "M",
            "password": PASSWORD,
            "role": "moderator",
        },
        headers={"X-CSRF-Token": csrf},
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("role", ["host", "moderator"])
async def test_only_owners_create_staff(
    client: httpx.AsyncClient, vendor: VendorCtx, role: str
) -> None:
    await add_staff(client, vendor, role, f"{role}@toko.example")
    csrf = await login(client, f"{role}@toko.example")
    r = await client.post(
        "/api/v1/staff",
        json={
            "email": "evil@toko.example",
            "display_name": "E",
            "password": PASSWORD,
            "role": "owner",
        },
        headers={"X-CSRF-Token": csrf},
    )
    error(r, 403, "missing_scope")
    error(await client.get("/api/v1/staff"), 403, "missing_scope")
    staff = (await client.get("/api/v1/staff", headers=vendor.headers)).json()
    assert "evil@toko.example" not in {u["email"] for u in staff}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"password": "short"}, "body.password"),
        ({"email": "not-an-email"}, "body.email"),
        ({"role": "admin"}, "body.role"),
        ({"display_name": ""}, "body.display_name"),
    ],
)
async def test_invalid_staff_is_422(
    client: httpx.AsyncClient, vendor: VendorCtx, change: dict[str, str], field: str
) -> None:
    body = {"email": "new@toko.example", "display_name": "N", "password": PASSWORD, "role": "host"}
    r = await client.post("/api/v1/staff", json={**body, **change}, headers=vendor.headers)
    details = error(r, 422, "validation_failed")["details"]
    assert field in [d["field"] for d in details]
    assert len((await client.get("/api/v1/staff", headers=vendor.headers)).json()) == 1


# --------------------------------------------------------------------------- studio sessions


async def test_login_sets_an_httponly_cookie(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await client.post(LOGIN, json={"email": vendor.email.upper(), "password": vendor.password})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"]["id"] == vendor.owner_id
    assert body["user"]["role"] == "owner"
    assert body["vendor"]["id"] == vendor.id
    assert len(body["csrf_token"]) >= 32
    assert "settings:write" in body["scopes"]
    cookie = r.headers["set-cookie"]
    parts = [p.strip().lower() for p in cookie.split(";")]
    assert parts[0].startswith("pasar_session=ps_")
    assert "httponly" in parts
    assert "path=/" in parts
    assert "samesite=lax" in parts
    assert "secure" not in parts  # http://testserver
    token = parts[0].split("=", 1)[1]
    assert token not in r.text.lower()  # only in the cookie, never in the body


async def test_cookie_is_secure_when_configured(
    client: httpx.AsyncClient, app: FastAPI, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.services.settings, "secure_cookies", True)
    r = await client.post(LOGIN, json={"email": vendor.email, "password": vendor.password})
    assert r.status_code == 200
    assert "secure" in [p.strip().lower() for p in r.headers["set-cookie"].split(";")]


async def test_session_cookie_and_csrf(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    csrf = await login(client, vendor.email, vendor.password)
    # Safe methods need only the cookie.
    assert (await client.get("/api/v1/products")).status_code == 200
    session = await client.get("/api/v1/auth/session")
    assert session.status_code == 200, session.text
    assert session.json()["csrf_token"] == csrf
    assert session.json()["user"]["email"] == vendor.email

    # Unsafe methods need the CSRF header as well.
    body = error(await client.post("/api/v1/products", json=product_body()), 403, "csrf_failed")
    assert "X-CSRF-Token".lower() in body["message"].lower()
    r = await client.post(
        "/api/v1/products", json=product_body(), headers={"X-CSRF-Token": csrf + "x"}
    )
    error(r, 403, "csrf_failed")
    r = await client.post("/api/v1/products", json=product_body(), headers={"X-CSRF-Token": ""})
    error(r, 403, "csrf_failed")
    assert (await client.get("/api/v1/products")).json()["data"] == []

    r = await client.post("/api/v1/products", json=product_body(), headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    for method, extra in (("PATCH", {"json": {"title": "x"}}), ("DELETE", {})):
        r = await client.request(method, f"/api/v1/products/{pid}", **extra)  # type: ignore[arg-type]
        error(r, 403, "csrf_failed")
    assert (await client.get(f"/api/v1/products/{pid}")).json()["title"] == "Kemeja Batik"
    r = await client.patch(
        f"/api/v1/products/{pid}", json={"title": "Baru"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 200 and r.json()["title"] == "Baru"
    r = await client.delete(f"/api/v1/products/{pid}", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204


async def test_api_key_is_not_a_session(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    error(await client.get("/api/v1/auth/session", headers=vendor.headers), 403, "not_a_session")
    # API-key requests need no CSRF token.
    r = await client.post("/api/v1/products", json=product_body(), headers=vendor.headers)
    assert r.status_code == 201


async def test_logout_invalidates_the_session(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    csrf = await login(client, vendor.email, vendor.password)
    token = client.cookies["pasar_session"]
    error(await client.post("/api/v1/auth/logout"), 403, "csrf_failed")  # logout needs CSRF too
    assert (await client.get("/api/v1/products")).status_code == 200
    r = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    assert r.status_code == 204
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert "pasar_session" not in client.cookies
    error(await client.get("/api/v1/products"), 401, "unauthenticated")
    # The old token is dead on the server, not just forgotten by the browser.
    client.cookies.set("pasar_session", token)
    error(await client.get("/api/v1/products"), 401, "session_expired")
    error(await client.get("/api/v1/auth/session"), 401, "session_expired")


async def test_two_sessions_are_independent(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    csrf_a = await login(client, vendor.email, vendor.password)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        csrf_b = await login(other, vendor.email, vendor.password)
        assert csrf_a != csrf_b
        assert client.cookies["pasar_session"] != other.cookies["pasar_session"]
        # One session's CSRF token does not unlock the other.
        r = await other.post(
            "/api/v1/products", json=product_body(), headers={"X-CSRF-Token": csrf_a}
        )
        error(r, 403, "csrf_failed")
        assert (
            await other.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf_b})
        ).status_code == 204
        assert (await other.get("/api/v1/products")).status_code == 401
    assert (await client.get("/api/v1/products")).status_code == 200


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    wrong = await client.post(LOGIN, json={"email": vendor.email, "password": "not the password"})
    unknown = await client.post(
        LOGIN, json={"email": "nobody@nowhere.example", "password": vendor.password}
    )
    a = error(wrong, 401, "invalid_login")
    b = error(unknown, 401, "invalid_login")
    assert a == b
    assert "set-cookie" not in wrong.headers and "set-cookie" not in unknown.headers
    assert "pasar_session" not in client.cookies
    error(await client.get("/api/v1/products"), 401)


@pytest.mark.parametrize(
    "body", [{}, {"email": "a@b.example"}, {"email": "a@b.example", "password": ""}]
)
async def test_login_body_is_validated(client: httpx.AsyncClient, body: dict[str, str]) -> None:
    error(await client.post(LOGIN, json=body), 422, "validation_failed")


# --------------------------------------------------------------------------- vendor settings


async def test_get_and_patch_vendor(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    r = await client.get("/api/v1/vendor", headers=vendor.headers)
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["id"] == vendor.id and v["slug"] == vendor.slug
    assert (v["default_locale"], v["default_currency"]) == ("id_ID", "IDR")
    assert v["allowed_origins"] == []
    assert "shopper_secret" not in r.text

    r = await client.patch(
        "/api/v1/vendor",
        json={
            "name": "Toko Batik",
            "default_locale": "en-SG",
            "default_currency": "sgd",
            "allowed_origins": [
                "https://Toko.Example",
                "https://toko.example",
                "http://localhost:3000",
            ],
        },
        headers=vendor.headers,
    )
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["name"] == "Toko Batik"
    assert v["default_locale"] == "en_SG"
    assert v["default_currency"] == "SGD"
    assert v["allowed_origins"] == ["http://localhost:3000", "https://toko.example"]
    assert (await client.get("/api/v1/vendor", headers=vendor.headers)).json() == v

    # New products use the new defaults.
    r = await client.post(
        "/api/v1/products",
        json=product_body(variants=[{"options": {"Size": "M"}, "price": 1999}]),
        headers=vendor.headers,
    )
    assert r.json()["currency"] == "SGD"
    assert r.json()["variants"][0]["price_display"] == "$19.99"


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"default_locale": "xx_YY"}, 400, "invalid_locale"),
        ({"default_locale": "klingon"}, 400, "invalid_locale"),
        ({"default_locale": "../../etc"}, 400, "invalid_locale"),
        ({"default_currency": "ABC"}, 400, "invalid_currency"),
        ({"default_currency": "RP"}, 422, "validation_failed"),
        ({"allowed_origins": ["javascript:alert(1)"]}, 422, "validation_failed"),
        ({"allowed_origins": ["https://toko.example/path"]}, 422, "validation_failed"),
        ({"name": ""}, 422, "validation_failed"),
        ({"slug": "new-slug"}, 422, "validation_failed"),
    ],
)
async def test_bad_vendor_patch_changes_nothing(
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    change: dict[str, Any],
    status: int,
    code: str,
) -> None:
    before = (await client.get("/api/v1/vendor", headers=vendor.headers)).json()
    r = await client.patch(
        "/api/v1/vendor", json={"name": "Changed", **change}, headers=vendor.headers
    )
    body = error(r, status, code)
    if status == 400:
        assert str(next(iter(change.values()))) in body["message"]
    assert (await client.get("/api/v1/vendor", headers=vendor.headers)).json() == before


async def test_vendor_settings_need_settings_scope(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    await add_staff(client, vendor, "host", "host@toko.example")
    csrf = await login(client, "host@toko.example")
    assert (await client.get("/api/v1/vendor")).json()["id"] == vendor.id
    r = await client.patch("/api/v1/vendor", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    error(r, 403, "missing_scope")
    assert (await client.get("/api/v1/vendor")).json()["name"] != "x"


async def test_each_vendor_sees_itself(client: httpx.AsyncClient, make_vendor: MakeVendor) -> None:
    a = await make_vendor()
    b = await make_vendor(currency="PHP", locale="fil_PH")
    assert (await client.get("/api/v1/vendor", headers=a.headers)).json()["id"] == a.id
    got = (await client.get("/api/v1/vendor", headers=b.headers)).json()
    assert (got["id"], got["default_currency"], got["default_locale"]) == (b.id, "PHP", "fil_PH")
    await client.patch("/api/v1/vendor", json={"name": "B only"}, headers=b.headers)
    assert (await client.get("/api/v1/vendor", headers=a.headers)).json()["name"] != "B only"
