"""A real nginx-rtmp (Debian's nginx + libnginx-mod-rtmp) in front of a real
Pasar server: a synthetic RTMP stream pushed with the show's key takes the show
live, HLS appears under the show id (never the key) at the show's playback_url,
and when the push stops the show reconnects, comes back, and finally ends after
the grace. A wrong key is refused by nginx and changes nothing.

nginx runs as a subprocess with a configuration written into a temporary
directory (.ci/run installs the packages; locally the test is skipped without
them); the stream is encoded with PyAV (libx264 + AAC into FLV over RTMP) in a
process of its own (tests/media/rtmp_push.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from pasar.app import create_app
from pasar.bootstrap import add_vendor_with_owner
from pasar.services import Services
from pasar.settings import Settings
from tests.conftest import service_missing
from tests.servers import free_port, serving

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
ROOT = Path(__file__).resolve().parents[2]
SECRET = "nginx-hook-secret-0123456789"
GRACE = 4.0
pytestmark = pytest.mark.timeout(180)


# -- the two servers -------------------------------------------------------------------


@dataclass
class Stack:
    pasar: str  # http://127.0.0.1:port
    rtmp: str  # rtmp://127.0.0.1:port/live
    hls_dir: Path
    api_key: str
    nginx_log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


NGINX_CONF = """\
load_module {module};
daemon off;
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}

rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        chunk_size 4096;

        # Publishers push here with the stream key as the stream name. Pasar's
        # on_publish answers a redirect to the show id, which renames the stream
        # before it is relayed to the hls application below.
        application live {{
            live on;
            deny play all;
            on_publish http://127.0.0.1:{pasar_port}/hooks/nginx-rtmp/on_publish?secret={secret};
            on_publish_done http://127.0.0.1:{pasar_port}/hooks/nginx-rtmp/on_publish_done?secret={secret};
            on_update http://127.0.0.1:{pasar_port}/hooks/nginx-rtmp/on_update?secret={secret};
            notify_update_timeout 2s;
            push rtmp://127.0.0.1:{rtmp_port}/hls;
        }}

        # Only the relay above publishes here, under the show id.
        application hls {{
            live on;
            allow publish 127.0.0.1;
            deny publish all;
            deny play all;
            hls on;
            hls_path {root}/hls;
            hls_nested on;
            hls_fragment 1s;
            hls_playlist_length 6s;
        }}
    }}
}}

http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
    types {{
        application/vnd.apple.mpegurl m3u8;
        video/mp2t ts;
    }}
    server {{
        listen 127.0.0.1:{http_port};
        location /hls/ {{
            alias {root}/hls/;
            add_header Cache-Control no-cache;
            add_header Access-Control-Allow-Origin *;
        }}
    }}
}}
"""


@contextlib.contextmanager
def pasar_server(settings: Settings) -> Iterator[None]:
    with serving(create_app(settings), settings.port):
        yield


@contextlib.contextmanager
def nginx_server(conf: Path, root: Path, port: int) -> Iterator[None]:
    proc = subprocess.Popen(
        [NGINX, "-p", str(root), "-c", str(conf), "-e", str(root / "error.log")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"nginx exited ({proc.returncode}): {out}")
            if time.monotonic() > deadline:
                raise RuntimeError("nginx did not start listening")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def stack(tmp_path: Path, sqlite_template: Path) -> Iterator[Stack]:
    if not Path(NGINX).exists():
        service_missing("nginx", f"{NGINX} not found (apt-get install nginx libnginx-mod-rtmp)")
    if not RTMP_MODULE.exists():
        service_missing(
            "nginx-rtmp", f"{RTMP_MODULE} not found (apt-get install libnginx-mod-rtmp)"
        )
    pasar_port, rtmp_port, http_port = free_port(), free_port(), free_port()
    root = tmp_path / "nginx"
    for sub in ("hls", "tmp"):
        (root / sub).mkdir(parents=True)
    conf = root / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            module=RTMP_MODULE,
            root=root,
            rtmp_port=rtmp_port,
            http_port=http_port,
            pasar_port=pasar_port,
            secret=SECRET,
        )
    )
    db = tmp_path / "pasar.db"
    shutil.copy(sqlite_template, db)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{db}",
        data_dir=tmp_path / "data",
        port=pasar_port,
        secret_key="nginx-rtmp-test-secret",  # type: ignore[arg-type]
        auto_migrate=False,
        media_server="nginx-rtmp",
        media_server_hls_url=f"http://127.0.0.1:{http_port}/hls/{{show_id}}/index.m3u8",
        media_server_rtmp_url=f"rtmp://127.0.0.1:{rtmp_port}/live",
        media_hook_secret=SECRET,  # type: ignore[arg-type]
        publish_grace_seconds=GRACE,
    )

    async def seed() -> str:
        services = Services.build(settings)
        try:
            async with services.db.session() as session:
                made = await add_vendor_with_owner(
                    session,
                    services,
                    name="Toko RTMP",
                    slug="toko-rtmp",
                    email="owner@toko-rtmp.example",
                    password="correct horse battery",
                )
                await session.commit()
            return made.api_key
        finally:
            await services.close()

    api_key = asyncio.run(seed())
    with pasar_server(settings), nginx_server(conf, root, rtmp_port):
        yield Stack(
            pasar=f"http://127.0.0.1:{pasar_port}",
            rtmp=f"rtmp://127.0.0.1:{rtmp_port}/live",
            hls_dir=root / "hls",
            api_key=api_key,
            nginx_log=root / "error.log",
        )


# -- a synthetic RTMP publisher (its own process: see tests/media/rtmp_push.py) ----------


async def push(url: str, seconds: float) -> bool:
    """Publish for ``seconds``; whether the server took the whole stream."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.media.rtmp_push",
        url,
        str(seconds),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), seconds + 60) == 0


