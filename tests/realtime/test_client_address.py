"""Behind a trusted proxy each viewer is their own address (issue 10, item 11).

``PASAR_TRUSTED_PROXIES`` lists the proxies; a request or socket from one of them
is from the rightmost ``X-Forwarded-For`` address that is not a proxy. From any
other peer ``X-Forwarded-For`` is ignored, so nobody picks their own address.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import Request
from pydantic import ValidationError

from pasar.app import create_app
from pasar.settings import Settings
from tests.conftest import make_settings
from tests.realtime.client import Clients, Viewer, next_ip
from tests.realtime.conftest import ServerFactory, ShowCtx, seed_show, viewer

CROWD = 8  # connections x 5 messages: 40, twice an address's chat burst of 20


async def _chat_burst(crowd: list[Viewer]) -> list[dict[str, Any]]:
    refs = [[f"x{n}-{i}" for i in range(5)] for n in range(len(crowd))]
    await asyncio.gather(
        *(
            c.send([{"type": "chat.send", "text": r, "ref": r} for r in rs])
            for c, rs in zip(crowd, refs, strict=True)
        )
    )

    async def answers(v: Viewer, mine: list[str]) -> list[dict[str, Any]]:
        def check() -> list[dict[str, Any]] | None:
            got = [
                e for e in v.events if e["type"] in ("ack", "error") and e["data"]["ref"] in mine
            ]
            return got if len(got) == len(mine) else None

        found: list[dict[str, Any]] = await v.until(check, "answers")
        return found

    return [a for c, rs in zip(crowd, refs, strict=True) for a in await answers(c, rs)]


@pytest.fixture(scope="module")
def proxy_ip() -> str:
    return next_ip()


@pytest.fixture
async def pshow(server_factory: ServerFactory, proxy_ip: str) -> AsyncIterator[ShowCtx]:
    live = server_factory(trusted_proxies=f"{proxy_ip},10.0.0.0/8")
    async with httpx.AsyncClient(base_url=live.url, timeout=60) as http:
        yield await seed_show(live, http, live_state=True)


async def test_chat_limits_apply_per_forwarded_client(
    pshow: ShowCtx, clients: Clients, proxy_ip: str
) -> None:
    # Each viewer behind the proxy is their own address: nobody is limited.
    crowd = [
        await viewer(
            clients,
            pshow,
            ip=proxy_ip,
            headers={"X-Forwarded-For": f"198.51.100.{n}, 10.1.2.3"},  # client, inner proxy
        )
        for n in range(CROWD)
    ]
    got = await _chat_burst(crowd)
    assert all(a["type"] == "ack" for a in got), [a for a in got if a["type"] != "ack"][:3]

    # One forwarded client on many sockets shares that client's budget.
    same = [
        await viewer(clients, pshow, ip=proxy_ip, headers={"X-Forwarded-For": "203.0.113.50"})
        for _ in range(CROWD)
    ]
    got = await _chat_burst(same)
    limited = [a for a in got if a["type"] == "error"]
    assert limited and all(a["data"]["code"] == "rate_limited" for a in limited)


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    pshow: ShowCtx, clients: Clients
) -> None:
    spoofer = next_ip()  # not a trusted proxy
    crowd = [
        await viewer(clients, pshow, ip=spoofer, headers={"X-Forwarded-For": f"192.0.2.{n}"})
        for n in range(CROWD)
    ]
    got = await _chat_burst(crowd)
    limited = [a for a in got if a["type"] == "error"]
    assert limited, "made-up X-Forwarded-For addresses share the peer's budget"


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "seen"),
    [
        ("", "127.0.0.1", "203.0.113.1", "127.0.0.1"),  # default: trust nobody
        ("127.0.0.1", "127.0.0.1", "203.0.113.1", "203.0.113.1"),
        ("127.0.0.1", "127.0.0.2", "203.0.113.1", "127.0.0.2"),
        ("10.0.0.0/8", "10.9.8.7", "6.6.6.6, 203.0.113.1, 10.1.1.1", "203.0.113.1"),
    ],
)
async def test_http_requests_see_the_forwarded_client(
    tmp_path: Any, trusted: str, peer: str, forwarded: str, seen: str
) -> None:
    app = create_app(make_settings("sqlite+aiosqlite://", tmp_path, trusted_proxies=trusted))

    @app.get("/_test/whoami")
    async def whoami(request: Request) -> dict[str, str | None]:
        return {"ip": request.client.host if request.client else None}

    transport = httpx.ASGITransport(app=app, client=(peer, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://pasar.test") as c:
        r = await c.get("/_test/whoami", headers={"X-Forwarded-For": forwarded})
    assert r.json() == {"ip": seen}


@pytest.mark.parametrize("bad", ["*", "proxy.internal", "10.0.0.0/33"])
def test_trusted_proxies_must_be_addresses(bad: str) -> None:
    with pytest.raises(ValidationError, match="PASAR_TRUSTED_PROXIES"):
        Settings(trusted_proxies=bad)


def test_trusted_proxies_are_normalised() -> None:
    s = Settings(trusted_proxies=" 10.0.0.0/8 , 192.168.1.5,")
    assert s.trusted_proxy_list == ["10.0.0.0/8", "192.168.1.5"]
