"""Shared fixtures. Every API test runs twice: on SQLite and on the real PostgreSQL.

PostgreSQL comes from ``PASAR_TEST_POSTGRES_URL`` (default: the local server at
127.0.0.1:5432, database ``test``); each test process makes a database of its own
there. Redis comes from ``PASAR_TEST_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``); the Redis tests FLUSHDB that database, so point it
at one nothing else uses. Under pytest-xdist (``scripts/test.sh`` runs ``-n``
workers) worker ``gwN`` uses the database N below it instead (15, 14, …), so
workers never flush each other's keys. When a service is not reachable the tests
that need it are skipped with a message, unless ``PASAR_TEST_REQUIRE_SERVICES=1``
(set by ``.ci/run``, which also starts PostgreSQL and Redis), which turns a missing
service into a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import argon2
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from pasar import logging as pasar_logging
from pasar.app import create_app
from pasar.bootstrap import add_vendor_with_owner
from pasar.db import migrate
from pasar.db.engine import Database
from pasar.db.models import Base
from pasar.media.packager import hls_key
from pasar.settings import Settings
from pasar.vendors import credentials

POSTGRES_ADMIN_URL = os.environ.get(
    "PASAR_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("PASAR_TEST_REQUIRE_SERVICES") == "1"


def _worker() -> str:
    """This process's pytest-xdist worker id (``gw0``, ``gw1``, …), or ``main``."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def worker_redis_url(base: str, worker: str) -> str:
    """The Redis database of one test process: ``base`` itself outside xdist and
    for ``gw0``, and the Nth database below it for ``gwN``. Downwards, because the
    default base is 15, the last of Redis's 16 databases, and 0 (the usual
    production one) stays the farthest away."""
    if not worker.startswith("gw"):
        return base
    parts = urlsplit(base)
    path = parts.path.lstrip("/")
    db = (int(path) if path else 0) - int(worker.removeprefix("gw"))
    if db < 0:
        raise RuntimeError(
            f"PASAR_TEST_REDIS_URL={base}: worker {worker} would need Redis database {db}; "
            "point it at a database numbered at least the worker count minus one"
        )
    return urlunsplit(parts._replace(path=f"/{db}"))


