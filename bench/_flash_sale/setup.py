"""Setting the flash-sale benchmark up, for one engine: a fresh PostgreSQL database,
a vendor, the server under uvicorn with its workers, a product, a show and deals,
the shoppers' tokens; and taking it all down again."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import jwt

import _servers
from _flash_sale.report import Figure, say
from _servers import HOST

THROUGHPUT_QUANTITY = 1_000_000  # pasar.commerce.models.MAX_UNITS


@dataclass
class Run:
    args: argparse.Namespace
    deadline: float
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pasar-flash-")))
    wrk: str = ""
    server: subprocess.Popen[bytes] | None = None
    load: asyncio.subprocess.Process | None = None
    profilers: list[asyncio.subprocess.Process] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    redis_keys: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the benchmark exceeded --timeout {self.args.timeout:g} s")
        return left

    def problem(self, text: str) -> None:
        self.problems.append(text)
        say(f"PROBLEM: {text}")


@dataclass
class Shop:
    engine: str
    db_name: str
    db_url: str
    port: int
    api_key: str
    product_id: str
    variant_id: str
    show_id: str
    shopper_secret: str

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def target(self) -> tuple[str, str]:
        return self.base, self.db_name


@contextlib.asynccontextmanager
async def postgres(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


def pg_dsn(admin: str, db_name: str | None = None) -> str:
    """A plain ``postgresql://`` DSN for asyncpg, to ``db_name`` if given."""
    url = urlsplit(admin.replace("postgresql+asyncpg://", "postgresql://", 1))
    if db_name is not None:
        url = url._replace(path=f"/{db_name}")
    return urlunsplit(url)


async def create_database(run: Run, engine: str) -> str:
    name = f"pasar_bench_{engine}_{os.getpid()}"
    async with postgres(pg_dsn(run.args.postgres)) as conn:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    run.databases.append(name)
    return name


async def drop_databases(run: Run) -> None:
    if not run.databases:
        return
    async with postgres(pg_dsn(run.args.postgres)) as conn:
        for name in run.databases:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run.databases.clear()


def sqlalchemy_url(admin: str, db_name: str) -> str:
    return pg_dsn(admin, db_name).replace("postgresql://", "postgresql+asyncpg://", 1)


def server_env(run: Run, engine: str, db_url: str, port: int, secret: str) -> dict[str, str]:
    return _servers.env_without_pasar(
        PASAR_DATABASE_URL=db_url,
        PASAR_REDIS_URL=run.args.redis,
        PASAR_STOCK_ENGINE=engine,
        PASAR_DATA_DIR=str(run.tmp / f"data-{engine}"),
        PASAR_SECRET_KEY=secret,
        PASAR_PUBLIC_URL=f"http://{HOST}:{port}",
        PASAR_LOG_LEVEL="warning",
        PASAR_AUTO_MIGRATE="false",  # the bench upgraded the fresh database already
        # Every simulated shopper comes from this one machine: no per-address limits.
        PASAR_GUEST_MINTS_PER_IP="1000000",
        PASAR_CLAIMS_PER_IP="1000000",
    )


async def seed_vendor(db_url: str, data_dir: Path, secret: str) -> str:
    """Upgrade the fresh database and create a vendor with an owner and an API key."""
    from pasar.bootstrap import create_vendor_with_owner
    from pasar.settings import Settings

    settings = Settings(
        database_url=db_url, data_dir=data_dir, secret_key=secret, auto_migrate=True
    )
    created = await create_vendor_with_owner(
        settings,
        name="Toko Flash",
        slug="toko-flash",
        email="owner@flash.example",
        password=secrets.token_urlsafe(12),
    )
    return created.api_key


def start_server(
    run: Run, env: dict[str, str], port: int, name: str, app: str = "pasar.app:create_app"
) -> Path:
    """uvicorn in its own session: ``app`` (a factory) with ``--workers`` workers."""
    log = run.tmp / f"server-{name}.log"
    cmd = _servers.uvicorn_command(app, port, run.args.workers)
    run.server = _servers.start_process(cmd, env, log, cwd=run.tmp)
    return log


def read_log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


