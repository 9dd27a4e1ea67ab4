"""External media servers' callbacks (/hooks/...), in-process on both backends:
MediaMTX's auth hook and ready/not-ready, nginx-rtmp's on_publish,
on_publish_done and on_update, the URLs the API hands out, and that the secret
stream key never shows up in a public one. (tests/media/test_nginx_rtmp.py runs
a real nginx-rtmp.)"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from pasar.app import create_app
from pasar.settings import Settings
from tests.conftest import VendorCtx, _truncate, make_settings

SECRET = "hook-secret-0123456789"
GRACE = 0.3
HLS = "https://media.example.com/live/{show_id}/index.m3u8"
pytestmark = pytest.mark.timeout(60)


def external_settings(database_url: str, data_dir: Path, server: str) -> Settings:
    return make_settings(
        database_url,
        data_dir,
        media_server=server,
        media_server_hls_url=HLS,
        media_server_rtmp_url=(
            "rtmp://media.example.com/live/{show_id}?key={stream_key}"
            if server == "mediamtx"
            else "rtmp://media.example.com/live"
        ),
        media_server_whip_url="https://media.example.com:8889/live/{show_id}/whip",
        media_hook_secret=SECRET,
        publish_grace_seconds=GRACE,
    )


@pytest.fixture(params=["mediamtx", "nginx-rtmp"])
def server(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def app(database_url: str, tmp_path: Path, server: str) -> AsyncIterator[FastAPI]:
    """The conftest's app, with an external media server (so `client` and
    `vendor` come with it)."""
    application = create_app(external_settings(database_url, tmp_path / "data", server))
    await _truncate(application.state.services.db)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def statuses(app: FastAPI) -> list[tuple[str, str]]:
    """The stream.status announcements, in order."""
    seen: list[tuple[str, str]] = []
    link = app.state.services.show_link
    announce = link.status

    async def record(show_id: str, status: str) -> None:
        seen.append((show_id, status))
        await announce(show_id, status)

    link.status = record
    return seen


async def new_show(client: httpx.AsyncClient, vendor: VendorCtx) -> tuple[str, str]:
    r = await client.post("/api/v1/shows", json={"title": "Live"}, headers=vendor.headers)
    assert r.status_code == 201, r.text
    show_id = r.json()["id"]
    r = await client.get(f"/api/v1/shows/{show_id}/ingest", headers=vendor.headers)
    return show_id, r.json()["stream_key"]


async def state(client: httpx.AsyncClient, vendor: VendorCtx, show_id: str) -> str:
    r = await client.get(f"/api/v1/shows/{show_id}", headers=vendor.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["state"])


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def expect_error(r: httpx.Response, status: int, code: str | None = None) -> None:
    assert r.status_code == status, r.text
    if code is not None:
        assert r.json()["error"]["code"] == code, r.text


# -- MediaMTX ------------------------------------------------------------------------


async def mtx(
    client: httpx.AsyncClient, secret: str | None = SECRET, **body: Any
) -> httpx.Response:
    fields = {
        "user": "",
        "password": "",
        "token": "",
        "ip": "203.0.113.9",
        "action": "publish",
        "path": "",
        "protocol": "rtmp",
        "id": None,
        "query": "",
    }
    fields.update(body)
    url = "/hooks/mediamtx/auth" + (f"?secret={secret}" if secret is not None else "")
    return await client.post(url, json=fields)


async def mtx_hook(client: httpx.AsyncClient, which: str, path: str) -> httpx.Response:
    return await client.post(
        f"/hooks/mediamtx/{which}?{urlencode({'path': path})}",
        headers={"X-Pasar-Hook-Secret": SECRET},
    )


@pytest.mark.parametrize("server", ["mediamtx"])
async def test_mediamtx_publish_goes_live_reconnects_and_ends(
    client: httpx.AsyncClient, vendor: VendorCtx, statuses: list[tuple[str, str]]
) -> None:
    show_id, key = await new_show(client, vendor)
    path = f"live/{show_id}"

    # Nobody may read a show that is not on.
    expect_error(await mtx(client, action="read", path=path, protocol="hls"), 403)

    # The key in the query (RTMP/SRT URL), as password or as a Bearer token (WHIP).
    r = await mtx(client, path=path, query=f"key={key}")
    assert r.status_code == 204, r.text
    assert await state(client, vendor, show_id) == "live"
    assert (await mtx(client, path=path, user="any", password=key)).status_code == 204
    assert (await mtx(client, path=path, protocol="webrtc", token=key)).status_code == 204

    assert (await mtx(client, action="read", path=path, protocol="hls")).status_code == 204
    assert (await mtx(client, action="playback", path=path)).status_code == 204

    assert (await mtx_hook(client, "ready", path)).status_code == 204
    assert (await mtx_hook(client, "not_ready", path)).status_code == 204
    assert statuses[-1] == (show_id, "reconnecting")
    assert await state(client, vendor, show_id) == "live"

    # Publishing again within the grace continues the show.
    assert (await mtx(client, path=path, query=f"key={key}")).status_code == 204
    assert statuses[-1] == (show_id, "live")
    await asyncio.sleep(GRACE * 2)
    assert await state(client, vendor, show_id) == "live"

    assert (await mtx_hook(client, "not_ready", path)).status_code == 204

    async def ended() -> bool:
        return await state(client, vendor, show_id) == "ended"

    await eventually(ended)
    await eventually(lambda: asyncio.sleep(0, result=statuses[-1] == (show_id, "ended")))
    # An ended show takes no publisher and no readers.
    expect_error(await mtx(client, path=path, query=f"key={key}"), 403, "show_over")
    expect_error(await mtx(client, action="read", path=path), 403)


@pytest.mark.parametrize("server", ["mediamtx"])
async def test_mediamtx_refuses_wrong_keys_paths_and_actions(
    client: httpx.AsyncClient, vendor: VendorCtx, make_vendor: Any
) -> None:
    show_id, key = await new_show(client, vendor)
    other = await make_vendor()
    other_id, other_key = await new_show(client, other)
    path = f"live/{show_id}"

    expect_error(await mtx(client, path=path, query="key=live_wrong"), 401)
    expect_error(await mtx(client, path=path), 401)  # no key at all
    expect_error(await mtx(client, path=path, password=key[:-1]), 401)
    # A good key only publishes to its own show's path.
    expect_error(await mtx(client, path=f"live/{other_id}", password=key), 403, "wrong_path")
    expect_error(await mtx(client, path=show_id, password=key), 403, "wrong_path")
    expect_error(await mtx(client, path=f"live/{key}", password=key), 403, "wrong_path")
    expect_error(await mtx(client, path="live/a/b", password=key), 403, "wrong_path")
    for action in ("api", "metrics", "pprof", "bogus"):
        expect_error(await mtx(client, action=action, path=path), 403)
    # The secret comes first: without it a good key is not even looked at.
    expect_error(await mtx(client, secret=None, path=path, password=key), 401)
    expect_error(await mtx(client, secret="wrong", path=path, password=key), 401)
    # Unknown paths and shows: refused, never a 5xx.
    expect_error(await mtx_hook(client, "ready", "live/show_nothing"), 404)
    expect_error(await mtx_hook(client, "not_ready", "nope"), 403)
    assert (await mtx_hook(client, "not_ready", "live/show_nothing")).status_code == 204

    assert await state(client, vendor, show_id) == "scheduled"
    assert await state(client, other, other_id) == "scheduled"
    assert other_key != key


@pytest.mark.parametrize("server", ["mediamtx"])
@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b"{}",
        b'{"action": 3}',
        b'{"action": "publish", "password": ["x"]}',
        b'{"action": "publish", "query": {"key": 1}}',
        b"\xff\xfe",
        b'{"action": "read", "path": "live/show_\\u0000"}',
    ],
)
async def test_mediamtx_bad_input_is_a_4xx(client: httpx.AsyncClient, body: bytes) -> None:
    r = await client.post(
        f"/hooks/mediamtx/auth?secret={SECRET}",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert 400 <= r.status_code < 500, r.text


@pytest.mark.parametrize("server", ["mediamtx"])
async def test_mediamtx_urls_keep_the_key_out_of_public_ones(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    show_id, key = await new_show(client, vendor)
    show = (await client.get(f"/api/v1/shows/{show_id}", headers=vendor.headers)).json()
    assert show["playback_url"] == f"https://media.example.com/live/{show_id}/index.m3u8"
    assert key not in str(show)
    ingest = (await client.get(f"/api/v1/shows/{show_id}/ingest", headers=vendor.headers)).json()
    assert ingest["rtmp_url"] == f"rtmp://media.example.com/live/{show_id}?key={key}"
    assert ingest["whip_url"] == f"https://media.example.com:8889/live/{show_id}/whip"


# -- nginx-rtmp ----------------------------------------------------------------------


def form(call: str, name: str, clientid: str = "1", args: str = "") -> str:
    body = urlencode(
        {
            "app": "live",
            "flashver": "FMLE/3.0",
            "swfurl": "",
            "tcurl": "rtmp://media.example.com/live",
            "pageurl": "",
            "addr": "203.0.113.9",
            "clientid": clientid,
            "call": call,
            "name": name,
            "type": "live",
        }
    )
    return f"{body}&{args}" if args else body


async def nginx(
    client: httpx.AsyncClient, hook: str, body: str, secret: str | None = SECRET
) -> httpx.Response:
    url = f"/hooks/nginx-rtmp/{hook}" + (f"?secret={secret}" if secret is not None else "")
    return await client.post(
        url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )


@pytest.mark.parametrize("server", ["nginx-rtmp"])
async def test_nginx_publish_renames_to_the_show_and_the_grace_ends_it(
    client: httpx.AsyncClient, vendor: VendorCtx, statuses: list[tuple[str, str]]
) -> None:
    show_id, key = await new_show(client, vendor)

    r = await nginx(client, "on_publish", form("publish", key))
    assert r.status_code == 302, r.text
    assert r.headers["location"] == show_id
    assert await state(client, vendor, show_id) == "live"
    assert statuses[-1] == (show_id, "live")
    assert (await nginx(client, "on_update", form("update_publish", key))).status_code == 204

    # A reconnect: the new publisher arrives before nginx notices the old one left.
    assert (await nginx(client, "on_publish", form("publish", key, "2"))).status_code == 302
    assert statuses == [(show_id, "live")]  # still live: no second announcement
    assert (await nginx(client, "on_publish_done", form("publish_done", key))).status_code == 204
    await asyncio.sleep(GRACE * 2)
    assert await state(client, vendor, show_id) == "live"
    assert statuses[-1] == (show_id, "live")

    # The last publisher leaves: reconnecting, then ended after the grace.
    r = await nginx(client, "on_publish_done", form("publish_done", key, "2"))
    assert r.status_code == 204
    assert statuses[-1] == (show_id, "reconnecting")
    assert await state(client, vendor, show_id) == "live"

    async def ended() -> bool:
        return await state(client, vendor, show_id) == "ended"

    await eventually(ended)
    await eventually(lambda: asyncio.sleep(0, result=statuses[-1] == (show_id, "ended")))
    expect_error(await nginx(client, "on_publish", form("publish", key, "3")), 403, "show_over")
    expect_error(await nginx(client, "on_update", form("update_publish", key)), 403)


@pytest.mark.parametrize("server", ["nginx-rtmp"])
async def test_nginx_republish_within_the_grace_continues_the_show(
    client: httpx.AsyncClient, vendor: VendorCtx, statuses: list[tuple[str, str]]
) -> None:
    show_id, key = await new_show(client, vendor)
    assert (await nginx(client, "on_publish", form("publish", key))).status_code == 302
    assert (await nginx(client, "on_publish_done", form("publish_done", key))).status_code == 204
    assert statuses[-1] == (show_id, "reconnecting")
    assert (await nginx(client, "on_publish", form("publish", key, "2"))).status_code == 302
    assert statuses[-1] == (show_id, "live")
    await asyncio.sleep(GRACE * 2)
    assert await state(client, vendor, show_id) == "live"


@pytest.mark.parametrize("server", ["nginx-rtmp"])
async def test_nginx_end_of_a_publish_finds_its_show_after_a_key_rotation(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    show_id, key = await new_show(client, vendor)
    assert (await nginx(client, "on_publish", form("publish", key))).status_code == 302
    r = await client.post(f"/api/v1/shows/{show_id}/ingest/rotate", headers=vendor.headers)
    assert r.status_code == 200
    # The running publish goes on; a new one with the old key is refused.
    assert (await nginx(client, "on_update", form("update_publish", key))).status_code == 204
    expect_error(await nginx(client, "on_publish", form("publish", key, "2")), 401)
    assert (await nginx(client, "on_publish_done", form("publish_done", key))).status_code == 204

    async def ended() -> bool:
        return await state(client, vendor, show_id) == "ended"

    await eventually(ended)


@pytest.mark.parametrize("server", ["nginx-rtmp"])
async def test_nginx_ending_in_the_studio_drops_the_publisher(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    show_id, key = await new_show(client, vendor)
    assert (await nginx(client, "on_publish", form("publish", key))).status_code == 302
    r = await client.post(
        f"/api/v1/shows/{show_id}/transitions", json={"to": "ended"}, headers=vendor.headers
    )
    assert r.status_code == 200, r.text
    expect_error(await nginx(client, "on_update", form("update_publish", key)), 403, "show_over")


@pytest.mark.parametrize("server", ["nginx-rtmp"])
async def test_nginx_refuses_wrong_keys_and_forged_fields(
    client: httpx.AsyncClient, vendor: VendorCtx, statuses: list[tuple[str, str]]
) -> None:
    show_id, key = await new_show(client, vendor)

    expect_error(await nginx(client, "on_publish", form("publish", "live_wrong")), 401)
    expect_error(await nginx(client, "on_publish", form("publish", show_id)), 401)
    expect_error(await nginx(client, "on_publish", form("publish", key), secret=None), 401)
    expect_error(await nginx(client, "on_publish", form("publish", key), secret="nope"), 401)
    # The publisher's own query string comes after nginx's fields and cannot
    # replace them: a wrong key with ?name=<key> stays a wrong key.
    forged = form("publish", "live_wrong", args=f"name={key}&call=publish")
    expect_error(await nginx(client, "on_publish", forged), 401)
    # Each hook takes its own call.
    expect_error(await nginx(client, "on_publish", form("play", key)), 400)
    expect_error(await nginx(client, "on_publish_done", form("publish", key)), 400)
    # The end of a publish nobody started names no show.
    expect_error(await nginx(client, "on_publish_done", form("publish_done", "live_x")), 401)

    assert await state(client, vendor, show_id) == "scheduled"
    assert statuses == []


@pytest.mark.parametrize("server", ["nginx-rtmp"])
@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        ("", "application/x-www-form-urlencoded"),
        ("call=publish", "application/x-www-form-urlencoded"),
        ("name=live_x", "application/x-www-form-urlencoded"),
        ("call=publish&name=" + "x" * 300, "application/x-www-form-urlencoded"),
        ("call=publish&name=live_%00", "application/x-www-form-urlencoded"),
        ("call=publish&name=%ff%fe", "application/x-www-form-urlencoded"),
        ('{"call": "publish", "name": "live_x"}', "application/json"),
        ("call=publish&name=live_x", "text/plain"),
        ("x" * 20_000, "application/x-www-form-urlencoded"),
    ],
)
async def test_nginx_bad_input_is_a_4xx(client: httpx.AsyncClient, body: str, ctype: str) -> None:
    for hook in ("on_publish", "on_publish_done", "on_update"):
        r = await client.post(
            f"/hooks/nginx-rtmp/{hook}?secret={SECRET}",
            content=body.encode("latin-1"),
            headers={"Content-Type": ctype},
        )
        assert 400 <= r.status_code < 500, (hook, r.text)


@pytest.mark.parametrize("server", ["nginx-rtmp"])
async def test_nginx_urls(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    show_id, key = await new_show(client, vendor)
    ingest = (await client.get(f"/api/v1/shows/{show_id}/ingest", headers=vendor.headers)).json()
    assert ingest["rtmp_url"] == "rtmp://media.example.com/live"
    assert ingest["stream_key"] == key
    r = await client.get("/api/v1/shows", headers=vendor.headers)
    (show,) = r.json()["data"]
    assert show["playback_url"] == f"https://media.example.com/live/{show_id}/index.m3u8"


# -- hooks belong to the configured server only ----------------------------------------


async def test_the_other_servers_hooks_are_off(
    client: httpx.AsyncClient, server: str, vendor: VendorCtx
) -> None:
    _, key = await new_show(client, vendor)
    if server == "mediamtx":
        r = await nginx(client, "on_publish", form("publish", key))
    else:
        r = await mtx(client, path="live/x", password=key)
    expect_error(r, 404)


async def test_the_hooks_are_not_in_the_openapi_document(app: FastAPI) -> None:
    assert not [p for p in app.openapi()["paths"] if p.startswith("/hooks")]


@pytest.mark.parametrize("server", ["builtin"])
async def test_with_the_builtin_plane_hooks_are_off_and_urls_are_ours(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    show_id, key = await new_show(client, vendor)
    expect_error(await nginx(client, "on_publish", form("publish", key)), 404)
    expect_error(await mtx(client, path=f"live/{show_id}", password=key), 404)
    show = (await client.get(f"/api/v1/shows/{show_id}", headers=vendor.headers)).json()
    assert show["playback_url"] == f"http://testserver/hls/{show_id}/index.m3u8"
    ingest = (await client.get(f"/api/v1/shows/{show_id}/ingest", headers=vendor.headers)).json()
    assert ingest["rtmp_url"] is None
    assert ingest["whip_url"] == "http://testserver/whip"


# -- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"media_server": "nginx-rtmp"}, "PASAR_MEDIA_SERVER_HLS_URL"),
        (
            {"media_server": "mediamtx", "media_server_hls_url": "http://m/live/x.m3u8"},
            "PASAR_MEDIA_SERVER_HLS_URL",
        ),
        ({"media_server": "mediamtx", "media_server_hls_url": HLS}, "PASAR_MEDIA_HOOK_SECRET"),
        (
            {"media_server": "mediamtx", "media_server_hls_url": HLS, "media_hook_secret": "short"},
            "PASAR_MEDIA_HOOK_SECRET",
        ),
        (
            {"media_server_hls_url": "http://m/{stream_key}.m3u8"},
            "unknown placeholder {stream_key}",
        ),
        ({"media_server_rtmp_url": "rtmp://m/{key}"}, "unknown placeholder {key}"),
        ({"media_server_whip_url": "http://m/{show_id!r}"}, "format spec or conversion"),
        ({"media_server_rtmp_url": "rtmp://m/{"}, "PASAR_MEDIA_SERVER_RTMP_URL"),
    ],
)
def test_media_server_settings_are_checked(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{")):
        Settings(**extra)