REDIS_URL = worker_redis_url(
    os.environ.get("PASAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), _worker()
)
# For every Redis client a test makes (and the brokers the broker contract starts):
# redis-py 8 gives a client 5 s to connect and 5 s per command, which a loaded CI
# machine (2 cores, several servers and test processes) has exceeded just getting
# the test's event loop scheduled ("Timeout connecting to server" in the broker
# contract). Safety nets, not speed checks.
REDIS_TIMEOUTS = {"socket_connect_timeout": 60.0, "socket_timeout": 120.0}


# -- running in pytest-xdist workers (scripts/test.sh: -n auto --dist loadfile) ---------

# Directories whose tests all run in one worker, and why.
ONE_WORKER_DIRS = {
    # its last module checks that the tests before it made the server emit every
    # event type, which only the process that ran them all can know
    "tests/realtime": "tests/realtime/test_zz_schema_coverage.py",
}
# Modules that each start several server processes (nodes, a killed node, Redis as
# the shared broker): one after another on one worker, so two of them never share
# this machine's two cores at once (together they starved each other's requests
# past their timeouts).
MULTI_NODE = (
    "tests/commerce/test_claims_across_nodes.py",
    "tests/commerce/test_faults.py",
    "tests/realtime_redis/",
    "tests/media/s3/",
)


@pytest.hookimpl(optionalhook=True)  # an xdist hook: without xdist it is never called
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile`` (each module whole on one worker, so its module-scoped
    fixtures are made once), with each directory of ONE_WORKER_DIRS as one unit.
    Done here rather than with ``xdist_group`` marks and ``--dist loadgroup``,
    which pytest 9.2 broke (pytest-xdist issue #1386: the groups are dropped)."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SuiteScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            for directory in ONE_WORKER_DIRS:
                if nodeid.startswith(directory + "/"):
                    return directory
            if nodeid.startswith(MULTI_NODE):
                return "multi-node"
            return str(super()._split_scope(nodeid))

    return SuiteScheduling(config, log)


def service_missing(what: str, why: str) -> None:
    """Skip on a laptop without the service; fail in CI."""
    message = f"{what} is not reachable ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; PASAR_TEST_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(f"{message}; start it or set PASAR_TEST_POSTGRES_URL / PASAR_TEST_REDIS_URL")


@pytest.fixture(scope="session", autouse=True)
def _logging_as_in_production(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Log as ``pasar serve`` does (``pasar.logging.configure``). Unconfigured,
    structlog renders a logged exception as a rich traceback with every frame's
    locals, which took seconds per 500 here and is not what production prints."""
    pasar_logging.configure(make_settings("sqlite+aiosqlite://", tmp_path_factory.mktemp("log")))


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    """Passwords are still hashed and verified with argon2id, but at its cheapest
    parameters: production's (``pasar.vendors.credentials``, untouched) cost about
    0.1 s of CPU per hash on purpose, and most tests create a vendor or sign in.
    The stand-in for unknown emails is rehashed so that path is as cheap."""
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(credentials, "_hasher", hasher)
        patch.setattr(credentials, "_DUMMY_HASH", hasher.hash("not anyone's password"))
        yield


STOREFRONT_LIMITS = ("PASAR_GUEST_MINTS_PER_IP", "PASAR_CLAIMS_PER_IP", "PASAR_CLAIMS_PER_SHOPPER")


@pytest.fixture(scope="session", autouse=True)
def _no_storefront_rate_limits() -> Iterator[None]:
    """Every test sends its claims and mints its guests from 127.0.0.1, and with
    Redis the per-minute counts are shared by every test in that minute: the
    limits are lifted (here, and in servers started with this environment) except
    where a test sets them (``tests/commerce/test_claim_limits.py``)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in STOREFRONT_LIMITS:
            patch.setenv(name, "1000000")
        yield


async def _create_pg_database() -> str:
    admin = Database(POSTGRES_ADMIN_URL)
    name = f"pasar_test_{_worker()}_{os.getpid()}"
    try:
        async with admin.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url)
    try:
        await migrate.upgrade(db)
    finally:
        await db.dispose()
    return url


async def _drop_pg_database(url: str) -> None:
    admin = Database(POSTGRES_ADMIN_URL)
    name = url.rsplit("/", 1)[1]
    try:
        async with admin.engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | Exception]:
    """A migrated database of our own on the PostgreSQL server, for the whole run;
    or the reason there is none."""
    try:
        url = asyncio.run(_create_pg_database())
    except Exception as exc:  # refused, auth, no server: all mean "not here"
        yield exc
        return
    yield url
    asyncio.run(_drop_pg_database(url))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "pasar.db"

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate.upgrade(db)
        finally:
            await db.dispose()

    asyncio.run(build())
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        target = tmp_path / "pasar.db"
        shutil.copy(sqlite_template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str | Exception = request.getfixturevalue("postgres_url")
    if isinstance(url, Exception):
        service_missing("PostgreSQL", f"{POSTGRES_ADMIN_URL}: {type(url).__name__}: {url}")
        raise AssertionError("unreachable")
    return url


# Every table emptied, children before parents, in one statement (one round trip).
# DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE makes new files for
# every table and index (about 85 ms here against 3 ms). No table has a sequence.
_EMPTY_ALL_TABLES = (
    "DO $$ BEGIN "
    + " ".join(f'DELETE FROM "{t.name}";' for t in reversed(Base.metadata.sorted_tables))
    + " END $$"
)


async def _truncate(db: Database) -> None:
    """Empty every table (PostgreSQL is shared by the whole run)."""
    if db.is_sqlite:
        return  # a fresh copy of the template for every test
    async with db.engine.begin() as conn:
        await conn.execute(text(_EMPTY_ALL_TABLES))


def make_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        public_url="http://testserver",
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        auto_migrate=False,
        **extra,
    )


@pytest.fixture
async def app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    application = create_app(make_settings(database_url, tmp_path / "data"))
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application
    _report_left_behind(application)


def _report_left_behind(application: FastAPI) -> None:
    """A part that did not stop in time is a bug to find (Services.close names it
    and where it waits); a warning in the run's summary rather than a failure,
    since the node did stop."""
    for step, tasks in application.state.services.left_behind:
        warnings.warn(f"shutdown left {step!r} behind; tasks: {tasks}", stacklevel=1)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class VendorCtx:
    id: str
    slug: str
    key: str
    email: str
    password: str
    owner_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


MakeVendor = Callable[..., Awaitable[VendorCtx]]


@pytest.fixture
def make_vendor(app: FastAPI) -> MakeVendor:
    counter = iter(range(1, 10_000))

    async def make(
        slug: str | None = None, currency: str = "IDR", locale: str = "id_ID"
    ) -> VendorCtx:
        n = next(counter)
        slug = slug or f"vendor-{n}"
        email = f"owner@{slug}.example"
        password = f"correct horse {n}"
        services = app.state.services
        async with services.db.session() as db:
            created = await add_vendor_with_owner(
                db,
                services,
                name=f"Vendor {n}",
                slug=slug,
                email=email,
                password=password,
                currency=currency,
                locale=locale,
            )
            await db.commit()
        return VendorCtx(created.vendor_id, slug, created.api_key, email, password, created.user_id)

    return make


@pytest.fixture
async def vendor(make_vendor: MakeVendor) -> VendorCtx:
    return await make_vendor()


def product_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Kemeja Batik",
        "options": ["Size"],
        "variants": [
            {"sku": "KB-M", "options": {"Size": "M"}, "price": 38_900_000, "stock": 5},
            {"sku": "KB-L", "options": {"Size": "L"}, "price": 38_900_000, "stock": 2},
        ],
    }
    body.update(over)
    return body


async def record_video(client: httpx.AsyncClient, show_id: str) -> None:
    """Give a show a (one-segment) recording, as the built-in plane leaves after
    video: the replay can then be published by hand (the app is the client's)."""
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    storage = transport.app.state.services.storage  # type: ignore[attr-defined]
    row = {
        "uri": "seg-0.m4s",
        "media_time": 0.0,
        "duration": 2.0,
        "wall_clock": "2030-01-01T00:00:00+00:00",
    }
    await storage.put(hls_key(show_id, "recording.json"), json.dumps({"segments": [row]}).encode())