# -- watching the show's channel -----------------------------------------------------------


@dataclass
class Channel:
    events: list[dict[str, Any]] = field(default_factory=list)

    def statuses(self) -> list[str]:
        return [e["data"]["status"] for e in self.events if e["type"] == "stream.status"]

    def states(self) -> list[str]:
        return [e["data"]["state"] for e in self.events if e["type"] == "show.state"]

    async def until(self, check: Any, what: str, within: float = 20) -> None:
        deadline = time.monotonic() + within
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; saw {self.events}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def watch(stack: Stack, show_id: str) -> AsyncIterator[Channel]:
    channel = Channel()
    uri = stack.pasar.replace("http", "ws", 1) + f"/ws/shows/{show_id}"
    async with connect(uri, ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "auth"}))

        async def read() -> None:
            async for frame in ws:
                channel.events.extend(e for e in json.loads(frame) if e["type"] != "snapshot")

        reader = asyncio.create_task(read())
        try:
            yield channel
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


# -- the test ------------------------------------------------------------------------------


async def test_rtmp_push_through_nginx_takes_the_show_live_and_ends_it(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.pasar, headers=stack.headers, timeout=10) as api:
        r = await api.post("/api/v1/shows", json={"title": "RTMP live"})
        assert r.status_code == 201, r.text
        show = r.json()
        show_id = show["id"]
        ingest = (await api.get(f"/api/v1/shows/{show_id}/ingest")).json()
        key = ingest["stream_key"]
        assert ingest["rtmp_url"] == stack.rtmp
        playback = show["playback_url"]
        assert playback.endswith(f"/hls/{show_id}/index.m3u8")
        assert key not in playback

        async def state() -> str:
            r = await api.get(f"/api/v1/shows/{show_id}")
            return str(r.json()["state"])

        # A wrong key, or the show id in place of the key: nginx refuses the
        # publish and nothing changes.
        assert not await push(f"{stack.rtmp}/live_{'x' * 43}", 1)
        assert not await push(f"{stack.rtmp}/{show_id}", 1)
        assert await state() == "scheduled"
        assert not any(stack.hls_dir.iterdir())

        async with watch(stack, show_id) as channel, httpx.AsyncClient(timeout=5) as player:
            publishing = asyncio.create_task(push(f"{stack.rtmp}/{key}", 8))
            await channel.until(lambda: "live" in channel.states(), "show.state live")
            assert await state() == "live"

            # HLS appears at the show's playback_url on nginx, under the show id.
            playlist = ""
            deadline = time.monotonic() + 15
            while "#EXTINF" not in playlist:
                assert time.monotonic() < deadline, f"no HLS at {playback}"
                r = await player.get(playback)
                playlist = r.text if r.status_code == 200 else ""
                await asyncio.sleep(0.2)
            segment = next(line for line in playlist.splitlines() if line.endswith(".ts"))
            r = await player.get(httpx.URL(playback).join(segment))
            assert r.status_code == 200 and len(r.content) > 1000
            names = [str(p.relative_to(stack.hls_dir)) for p in stack.hls_dir.rglob("*")]
            assert names and not [n for n in names if key in n]
            assert all(n.startswith(show_id) for n in names)

            # A second publisher with the same key is refused by nginx (the name
            # is taken) and its end does not put the show into reconnecting.
            assert not await push(f"{stack.rtmp}/{key}", 1)
            await asyncio.sleep(0.5)
            assert channel.statuses() == ["live"]
            assert not publishing.done()

            assert await publishing  # the push ends: nginx calls on_publish_done
            await channel.until(
                lambda: channel.statuses()[-1:] == ["reconnecting"], "stream.status reconnecting"
            )
            assert await state() == "live"

            # Back within the grace: the same show goes on.
            assert await push(f"{stack.rtmp}/{key}", 2)
            await channel.until(lambda: channel.statuses().count("live") >= 2, "live again")
            assert await state() == "live"

            # Gone for good: after the grace the show ends.
            await channel.until(lambda: "ended" in channel.states(), "show.state ended", GRACE + 10)
            await channel.until(lambda: channel.statuses()[-1:] == ["ended"], "stream.status ended")
        assert await state() == "ended"
        assert channel.statuses() == ["live", "reconnecting", "live", "reconnecting", "ended"]
        assert channel.states() == ["live", "ended"]

        # An ended show takes no publisher.
        assert not await push(f"{stack.rtmp}/{key}", 1)
        assert await state() == "ended"
    log = stack.nginx_log.read_text()
    assert f"publish redirect to '{show_id}'" in log
