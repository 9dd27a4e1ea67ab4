"""The ``pasar`` command, run in-process with a SQLite data dir of its own.

Results are checked through the app itself (httpx over ASGI) with the keys and
logins the commands print, so "prints a working key" means what it says.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from typer.testing import CliRunner, Result

from pasar.app import create_app
from pasar.cli import app as cli
from pasar.db import migrate
from pasar.db.engine import Database
from pasar.db.models import Base
from pasar.demo.seed import LIVE_TITLE, SHOW_TITLE
from pasar.settings import Settings
from pasar.settings_doc import markdown_table
from tests.catalog.test_importers import (
    PASAR_CSV,
    PASAR_CSV_ERRORS,
    PASAR_CSV_GOOD,
    SHOPIFY_JSON,
    SHOPIFY_JSON_ERRORS,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh PASAR_DATA_DIR (SQLite) and nothing else of the caller's PASAR_* setup."""
    for name in list(os.environ):
        if name.startswith("PASAR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data"
    monkeypatch.setenv("PASAR_DATA_DIR", str(path))
    return path


def run(*args: str) -> Result:
    # Unexpected exceptions propagate (a traceback is a failure, not an exit code).
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def api(method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
    """One request to a fresh app on the CLI's own settings (PASAR_DATA_DIR)."""

    async def go() -> httpx.Response:
        application = create_app(Settings())
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                headers = {"Authorization": f"Bearer {key}"} if key else {}
                return await c.request(method, path, headers=headers, **kw)

    return asyncio.run(go())


def products(key: str) -> dict[str, dict[str, Any]]:
    r = api("GET", "/api/v1/products", key, params={"limit": 100})
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return {p["handle"]: p for p in r.json()["data"]}


def create_vendor(slug: str = "toko-batik", email: str = "owner@toko-batik.example") -> str:
    result = run("vendor", "create", "--name", "Toko Batik", "--slug", slug, "--owner-email", email)
    assert result.exit_code == 0, result.output
    m = re.search(r"API key \(shown once\): (pk_\S+)", result.output)
    assert m, result.output
    return m.group(1)


def test_vendor_create_prints_a_working_key_and_login_once(data_dir: Path) -> None:
    result = run(
        "vendor",
        "create",
        "--name",
        "Toko Batik",
        "--slug",
        "toko-batik",
        "--owner-email",
        "owner@toko-batik.example",
        "--currency",
        "IDR",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    key = re.search(r"API key \(shown once\): (pk_\S+)", out)
    login = re.search(r"login (\S+@\S+) / (\S+)", out)
    assert key and login, out
    assert out.count(key.group(1)) == 1
    assert out.count(login.group(2)) == 1
    assert (data_dir / "pasar.db").exists()  # the embedded default, created on demand

    me = api("GET", "/api/v1/vendor", key.group(1))
    assert me.status_code == 200, me.text
    assert (me.json()["slug"], me.json()["name"]) == ("toko-batik", "Toko Batik")
    assert api("GET", "/api/v1/vendor", key.group(1) + "x").status_code == 401

    session = api(
        "POST", "/api/v1/auth/login", json={"email": login.group(1), "password": login.group(2)}
    )
    assert session.status_code == 200, session.text
    assert session.json()["vendor"]["slug"] == "toko-batik"


def test_vendor_create_takes_the_owner_password(data_dir: Path) -> None:
    result = run(
        "vendor",
        "create",
        "--name",
        "Toko Kopi",
        "--slug",
        "toko-kopi",
        "--owner-email",
        "owner@toko-kopi.example",
        "--owner-password",
        "kopi gayo arabika 250g",
    )
    assert result.exit_code == 0, result.output
    assert "owner@toko-kopi.example / kopi gayo arabika 250g" in result.output
    session = api(
        "POST",
        "/api/v1/auth/login",
        json={"email": "owner@toko-kopi.example", "password": "kopi gayo arabika 250g"},
    )
    assert session.status_code == 200, session.text


def test_vendor_create_duplicate_slug_exits_2(data_dir: Path) -> None:
    key = create_vendor()
    again = run(
        "vendor",
        "create",
        "--name",
        "Another",
        "--slug",
        "toko-batik",
        "--owner-email",
        "other@toko-batik.example",
    )
    assert again.exit_code == 2, again.output
    assert "toko-batik" in again.output and "already exists" in again.output
    assert "API key" not in again.output
    # The first vendor is untouched and no second owner was left behind.
    assert api("GET", "/api/v1/vendor", key).json()["slug"] == "toko-batik"
    staff = api("GET", "/api/v1/staff", key).json()
    assert [s["email"] for s in staff] == ["owner@toko-batik.example"]


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--slug", "Toko Batik", "slug"),
        ("--owner-email", "not-an-email", "not an email address"),
        ("--name", "  ", "--name"),
        ("--currency", "XYZ", "ISO 4217"),
        ("--locale", "zz_QQ", "locale"),
        ("--owner-password", "short", "password"),
    ],
)
def test_vendor_create_refuses_bad_input(
    data_dir: Path, option: str, value: str, message: str
) -> None:
    args = {
        "--name": "Toko Batik",
        "--slug": "toko-batik",
        "--owner-email": "owner@toko-batik.example",
        option: value,
    }
    result = run("vendor", "create", *(x for kv in args.items() for x in kv))
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output
    assert "API key" not in result.output
    # Nothing was created: the same slug and email are still free.
    create_vendor()


def _good_rows_only(src: Path, dst: Path, good: set[str]) -> Path:
    reader = csv.reader(io.StringIO(src.read_text(encoding="utf-8"), newline=""))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(next(reader))
    writer.writerows(row for row in reader if row and row[0] in good)
    dst.write_text(out.getvalue(), encoding="utf-8")
    return dst


def test_catalog_import_good_file(data_dir: Path, tmp_path: Path) -> None:
    key = create_vendor()
    good = _good_rows_only(PASAR_CSV, tmp_path / "good.csv", PASAR_CSV_GOOD)
    result = run("catalog", "import", str(good), "--vendor", "toko-batik")
    assert result.exit_code == 0, result.output
    assert "imported: 4 created, 0 updated, 0 failed" in result.output
    assert set(products(key)) == PASAR_CSV_GOOD

    again = run("catalog", "import", str(good), "--vendor", "toko-batik")
    assert again.exit_code == 0, again.output
    assert "imported: 0 created, 4 updated, 0 failed" in again.output


def test_catalog_import_broken_file_reports_lines_and_exits_1(data_dir: Path) -> None:
    key = create_vendor()
    result = run("catalog", "import", str(PASAR_CSV), "--vendor", "toko-batik")
    assert result.exit_code == 1, result.output
    reported = {
        int(m.group(1)): (m.group(2), m.group(3))
        for m in re.finditer(r"^line (\d+) (\S+): (.+)$", result.output, re.MULTILINE)
    }
    assert sorted(reported) == sorted(PASAR_CSV_ERRORS)
    for line, (handle, piece) in PASAR_CSV_ERRORS.items():
        assert reported[line][0] == handle
        assert piece.lower() in reported[line][1].lower()
    assert f"imported: 4 created, 0 updated, {len(PASAR_CSV_ERRORS)} failed" in result.output
    assert set(products(key)) == PASAR_CSV_GOOD


def test_catalog_import_shopify_atomic_imports_nothing(data_dir: Path) -> None:
    key = create_vendor()
    result = run("catalog", "import", str(SHOPIFY_JSON), "--vendor", "toko-batik", "--atomic")
    assert result.exit_code == 1, result.output
    for line, (handle, _) in SHOPIFY_JSON_ERRORS.items():
        assert f"line {line} {handle}:" in result.output
    assert "nothing imported (atomic)" in result.output
    assert products(key) == {}

    # Without --atomic the good products of the same file do import.
    result = run("catalog", "import", str(SHOPIFY_JSON), "--vendor", "toko-batik")
    assert result.exit_code == 1, result.output
    assert "imported: 2 created" in result.output
    assert len(products(key)) == 2


def test_catalog_import_atomic_good_file_imports(data_dir: Path, tmp_path: Path) -> None:
    key = create_vendor()
    doc = json.loads(SHOPIFY_JSON.read_text(encoding="utf-8"))
    doc["products"] = doc["products"][:2]
    good = tmp_path / "export.json"  # .json: the Shopify format is guessed from the name
    good.write_text(json.dumps(doc), encoding="utf-8")
    result = run("catalog", "import", str(good), "--vendor", "toko-batik", "--atomic")
    assert result.exit_code == 0, result.output
    assert "imported: 2 created, 0 updated, 0 failed" in result.output
    assert set(products(key)) == {"batik-tulis-lasem", "kopi-toraja-sapan"}


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("cp1252.csv", "handle,title,price\nkain,Kain – Ungu,1\n".encode("cp1252"), "not UTF-8"),
        ("broken.json", b'{"products": [', "JSON"),
        ("nul.csv", b"handle,title,price\nkain,Kain\x00,1\n", "NUL"),
    ],
)
def test_catalog_import_unreadable_file_exits_2(
    data_dir: Path, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    create_vendor()
    path = tmp_path / name
    path.write_bytes(data)
    result = run("catalog", "import", str(path), "--vendor", "toko-batik")
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and message in result.output


def test_catalog_import_unknown_vendor_exits_2(data_dir: Path) -> None:
    result = run("catalog", "import", str(PASAR_CSV), "--vendor", "nobody")
    assert result.exit_code == 2, result.output
    assert "no vendor 'nobody'" in result.output


def _tables(url: str) -> set[str]:
    async def go() -> set[str]:
        db = Database(url)
        try:
            async with db.engine.connect() as conn:
                return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_db_upgrade_on_an_empty_database(data_dir: Path) -> None:
    assert not data_dir.exists()
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert f"database at revision {', '.join(sorted(heads))}" in result.output
    url = Settings().resolved_database_url
    tables = _tables(url)
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    # Running it again is a no-op, not an error.
    again = run("db", "upgrade")
    assert again.exit_code == 0, again.output


def _demo() -> tuple[str, str, str, str, str]:
    result = run("demo", "--no-serve")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Toko Demo (12 products" in out and SHOW_TITLE in out
    key = re.search(r"API key\s+(pk_\S+)", out)
    login = re.search(r"login\s+(\S+@\S+) / (\S+)", out)
    show = re.search(r"/api/v1/shows/(\S+)", out)
    live = re.search(r"live now\s+\S+/watch/(\S+)", out)
    assert key and login and show and live, out
    return key.group(1), login.group(1), login.group(2), show.group(1), live.group(1)


def test_demo_seeds_and_reseeding_keeps_data_and_revokes_the_old_key(data_dir: Path) -> None:
    key1, email, password1, show1, live1 = _demo()
    first = products(key1)
    assert len(first) == 12
    shows = api("GET", "/api/v1/shows", key1).json()["data"]
    assert {(s["id"], s["title"]) for s in shows} == {(show1, SHOW_TITLE), (live1, LIVE_TITLE)}
    login = api("POST", "/api/v1/auth/login", json={"email": email, "password": password1})
    assert login.status_code == 200, login.text
    assert login.json()["vendor"]["name"] == "Toko Demo"

    key2, email2, password2, show2, live2 = _demo()
    assert email2 == email
    assert key2 != key1 and password2 != password1
    assert show2 == show1
    assert live2 == live1  # not broadcast yet: the same show waits for its stream
    assert api("GET", "/api/v1/products", key1).status_code == 401  # the first key is revoked
    second = products(key2)
    assert len(second) == 12
    assert {h: p["id"] for h, p in second.items()} == {h: p["id"] for h, p in first.items()}
    assert len(api("GET", "/api/v1/shows", key2).json()["data"]) == 2
    # The password is reissued too: the old one stops working.
    old = api("POST", "/api/v1/auth/login", json={"email": email, "password": password1})
    assert old.status_code == 401
    new = api("POST", "/api/v1/auth/login", json={"email": email, "password": password2})
    assert new.status_code == 200, new.text


def test_demo_prints_its_storefront_and_lets_it_embed_the_player(data_dir: Path) -> None:
    result = run("demo", "--no-serve", "--port", "8100")
    assert result.exit_code == 0, result.output
    shop = re.search(r"^storefront\s+(http://\S+)/\s", result.output, re.M)
    key = re.search(r"API key\s+(pk_\S+)", result.output)
    assert shop and key, result.output
    assert shop.group(1) == "http://127.0.0.1:8101"  # Pasar's port + 1: another origin
    vendor = api("GET", "/api/v1/vendor", key.group(1)).json()
    assert {"http://127.0.0.1:8101", "http://localhost:8101"} <= set(vendor["allowed_origins"])
    chosen = run("demo", "--no-serve", "--port", "8100", "--storefront-port", "9876")
    assert chosen.exit_code == 0, chosen.output
    assert re.search(r"^storefront\s+http://127\.0\.0\.1:9876/\s", chosen.output, re.M)


def test_demo_refuses_the_storefront_on_pasars_port(data_dir: Path) -> None:
    result = run("demo", "--no-serve", "--port", "8100", "--storefront-port", "8100")
    assert result.exit_code == 2, result.output
    assert "port of its own" in result.output and "API key" not in result.output


def test_demo_says_so_when_the_storefront_port_is_taken(data_dir: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("demo", "--storefront-port", str(port))
    assert result.exit_code == 2, result.output
    assert f"port {port}" in result.output and "--storefront-port" in result.output
    assert "API key" not in result.output  # stopped before seeding or serving anything


def test_settings_markdown_is_the_documented_table(data_dir: Path) -> None:
    result = run("settings", "--markdown")
    assert result.exit_code == 0, result.output
    printed = result.output.strip()
    assert printed == markdown_table()
    doc_table = "\n".join(
        line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|")
    )
    assert printed == doc_table


def test_settings_lists_every_variable(data_dir: Path) -> None:
    result = run("settings")
    assert result.exit_code == 0, result.output
    for name in Settings.model_fields:
        assert f"PASAR_{name.upper()} = " in result.output


# -- serve ---------------------------------------------------------------------------

# nginx's upstream ``keepalive_timeout`` and the usual load balancers' idle timeout
# (docs/operations.md runs nginx with upstream keepalive in front of the nodes).
PROXY_IDLE_SECONDS = 60


def _served_config(monkeypatch: pytest.MonkeyPatch) -> uvicorn.Config:
    """The uvicorn configuration ``pasar serve`` would run with (nothing is served)."""
    from pasar import logging as pasar_logging

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options, app=app))
    monkeypatch.setattr(pasar_logging, "configure", lambda settings: None)  # the suite's stays
    result = run("serve")
    assert result.exit_code == 0, result.output
    return uvicorn.Config(**seen)


def test_serve_keeps_an_idle_connection_open_longer_than_a_proxy_does(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whoever reuses a connection must be the one to close it: a claim sent on
    a connection the node closes at that moment got no answer (uvicorn's own
    5 s, the same as httpx's idle expiry, lost one in a loaded CI run; behind
    nginx with upstream keepalive it is a 502)."""
    config = _served_config(monkeypatch)
    assert config.timeout_keep_alive == Settings().keep_alive_seconds
    assert config.timeout_keep_alive > PROXY_IDLE_SECONDS
    assert config.timeout_keep_alive > httpx.Limits().keepalive_expiry  # type: ignore[operator]

    monkeypatch.setenv("PASAR_KEEP_ALIVE_SECONDS", "300")
    assert _served_config(monkeypatch).timeout_keep_alive == 300


# -- the stream key stays off command lines (issue 10, item 16d) -------------------


def test_the_demo_hands_its_broadcaster_the_key_by_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import subprocess
    import threading

    from pasar import cli as cli_module

    started: list[tuple[list[str], dict[str, str]]] = []
    done = threading.Event()

    class FakeChild:
        def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
            started.append((args, dict(env or {})))
            done.set()

        def terminate(self) -> None:
            pass

    monkeypatch.setattr(subprocess, "Popen", FakeChild)
    monkeypatch.setattr(httpx, "get", lambda *a, **k: httpx.Response(200))
    cli_module._broadcast_when_ready("http://127.0.0.1:9", "live_SECRETKEY")
    assert done.wait(10)
    ((args, env),) = started
    assert not any("live_SECRETKEY" in a for a in args), args  # argv is public (ps)
    assert args[-2:] == ["broadcast", "http://127.0.0.1:9/whip"]
    assert env["PASAR_STREAM_KEY"] == "live_SECRETKEY"


def test_broadcast_takes_the_key_from_the_environment_or_refuses(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    async def fake_broadcast(url: str, key: str, seconds: float | None = None) -> None:
        calls.append((url, key))

    monkeypatch.setattr("pasar.media.synthetic.broadcast", fake_broadcast)
    result = CliRunner().invoke(cli, ["broadcast", "http://h/whip"])
    assert result.exit_code == 2 and "PASAR_STREAM_KEY" in result.output, result.output
    assert calls == []
    monkeypatch.setenv("PASAR_STREAM_KEY", "live_FROMENV")
    assert run("broadcast", "http://h/whip").exit_code == 0
    assert run("broadcast", "http://h/whip", "live_ARG").exit_code == 0  # still accepted
    assert calls == [("http://h/whip", "live_FROMENV"), ("http://h/whip", "live_ARG")]


def test_staff_commands(data_dir: Path) -> None:
    key = create_vendor("toko-staff", "owner@toko-staff.example")
    r = api(
        "POST",
        "/api/v1/staff",
        key,
        json={
            "email": "host@toko-staff.example",
            "display_name": "Sari",
            "password": "host password 1",
            "role": "host",
        },
    )
    assert r.status_code == 201, r.text

    def sign_in(password: str, email: str = "host@toko-staff.example") -> int:
        return api(
            "POST", "/api/v1/auth/login", json={"email": email, "password": password}
        ).status_code

    assert sign_in("host password 1") == 200
    listed = run("staff", "list", "--vendor", "toko-staff")
    assert listed.exit_code == 0, listed.output
    assert "host@toko-staff.example  host  active  sessions: 1  (Sari)" in listed.output
    assert "owner@toko-staff.example  owner  active  sessions: 0" in listed.output

    result = run("staff", "reset-password", "host@toko-staff.example", "--vendor", "toko-staff")
    assert result.exit_code == 0, result.output
    m = re.search(r"new password (\S+) ; 1 session\(s\) ended", result.output)
    assert m, result.output
    assert sign_in("host password 1") == 401
    assert sign_in(m.group(1)) == 200

    result = run("staff", "revoke-sessions", "host@toko-staff.example", "--vendor", "toko-staff")
    assert "1 session(s) ended" in result.output
    result = run("staff", "disable", "host@toko-staff.example", "--vendor", "toko-staff")
    assert result.exit_code == 0 and "disabled; 0 session(s) ended" in result.output
    assert sign_in(m.group(1)) == 401
    assert "host  disabled" in run("staff", "list", "--vendor", "toko-staff").output
    assert (
        run("staff", "enable", "host@toko-staff.example", "--vendor", "toko-staff").exit_code == 0
    )
    assert sign_in(m.group(1)) == 200

    # The only owner cannot be disabled; unknown users and vendors are clear errors.
    result = run("staff", "disable", "owner@toko-staff.example", "--vendor", "toko-staff")
    assert result.exit_code == 2 and "only active owner" in result.output
    result = run("staff", "disable", "nobody@toko-staff.example", "--vendor", "toko-staff")
    assert result.exit_code == 2 and "has no staff user" in result.output
    result = run("staff", "list", "--vendor", "no-such-shop")
    assert result.exit_code == 2 and "no vendor 'no-such-shop'" in result.output
    result = run(
        "staff",
        "reset-password",
        "host@toko-staff.example",
        "--vendor",
        "toko-staff",
        "--password",
        "short",
    )
    assert result.exit_code == 2 and "at least 10 characters" in result.output
