"""Embedding without scripts (issue 11): oEmbed, the iframe page and its
frame-ancestors, the watch page's discovery link. SQLite and PostgreSQL."""

from __future__ import annotations

import html
import io
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from PIL import Image

from tests.conftest import VendorCtx

PUBLIC = "http://testserver"


def _policy(r: httpx.Response) -> dict[str, str]:
    csp = r.headers["content-security-policy"]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in csp.split(";") if part.strip()}


async def _show(client: httpx.AsyncClient, vendor: VendorCtx, title: str = "Batik Live") -> str:
    r = await client.post("/api/v1/shows", json={"title": title}, headers=vendor.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def _oembed(client: httpx.AsyncClient, url: str, **params: Any) -> httpx.Response:
    return await client.get("/oembed", params={"url": url, **params})


async def test_oembed_answers_a_rich_iframe(client: httpx.AsyncClient, vendor: VendorCtx) -> None:
    sid = await _show(client, vendor, title='Batik "12.12" <sale>')
    r = await _oembed(client, f"{PUBLIC}/watch/{sid}", format="json")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["version"] == "1.0" and data["type"] == "rich"
    assert data["provider_name"] == "Pasar" and data["provider_url"] == PUBLIC
    assert data["author_name"].startswith("Vendor ")
    assert data["title"] == 'Batik "12.12" <sale>'
    assert (data["width"], data["height"]) == (360, 640)
    frame = data["html"]
    assert frame.startswith(f'<iframe src="{PUBLIC}/embed/shows/{sid}" width="360" height="640"')
    assert html.escape('Batik "12.12" <sale>') in frame and "<sale>" not in frame
    assert "thumbnail_url" not in data  # no cover yet
    assert r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("params", "size"),
    [
        ({"maxwidth": 180}, (180, 320)),
        ({"maxheight": 320}, (180, 320)),
        ({"maxwidth": 1000, "maxheight": 2000}, (360, 640)),
        ({"maxwidth": 300, "maxheight": 400}, (225, 400)),
        ({"maxwidth": 1}, (1, 1)),
    ],
)
async def test_oembed_fits_max_sizes(
    client: httpx.AsyncClient, vendor: VendorCtx, params: dict[str, int], size: tuple[int, int]
) -> None:
    sid = await _show(client, vendor)
    data = (await _oembed(client, f"{PUBLIC}/watch/{sid}", **params)).json()
    assert (data["width"], data["height"]) == size
    assert f'width="{size[0]}" height="{size[1]}"' in data["html"]
    assert data["width"] <= params.get("maxwidth", 10_000)
    assert data["height"] <= params.get("maxheight", 10_000)


