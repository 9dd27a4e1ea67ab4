"""A real Pasar server on a loopback port for the show-socket protocol tests.

The server runs in a thread exactly the way ``pasar serve`` runs it: uvicorn
with ``PasarWebSocketProtocol`` (the hub's shared-frame fast path),
``ws_max_size`` from the settings and no per-message deflate. Tests talk to it
with real WebSocket clients (``tests/realtime/client.py``) and httpx.

Each test seeds its own vendor and show (``make_show``), so tests sharing one
server never see each other's events. Every client binds its own loopback
address (127.x.y.z), so the server's per-IP limits never leak between tests.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from pasar.app import create_app
from pasar.bootstrap import add_vendor_with_owner
from pasar.realtime.wire import PasarWebSocketProtocol
from pasar.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, service_missing
from tests.realtime.client import DESELECTED, FINISHED, Clients, Viewer

T = TypeVar("T")
HERE = Path(__file__).parent


def pytest_deselected(items: list[pytest.Item]) -> None:
    DESELECTED.extend(i.nodeid for i in items if Path(str(i.path)).parent == HERE)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Called for the tests of this directory only (and in the process that ran them).
    if report.when == "teardown":
        FINISHED.add(report.nodeid)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Server(uvicorn.Server):
    loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)


@dataclass
class LiveServer:
    """One running server. ``call`` runs a coroutine on the server's own loop
    (seeding uses the app's services, which belong to that loop)."""

    settings: Settings
    app: Any
    server: _Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.settings.resolved_public_url

    @property
    def ws_url(self) -> str:
        return "ws" + self.url.removeprefix("http")

    async def call(self, factory: Callable[[], Awaitable[T]]) -> T:
        assert self.server.loop is not None

        async def run() -> T:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(run(), self.server.loop)
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(database_url: str, data_dir: Path, **overrides: Any) -> LiveServer:
    """Start a server like ``pasar serve`` does, with ``overrides`` as settings."""
    port = _free_port()
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        host="127.0.0.1",
        port=port,
        public_url=f"http://127.0.0.1:{port}",
        secret_key="realtime-test-secret",
        auto_migrate=False,
        log_level="warning",
        # Snapshots read fresh per joiner, so that tests can say what one holds;
        # sharing them is test_idle_viewers.py's.
        **({"ws_snapshot_shared_ms": 0} | overrides),
    )
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,  # as `pasar serve`: PASAR_TRUSTED_PROXIES decides
        ws=PasarWebSocketProtocol,
        ws_max_size=settings.ws_max_message_bytes,
        ws_per_message_deflate=False,
        timeout_keep_alive=settings.keep_alive_seconds,
        log_level="warning",
        access_log=False,
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name=f"pasar-test-{port}")
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the realtime test server did not start")
        time.sleep(0.02)
    return LiveServer(settings, app, server, thread)


# -- databases -----------------------------------------------------------------


def _database(kind: str, request: pytest.FixtureRequest, tmp: Path, template: Path) -> str:
    if kind == "sqlite":
        target = tmp / "pasar.db"
        shutil.copy(template, target)
        return f"sqlite+aiosqlite:///{target}"
    url: str | Exception = request.getfixturevalue("postgres_url")
    if isinstance(url, Exception):
        service_missing("PostgreSQL", f"{POSTGRES_ADMIN_URL}: {type(url).__name__}: {url}")
        raise AssertionError("unreachable")
    return url  # tests seed unique vendors, so a shared database is fine


ServerFactory = Callable[..., LiveServer]


