"""Property-based tests of the whole API against its own OpenAPI schema.

Schemathesis generates requests for every operation (examples, coverage and fuzzing
phases; valid and invalid data) and sends them in-process, with a real vendor API
key, to an app on PostgreSQL. Every response must: not be a 5xx; carry a documented
status code and content type; match the documented schema and headers; reject
invalid data; and need the API key where the schema says so.

The vendor has one of each object, and about half of the valid fuzzed requests to
an id route use those objects' ids, so success answers are checked as well as 404s.
The vendor is made once through the API; each operation's test starts from a copy
of it (its rows and stored files, times moved on), which
``test_a_restored_seed_is_what_seeding_made`` checks is what seeding made.

The fuzzing runs on PostgreSQL only, the stricter database (a NUL byte or a string
longer than its column was a 500 there and not on SQLite); SQLite answers every other
API test, and the edge-case tests at the end run on both databases.

Bounded for CI: a fixed seed and ``derandomize`` (the same cases every run),
``MAX_EXAMPLES`` fuzzed cases per operation, no deadline. Stateless: each operation
is tested on its own (tests/test_tenant_isolation.py covers ids across vendors).
"""

from __future__ import annotations

import asyncio
import copy
import io
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from pasar.app import create_app
from pasar.bootstrap import add_vendor_with_owner
from pasar.clock import utcnow
from pasar.db.engine import Database
from pasar.db.models import Base
from tests.conftest import VendorCtx, _truncate, make_settings, product_body, service_missing
from tests.test_tenant_isolation import PATH_PARAMS, World, build_world, kind_of, snapshot

MAX_EXAMPLES = 25


def _openapi_document() -> dict[str, Any]:
    """The app's OpenAPI document; building it needs no database."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp}/unused.db", Path(tmp)))
        return app.openapi()


OPENAPI = _openapi_document()


# --- the app under test -----------------------------------------------------------


@dataclass
class Target:
    app: FastAPI | None = None
    api_key: str = ""
    # Kind of object (tests.test_tenant_isolation.kind_of) -> the seeded one's id.
    ids: dict[str, str] = field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Schemathesis talks to this ASGI app, which forwards everything (lifespan
        included) to the app of the running test, set by the `st_target` fixture."""
        assert self.app is not None, "no st_target fixture is active"
        await self.app(scope, receive, send)


CURRENT = Target()
ON_POSTGRES = pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


@dataclass
class Seed:
    """A vendor that owns one of each object: its database rows and stored files, and
    what the vendor saw through every GET route when it was made."""

    world: World
    rows: dict[str, list[dict[str, Any]]]  # table name -> its rows
    data_dir: Path
    taken_at: datetime
    views: dict[str, Any]


@pytest.fixture(scope="module")
def seed(postgres_url: str | Exception, tmp_path_factory: pytest.TempPathFactory) -> Seed:
    """Made once through the API (~0.6 s); each operation's test restores it (~0.05 s)."""
    if isinstance(postgres_url, Exception):
        service_missing("PostgreSQL", f"{type(postgres_url).__name__}: {postgres_url}")
        raise AssertionError("unreachable")
    data_dir = tmp_path_factory.mktemp("seed") / "data"
    settings_ = make_settings(postgres_url, data_dir, webhook_concurrency=0)

    async def build() -> Seed:
        seeder = create_app(settings_)
        services = seeder.state.services
        await _truncate(services.db)
        async with seeder.router.lifespan_context(seeder):
            async with services.db.session() as db:
                created = await add_vendor_with_owner(
                    db,
                    services,
                    name="Toko Fuzz",
                    slug="toko-fuzz",
                    email="owner@toko-fuzz.example",
                    password="correct horse battery",
                )
                await db.commit()
            vendor = VendorCtx(
                created.vendor_id, "toko-fuzz", created.api_key, "", "", created.user_id
            )
            transport = httpx.ASGITransport(app=seeder)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                world = await build_world(c, services, vendor, "fuzz")
                views = await snapshot(seeder, c, world)
            async with services.db.engine.connect() as conn:
                rows = {
                    t.name: [dict(r._mapping) for r in await conn.execute(select(t))]
                    for t in Base.metadata.sorted_tables
                }
        return Seed(world, rows, data_dir, utcnow(), views)

    return asyncio.run(build())


