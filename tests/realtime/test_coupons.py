"""Coupons over the show socket: staff post one, every viewer gets the code to copy."""

from __future__ import annotations

import httpx

from tests.realtime.client import Clients
from tests.realtime.conftest import LiveServer, ShowCtx, viewer


async def test_a_posted_coupon_reaches_every_viewer_with_its_code(
    server: LiveServer, show: ShowCtx, clients: Clients, http: httpx.AsyncClient
) -> None:
    watchers = [await viewer(clients, show) for _ in range(2)]
    made = await show.api(
        "POST",
        "/api/v1/coupons",
        status=201,
        json={
            "code": "live20",
            "description": "20% selama live",
            "kind": "percent",
            "value": 20,
            "show_id": show.show_id,
        },
    )
    await show.api("POST", show.show_api(f"/coupons/{made['id']}/post"), status=201)
    for w in watchers:
        posted = (await w.next("coupon.posted"))["data"]
        assert posted == {
            "coupon_id": made["id"],
            "code": "LIVE20",
            "description": "20% selama live",
            "kind": "percent",
            "value": 20,
            "currency": None,
            "ends_at": None,
        }
    # a viewer who joins later reads it from the Storefront API
    listed = (await http.get(f"/api/v1/storefront/shows/{show.show_id}/coupons")).json()
    assert [c["code"] for c in listed] == ["LIVE20"]