@pytest.fixture(scope="module")
def server_factory(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[ServerFactory]:
    """Start servers with particular settings (SQLite); all stop with the module."""
    started: list[LiveServer] = []

    def make(**overrides: Any) -> LiveServer:
        tmp = tmp_path_factory.mktemp("rt")
        live = start_server(_database("sqlite", request, tmp, sqlite_template), tmp, **overrides)
        started.append(live)
        return live

    yield make
    for live in started:
        live.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[LiveServer]:
    """The default server, once on SQLite and once on PostgreSQL."""
    tmp = tmp_path_factory.mktemp("rt")
    live = start_server(_database(request.param, request, tmp, sqlite_template), tmp)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def sqlite_server(server_factory: ServerFactory) -> LiveServer:
    """The default server on SQLite only, for tests whose database does not matter."""
    return server_factory()


# -- seeded vendors and shows ------------------------------------------------------


@dataclass
class ShowCtx:
    server: LiveServer
    http: httpx.AsyncClient
    vendor_id: str
    show_id: str
    key: str
    email: str
    password: str
    owner_id: str
    _staff_cookie: str | None = field(default=None, repr=False)
    _csrf: str | None = field(default=None, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def api(self, method: str, path: str, *, status: int = 200, **kw: Any) -> Any:
        r = await self.http.request(method, path, headers=self.headers, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    def show_api(self, rest: str = "") -> str:
        return f"/api/v1/shows/{self.show_id}{rest}"

    async def staff_login(self) -> tuple[str, str]:
        """The owner's studio session: (cookie value, CSRF token)."""
        if self._staff_cookie is None:
            r = await self.http.post(
                "/api/v1/auth/login", json={"email": self.email, "password": self.password}
            )
            assert r.status_code == 200, r.text
            self._staff_cookie = r.cookies["pasar_session"]
            self._csrf = r.json()["csrf_token"]
            self.http.cookies.clear()  # API-key requests stay API-key requests
        assert self._csrf is not None
        return self._staff_cookie, self._csrf

    async def sibling(self) -> ShowCtx:
        """Another live show of the same vendor."""
        r = await self.http.post("/api/v1/shows", json={"title": "Encore"}, headers=self.headers)
        assert r.status_code == 201, r.text
        other = ShowCtx(
            self.server, self.http, self.vendor_id, r.json()["id"], self.key, self.email,
            self.password, self.owner_id,
        )  # fmt: skip
        await other.transition("live")
        return other

    async def transition(self, to: str) -> None:
        await self.api("POST", self.show_api("/transitions"), json={"to": to})

    async def post_chat(self, text: str) -> dict[str, Any]:
        out: dict[str, Any] = await self.api(
            "POST", self.show_api("/chat"), status=201, json={"text": text}
        )
        return out

    async def chat_settings(self, **body: Any) -> None:
        await self.api("PUT", self.show_api("/chat/settings"), json=body)

    async def block(self, term: str, kind: str = "word", *, this_show: bool = True) -> None:
        body: dict[str, Any] = {"term": term, "kind": kind}
        if this_show:
            body["show_id"] = self.show_id
        await self.api("POST", "/api/v1/moderation/blocked-terms", status=201, json=body)


MakeShow = Callable[..., Awaitable[ShowCtx]]


async def seed_show(live: LiveServer, http: httpx.AsyncClient, *, live_state: bool) -> ShowCtx:
    slug = f"rt-{uuid.uuid4().hex[:10]}"
    email, password = f"owner@{slug}.example", f"a long password {slug}"
    services = live.app.state.services

    async def seed() -> Any:
        async with services.db.session() as db:
            created = await add_vendor_with_owner(
                db, services, name=f"Toko {slug}", slug=slug, email=email, password=password
            )
            await db.commit()
            return created

    created = await live.call(seed)
    headers = {"Authorization": f"Bearer {created.api_key}"}
    r = await http.post("/api/v1/shows", json={"title": "Harbolnas Live"}, headers=headers)
    assert r.status_code == 201, r.text
    ctx = ShowCtx(
        live,
        http,
        created.vendor_id,
        r.json()["id"],
        created.api_key,
        email,
        password,
        created.user_id,
    )
    if live_state:
        await ctx.transition("live")
    return ctx


@pytest.fixture
async def http(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture
async def make_show(server: LiveServer, http: httpx.AsyncClient) -> MakeShow:
    """A fresh vendor with a show on the default server (live unless asked)."""

    async def make(*, live: bool = True) -> ShowCtx:
        return await seed_show(server, http, live_state=live)

    return make


@pytest.fixture
async def show(make_show: MakeShow) -> ShowCtx:
    return await make_show()


@pytest.fixture
async def clients() -> AsyncIterator[Clients]:
    """Opens WebSocket clients; on teardown closes them and fails the test if any
    received an event that does not validate against its schema."""
    pool = Clients()
    try:
        yield pool
    finally:
        await pool.aclose()


async def staff_socket(clients: Clients, show: ShowCtx) -> Viewer:
    """The owner on the show's socket with their studio session (and the studio's Origin)."""
    cookie, _ = await show.staff_login()
    staff = await clients.connect(
        show.server.url, show.show_id, cookie=cookie, origin=show.server.url
    )
    me = (await staff.next("snapshot"))["data"]["me"]
    assert me["role"] == "staff", me
    return staff


async def viewer(clients: Clients, show: ShowCtx, **kw: Any) -> Viewer:
    """A guest (or whoever ``kw`` says) past their snapshot."""
    v = await clients.connect(show.server.url, show.show_id, **kw)
    await v.next("snapshot")
    return v