async def _restore(database_url: str, seed: Seed, *, move_times: bool = True) -> None:
    """Put back exactly the seeded rows, every time moved on by the time since seeding:
    the state that seeding just now would have left (reservations as fresh, say)."""
    db = Database(database_url)
    try:
        await _truncate(db)
        since = utcnow() - seed.taken_at if move_times else timedelta(0)
        async with db.engine.begin() as conn:
            for table in Base.metadata.sorted_tables:
                if rows := seed.rows[table.name]:
                    moved = [
                        {k: v + since if isinstance(v, datetime) else v for k, v in row.items()}
                        for row in rows
                    ]
                    await conn.execute(table.insert(), moved)
    finally:
        await db.dispose()


@pytest.fixture
def st_target(database_url: str, tmp_path: Path, seed: Seed) -> Iterator[Target]:
    """A fresh app on the seeded state (rows and stored files). Restoring runs on a
    loop of our own; schemathesis then runs the app's lifespan on its event loop (in a
    thread), so no database connection crosses loops."""
    asyncio.run(_restore(database_url, seed))
    shutil.copytree(seed.data_dir, tmp_path / "data")
    # The worker is off: fuzzed endpoint URLs must never be called.
    settings_ = make_settings(database_url, tmp_path / "data", webhook_concurrency=0)
    # world.ids["api_key"] is a second key: revoking it leaves ours working.
    CURRENT.api_key, CURRENT.ids = seed.world.vendor.key, seed.world.ids
    CURRENT.app = create_app(settings_)
    try:
        yield CURRENT
    finally:
        # The schemathesis plugin ends lifespans after each test too; doing it here
        # closes the database before the fixture's database goes away.
        asgi.shutdown_lifespans()
        CURRENT.app, CURRENT.ids = None, {}


@ON_POSTGRES
def test_a_restored_seed_is_what_seeding_made(
    database_url: str, seed: Seed, tmp_path: Path
) -> None:
    """Restoring (times not moved) gives the vendor the same answer from every GET
    route, stored media included, as right after seeding: nothing the fuzzing relies
    on lives outside the tables and the data directory."""
    asyncio.run(_restore(database_url, seed, move_times=False))
    shutil.copytree(seed.data_dir, tmp_path / "data")
    app = create_app(make_settings(database_url, tmp_path / "data", webhook_concurrency=0))

    async def views() -> dict[str, Any]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                return await snapshot(app, c, seed.world)

    assert asyncio.run(views()) == seed.views


# --- checks -----------------------------------------------------------------------


def _only_file_contents_invalid(case: schemathesis.Case) -> bool:
    """Whether a negative case is invalid only in a file part's contents.

    Schemathesis draws e.g. `true` or `{}` for a binary (file) field and counts the
    request as invalid; but a file is bytes on the wire, and `true` is a fine file
    (for the CSV import, a CSV with one header cell, reported row by row)."""
    meta = case.meta
    if meta is None or not meta.is_negative_at(ParameterLocation.BODY):
        return False
    if any(meta.is_negative_at(loc) for loc in ParameterLocation if loc != ParameterLocation.BODY):
        return False
    op = OPENAPI["paths"][case.operation.path][case.method.lower()]
    content = op.get("requestBody", {}).get("content", {}).get("multipart/form-data")
    if content is None or not isinstance(case.body, dict):
        return False
    ref = content["schema"].get("$ref", "")
    body_schema = OPENAPI["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else {}
    files = {
        name
        for name, prop in body_schema.get("properties", {}).items()
        if prop.get("format") == "binary" or "contentMediaType" in prop
    }
    as_sent = {name: str(v) if name in files else v for name, v in case.body.items()}
    return bool(jsonschema_rs.validator_for(body_schema).is_valid(as_sent))


def negative_data_rejection_as_sent(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """negative_data_rejection, judged on what goes over the wire for file parts."""
    if _only_file_contents_invalid(case):
        return None
    return negative_data_rejection(ctx, response, case)


def not_a_server_error_but_oembed_xml(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """not_a_server_error, except oEmbed's own answer to format=xml: 501 Not
    Implemented is what the oEmbed 1.0 spec (2.3.6) requires (and documented)."""
    if (
        case.operation.path == "/oembed"
        and (case.query or {}).get("format") == "xml"
        and response.status_code == 501
    ):
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    not_a_server_error_but_oembed_xml,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection_as_sent,
    ignored_auth,
]


# --- the schema and the test ------------------------------------------------------

# Loaded at import so that each operation is its own test item (per backend); the
# requests go to CURRENT, i.e. the per-test app. (schemathesis.pytest.from_fixture
# would load it from a fixture instead, but its lazy loader breaks on pytest 9.2:
# it sets `Function._nodeid`, which pytest no longer has.)
schema = schemathesis.openapi.from_dict(
    copy.deepcopy(OPENAPI),
    config=schemathesis.Config.from_dict(
        {
            "seed": 20261126,
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
                # The test sends the real API key itself (schemathesis would otherwise
                # invent Authorization values and count "no key" as invalid data).
                # Whether an operation enforces the key is still checked: ignored_auth
                # repeats each successful request without the key and with a wrong one.
                "with-security-parameters": False,
                # Unknown query parameters are ignored, as FastAPI (and most HTTP APIs)
                # do and as OpenAPI cannot express; an extra one is not invalid data.
                "allow-extra-parameters": False,
            },
        }
    ),
)
schema.app = CURRENT


@schema.hook
def flatmap_case(
    context: schemathesis.HookContext, case: schemathesis.Case
) -> st.SearchStrategy[schemathesis.Case]:
    """Point about half of the valid cases of an id route at the seeded objects."""
    names = set(case.path_parameters or {})
    negative = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
    if not names or negative or not names <= set(PATH_PARAMS):
        return st.just(case)

    def pick(real: bool) -> schemathesis.Case:
        if real and CURRENT.ids:
            assert case.path_parameters is not None
            path = case.operation.path
            case.path_parameters.update({n: CURRENT.ids[kind_of(path, n)] for n in names})
        return case

    return st.booleans().map(pick)


@schema.parametrize()
@ON_POSTGRES
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, st_target: Target) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {st_target.api_key}"},
        checks=CHECKS,
        # Schemathesis' default read timeout (10 s) made this a wall-clock test: one
        # CI run saw a single answer take longer on the loaded 2-core machine. The
        # checks are about what comes back, not how fast; a hang still fails here.
        timeout=120,
    )


