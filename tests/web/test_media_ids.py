"""Ids in media URLs are checked before they name a file (issue 10, item 8).

``GET /hls/<5,000 characters>/index.m3u8`` used to reach the filesystem and
answer 500 ("file name too long"); ids that look like paths must never get
further than "not found" either."""

from __future__ import annotations

import httpx
import pytest

from pasar.ids import id_shaped, new_id
from tests.conftest import VendorCtx

HLS_ROUTES = [
    "/hls/{id}/index.m3u8",
    "/hls/{id}/live.m3u8",
    "/hls/{id}/legacy.m3u8",
    "/hls/{id}/720p/live.m3u8",
    "/hls/{id}/720p/legacy.m3u8",
    "/hls/{id}/init0.mp4",
    "/hls/{id}/s1.m4s",
    "/hls/{id}/s1.0.m4s",
    "/hls/{id}/720p/s1.m4s",
    "/hls/{id}/poster.jpg",
]
OTHER_ROUTES = [
    "/watch/{id}",
    "/media/hls/{id}/poster.jpg",
    "/media/{id}",
    "/assets/{id}",
    "/api/v1/shows/{id}/recording",
    "/api/v1/shows/{id}/stream",
]
# Sent as written: httpx collapses a literal "/../" before sending, not "%2E%2E".
BAD_IDS = ["a" * 5000, "show_" + "A" * 36, "...", "%2E%2E", "show_..%5C..", "%2E%2E%5Cetc", "a.b"]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda b: b[:12])
async def test_bad_ids_on_every_media_route_are_not_found(
    client: httpx.AsyncClient, vendor: VendorCtx, bad: str
) -> None:
    for template in HLS_ROUTES + OTHER_ROUTES:
        url = template.format(id=bad)
        r = await client.get(url, headers=vendor.headers)
        assert r.status_code == 404, (url[:80], r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "not_found"
        if template in HLS_ROUTES:
            assert r.json()["error"]["message"] == "stream not found", url[:80]


async def test_a_good_id_of_a_show_without_video_is_still_just_not_found(
    client: httpx.AsyncClient,
) -> None:
    show_id = new_id("show")
    for template in HLS_ROUTES:
        r = await client.get(template.format(id=show_id))
        assert r.status_code in (404, 503), (template, r.status_code)


def test_id_shape() -> None:
    assert id_shaped(new_id("show")) and id_shaped("sh_1")
    for bad in ["", "a" * 41, "..", "a/b", "a\\b", "a.b", "sh%5F1", "ş", "a\x00"]:
        assert not id_shaped(bad), bad