async def test_oembed_has_the_cover_as_thumbnail(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    sid = await _show(client, vendor)
    out = io.BytesIO()
    Image.new("RGB", (90, 160), (0, 90, 0)).save(out, "PNG")
    files = {"file": ("c.png", out.getvalue(), "image/png")}
    r = await client.post(f"/api/v1/shows/{sid}/cover", files=files, headers=vendor.headers)
    assert r.status_code == 200, r.text
    data = (await _oembed(client, f"{PUBLIC}/watch/{sid}")).json()
    assert data["thumbnail_url"] == r.json()["cover_url"]
    assert (data["thumbnail_width"], data["thumbnail_height"]) == (90, 160)


async def test_oembed_refuses_what_is_not_ours(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    sid = await _show(client, vendor)
    for url in (
        f"https://evil.example/watch/{sid}",
        f"https://testserver/watch/{sid}",  # another scheme is another origin
        f"{PUBLIC}:8080/watch/{sid}",
        f"{PUBLIC}/watch/show_unknown",
        f"{PUBLIC}/watch/../studio/",
        f"{PUBLIC}/studio/{sid}",
        f"{PUBLIC}/watch/",
        "not a url",
    ):
        r = await _oembed(client, url)
        assert r.status_code == 404, url
        assert r.json()["error"]["code"] == "not_found"
    r = await _oembed(client, f"{PUBLIC}/watch/{sid}", format="xml")
    assert r.status_code == 501
    assert r.json()["error"]["code"] == "format_not_supported"
    r = await _oembed(client, f"{PUBLIC}/watch/{sid}", format="yaml")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "validation_failed"
    r = await _oembed(client, f"{PUBLIC}/embed/shows/{sid}")  # the iframe's own URL is fine
    assert r.status_code == 200


async def test_the_iframe_page_is_framable_by_the_vendors_origins_only(
    client: httpx.AsyncClient, vendor: VendorCtx, make_vendor: Any
) -> None:
    sid = await _show(client, vendor)
    r = await client.get(f"/embed/shows/{sid}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    policy = _policy(r)
    assert policy["frame-ancestors"] == "'self'"
    assert policy["base-uri"] == "'none'" and policy["form-action"] == "'self'"
    assert "unsafe-inline" not in policy.get("script-src", policy["default-src"])
    assert "x-frame-options" not in r.headers

    origins = ["https://toko.example", "http://localhost:3000"]
    r = await client.patch(
        "/api/v1/vendor", json={"allowed_origins": origins}, headers=vendor.headers
    )
    assert r.status_code == 200
    other = await make_vendor()
    r = await client.patch(
        "/api/v1/vendor", json={"allowed_origins": ["https://other.example"]}, headers=other.headers
    )
    assert r.status_code == 200
    policy = _policy(await client.get(f"/embed/shows/{sid}"))
    assert policy["frame-ancestors"] == "'self' http://localhost:3000 https://toko.example"
    # The rest is the watch page's policy.
    watch = _policy(await client.get(f"/watch/{sid}"))
    assert {k: v for k, v in policy.items() if k != "frame-ancestors"} == {
        k: v for k, v in watch.items() if k != "frame-ancestors"
    }


@pytest.mark.parametrize("show_id", ["show_unknown", "x" * 300, "a.b"])
async def test_the_iframe_page_of_an_unknown_show_is_404(
    client: httpx.AsyncClient, show_id: str
) -> None:
    r = await client.get(f"/embed/shows/{show_id}")
    assert r.status_code == 404


async def test_the_watch_page_links_its_oembed(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    sid = await _show(client, vendor)
    r = await client.get(f"/watch/{sid}")
    assert r.status_code == 200
    href = f"{PUBLIC}/oembed?url={quote(f'{PUBLIC}/watch/{sid}', safe='')}&format=json"
    tag = f'<link rel="alternate" type="application/json+oembed" href="{html.escape(href)}">'
    head = r.text.split("</head>")[0]
    assert tag in head
    assert r.headers["link"] == f'<{href}>; rel="alternate"; type="application/json+oembed"'
    followed = await client.get(href)
    assert followed.status_code == 200 and followed.json()["type"] == "rich"


# -- the element and the pages made of it -----------------------------------------------


async def test_embed_js_loads_from_any_origin_and_revalidates(client: httpx.AsyncClient) -> None:
    r = await client.get("/embed.js", headers={"Origin": "https://toko.example"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    # A module script from another origin is fetched with CORS.
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["cache-control"] == "public, max-age=300"
    assert "pasar-live" in r.text
    # Its chunks are imported relative to it, from Pasar: immutable, with CORS too.
    chunk = re.search(r"import\([\"`]\./(embed/c/[\w.-]+\.js)[\"`]\)", r.text)
    assert chunk, "embed.js imports no chunk (hls.js, the languages)"
    c = await client.get("/" + chunk.group(1))
    assert c.status_code == 200
    assert c.headers["access-control-allow-origin"] == "*"
    assert "immutable" in c.headers["cache-control"]
    types = await client.get("/embed.d.ts")
    assert types.status_code == 200 and "interface PasarLiveElement" in types.text


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [("br, gzip", "br"), ("gzip, deflate", "gzip"), ("br;q=0, gzip", "gzip"), ("", None)],
)
async def test_the_embed_is_served_compressed_as_the_browser_accepts(
    client: httpx.AsyncClient, accept: str, encoding: str | None
) -> None:
    plain = await client.get("/embed.js", headers={"Accept-Encoding": "identity"})
    size = int(plain.headers["content-length"])
    chunk = re.search(r"import\([\"`]\./(embed/c/[\w.-]+\.js)[\"`]\)", plain.text)
    assert chunk
    for path in ("/embed.js", "/" + chunk.group(1)):
        async with client.stream("GET", path, headers={"Accept-Encoding": accept}) as r:
            assert r.status_code == 200
            assert r.headers.get("content-encoding") == encoding, path
            assert r.headers["vary"] == "Accept-Encoding"
            assert r.headers["content-type"].startswith("text/javascript")
            assert r.headers["access-control-allow-origin"] == "*"
            if encoding and path == "/embed.js":
                assert int(r.headers["content-length"]) < size / 2


async def test_the_watch_page_is_the_player_element(
    client: httpx.AsyncClient, vendor: VendorCtx
) -> None:
    sid = await _show(client, vendor, title="Batik <b>Live</b>")
    r = await client.get(f"/watch/{sid}", params={"locale": "th"})
    assert r.status_code == 200
    assert f'<pasar-live show="{sid}" layout="fullscreen" theme="dark" locale="th">' in r.text
    assert '<script type="module" src="/embed.js"></script>' in r.text
    assert "<title>Batik &lt;b&gt;Live&lt;/b&gt;</title>" in r.text
    assert '<html lang="th">' in r.text
    policy = _policy(r)
    assert policy["script-src"] == "'self'"  # no inline script anywhere
    assert "<script>" not in r.text
    # A locale that is not a language tag is dropped, never reflected.
    r = await client.get(f"/watch/{sid}", params={"locale": '"><script>alert(1)</script>'})
    assert r.status_code == 200
    assert "alert(1)" not in r.text and "locale=" not in r.text
    assert '<html lang="en">' in r.text


async def test_a_dead_watch_link_is_a_404_page_the_player_explains(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/watch/show_01M00000000000000000000000")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert '<pasar-live show="show_01M00000000000000000000000"' in r.text
    assert (await client.get("/watch/a.b")).status_code == 404