# --- inputs the bounded fuzzing above reaches only by luck -------------------------

EDGE_CASES: list[tuple[str, str, dict[str, Any]]] = [
    # PostgreSQL cannot store or compare NUL: these were 500s there.
    ("POST", "/api/v1/products", {"json": product_body(title="Kemeja\x00Batik")}),
    (
        "POST",
        "/api/v1/products",
        {"json": product_body(options=["Si\x00ze"], variants=[{"options": {"Si\x00ze": "M"}}])},
    ),
    ("POST", "/api/v1/shows", {"json": {"title": "Live\x00"}}),
    ("POST", "/api/v1/api-keys", {"json": {"name": "sync\x00", "scopes": ["catalog:read"]}}),
    ("GET", "/api/v1/products?q=kemeja%00", {}),
    ("GET", "/api/v1/products?sku=%00", {}),
    ("GET", "/api/v1/products/prod_%00", {}),
    (
        "POST",
        "/api/v1/webhooks/endpoints",
        {"json": {"url": "https://toko.example/\x00", "event_types": ["show.live"]}},
    ),
    ("DELETE", "/api/v1/api-keys/key_%00", {}),
    # Past the ends of UTC once the offset is applied: were 500s (OverflowError).
    ("POST", "/api/v1/shows", {"json": {"title": "x", "scheduled_at": "9999-12-31T23:59-23:59"}}),
    ("GET", "/api/v1/shows?scheduled_after=0001-01-01T00:00:00%2B01:00", {}),
    ("GET", "/api/v1/products?updated_after=9999-12-31T23:59:59-01:00", {}),
    # Numbers are not ISO 8601 date-times (pydantic read them as Unix times).
    ("GET", "/api/v1/products?updated_after=0.5", {}),
    ("GET", "/api/v1/shows?scheduled_before=1700000000", {}),
    ("POST", "/api/v1/shows", {"json": {"title": "x", "scheduled_at": 1_700_000_000}}),
    # Longer than the column (String(2000)) though under pydantic's 2083: a 500 on PostgreSQL.
    (
        "POST",
        "/api/v1/products",
        {"json": product_body(product_url="https://toko.example/" + "p" * 2000)},
    ),
]


@pytest.mark.parametrize(("method", "url", "kwargs"), EDGE_CASES, ids=lambda v: str(v)[:60])
async def test_edge_inputs_are_refused_not_crashed_on(
    client: httpx.AsyncClient, vendor: VendorCtx, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    r = await client.request(method, url, headers=vendor.headers, **kwargs)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_failed"


async def test_nul_in_a_form_field_is_refused(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    created = await client.post("/api/v1/products", json=product_body(), headers=vendor.headers)
    png = io.BytesIO()
    Image.new("RGB", (4, 4)).save(png, "PNG")
    r = await client.post(
        f"/api/v1/products/{created.json()['id']}/images",
        files={"file": ("p.png", png.getvalue(), "image/png")},
        data={"alt": "front\x00"},
        headers=vendor.headers,
    )
    assert r.status_code == 422, r.text