async def wait_ready(run: Run, log: Path, port: int, marker: str | None = "pasar ready") -> None:
    """Until every worker has finished its start-up (``marker`` once per worker in
    the log; None: 3 s after the first answer) and /healthz answers."""
    assert run.server is not None

    def started() -> bool:
        return marker is None or read_log(log).count(marker) >= run.args.workers

    timeout = min(90.0, run.left())
    await asyncio.to_thread(
        _servers.wait_healthy, run.server, f"http://{HOST}:{port}", timeout, started
    )
    if marker is None:
        await asyncio.sleep(3.0)


def stop_server(run: Run) -> None:
    server, run.server = run.server, None
    _servers.stop_process(server, grace=20)


async def api(client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
    r = await client.request(method, path, **kw)
    if r.status_code >= 300:
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
    return r.json()


async def open_shop(run: Run, engine: str) -> Shop:
    db_name = await create_database(run, engine)
    db_url = sqlalchemy_url(run.args.postgres, db_name)
    secret = secrets.token_urlsafe(48)
    port = run.args.port or _servers.free_port()
    env = server_env(run, engine, db_url, port, secret)
    api_key = await seed_vendor(db_url, Path(env["PASAR_DATA_DIR"]), secret)
    log = start_server(run, env, port, engine)
    await wait_ready(run, log, port)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", headers=headers, timeout=30
    ) as client:
        product = await api(
            client,
            "POST",
            "/api/v1/products",
            json={
                "title": "Kemeja Batik Flash",
                "options": ["Size"],
                "variants": [{"sku": "KBF-M", "options": {"Size": "M"}, "price": 38_900_000}],
            },
        )
        show = await api(
            client,
            "POST",
            "/api/v1/shows",
            json={"title": "Harbolnas Flash Sale", "product_ids": [product["id"]]},
        )
        shopper_secret = (await api(client, "GET", "/api/v1/vendor/shopper-secret"))["secret"]
    run.redis_keys.append(f"rt:{{{show['id']}}}:*")
    return Shop(
        engine,
        db_name,
        db_url,
        port,
        api_key,
        product["id"],
        product["variants"][0]["id"],
        show["id"],
        shopper_secret,
    )


async def new_deal(run: Run, shop: Shop, quantity: int, limit: int, title: str) -> str:
    async with httpx.AsyncClient(
        base_url=shop.base, headers={"Authorization": f"Bearer {shop.api_key}"}, timeout=30
    ) as client:
        deal = await api(
            client,
            "POST",
            f"/api/v1/shows/{shop.show_id}/deals",
            json={
                "product_id": shop.product_id,
                "variant_ids": [shop.variant_id],
                "title": title,
                "price": 19_900_000,
                "currency": "IDR",
                "quantity": quantity,
                "per_shopper_limit": limit,
                "duration_seconds": 3600,
            },
        )
    run.redis_keys.append(f"stock:{{{deal['id']}}}:*")
    return str(deal["id"])


def write_tokens(path: Path, secret: str, subs: list[str]) -> None:
    exp = int(time.time()) + 6 * 3600
    with path.open("w") as f:
        for sub in subs:
            f.write(jwt.encode({"sub": sub, "exp": exp}, secret, "HS256") + "\n")


async def clean_redis(run: Run) -> None:
    if not run.redis_keys:
        return
    from redis.asyncio import Redis

    client: Redis = Redis.from_url(run.args.redis)
    try:
        for pattern in run.redis_keys:
            keys = [k async for k in client.scan_iter(match=pattern, count=1000)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()
    run.redis_keys.clear()


MINIMAL_APP = """
from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
"""


def start_minimal_app(run: Run) -> tuple[Path, int]:
    """The calibration's server: ``MINIMAL_APP`` under the same uvicorn set-up; (its
    log, its port)."""
    (run.tmp / "flash_minimal_app.py").write_text(MINIMAL_APP)
    port = run.args.port or _servers.free_port()
    env = _servers.env_without_pasar(PYTHONPATH=str(run.tmp))
    return start_server(run, env, port, "minimal", "flash_minimal_app:create_app"), port


async def cleanup(run: Run) -> None:
    for p in [*run.profilers, *([run.load] if run.load else [])]:
        if p.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            await p.wait()
    stop_server(run)
    try:
        await clean_redis(run)
    except Exception as exc:
        say(f"warning: could not remove the bench's Redis keys: {exc}")
    try:
        await drop_databases(run)
    except Exception as exc:
        say(f"warning: could not drop {run.databases}: {exc}")
    if not run.args.keep:
        shutil.rmtree(run.tmp, ignore_errors=True)
    else:
        say(f"kept {run.tmp}")
