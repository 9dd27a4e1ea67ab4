"""Tenant isolation: vendor A can neither see, touch nor probe vendor B's objects.

Nothing here is a hand-picked list of endpoints. The matrix is generated from the
app's routes (``fastapi.routing.iter_route_contexts``) and their OpenAPI
operations: every route under ``/api/v1`` whose path has a parameter is called, for
every method, with vendor A's key and vendor B's ids (and, where a path has several
ids, every mix of A's and B's), with a body that is valid for the object. Each call
must answer exactly what a made-up id answers: 404, never 2xx, never 403 (which
would say "it exists, just not for you"), never 5xx. B's objects, read back through
every GET route, must be byte-for-byte unchanged afterwards.

A new endpoint is covered without touching this file, as long as its path
parameters and body schema are ones the matrix knows (``PATH_PARAMS``,
``BODIES``, ``REFERENCE_FIELDS``); if they are not, ``test_isolation_matrix``
fails and names the route, so nothing can slip past silently.

The matrix runs twice: with A's API key and with A's studio session cookie (the
staff sign-in, which the real-time routes treat differently when they name the
actor).

Routes outside ``/api/v1`` are not vendor-scoped data access through an API key;
discovery still looks at every websocket and every other route with a path
parameter, and fails on any that ``NOT_TENANT_ROUTES`` does not list with a reason.

``test_owner_can_make_every_matrix_call`` is the matrix's control: the same calls
with B's own key succeed, so the 404s above come from tenant scoping and not from
a malformed request.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from PIL import Image
from starlette.routing import WebSocketRoute

from pasar.app import create_app
from pasar.engagement.identity import new_guest
from pasar.ids import new_id
from pasar.pagination import encode_cursor
from pasar.services import Services
from pasar.web.deps import CSRF_HEADER, SESSION_COOKIE
from tests.conftest import MakeVendor, VendorCtx, make_settings, product_body

API = "/api/v1"
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
REPLAY_HEADER = "idempotent-replayed"

# Path parameter name -> the kind of object it names (a key of World.ids).
PATH_PARAMS: dict[str, str] = {
    "product_id": "product",
    "variant_id": "variant",
    "image_id": "image",
    "show_id": "show",
    "key_id": "api_key",
    "user_id": "staff",
    "message_id": "message",
    "sanction_id": "sanction",
    "term_id": "blocked_term",
    "poll_id": "poll",
    "endpoint_id": "webhook_endpoint",
    "delivery_id": "webhook_delivery",
    "pin_id": "pin",
    "deal_id": "deal",
    "reservation_id": "reservation",
    "order_id": "order",
    "coupon_id": "coupon",
    "cart_token": "cart_token",
}

# Where one route needs an object of the same parameter in a particular state:
# (path, parameter) -> kind. Only a held message can be approved.
ROUTE_PARAMS: dict[tuple[str, str], str] = {
    (f"{API}/shows/{{show_id}}/chat/{{message_id}}/approve", "message_id"): "held_message",
}


def kind_of(path: str, param: str) -> str:
    """The kind of object (a key of World.ids) that fills a path parameter."""
    return ROUTE_PARAMS.get((path, param)) or PATH_PARAMS[param]


# Routes the matrix does not call, each with the reason. Discovery looks at every
# websocket and every route with a path parameter, inside /api/v1 or not, and fails
# on any that is neither an API route it can call nor listed here.
# (The show socket, /ws/shows/{show_id}, is not a route: it is served ahead of the
# router, web/show_socket.ShowSockets. It is public by show id on purpose; its own
# tenant rules, the origin allow-list and a staff cookie counting only for the show's
# own vendor, are tested in tests/realtime/.)
NOT_TENANT_ROUTES: dict[str, str] = {
    # Static files: the studio's build, and media (product images, show covers) that
    # the vendors publish to shoppers; the API hands out their URLs.
    "MOUNT /assets/{path}": "studio build",
    "MOUNT /media/{path}": "published media",
    # The watch page is the player element on a page for any show id (its title, the
    # show's public title); what it shows comes from the public show document, HLS
    # playback and the show socket, all public by show id.
    "GET /watch/{show_id}": "the watch page",
    # Swagger UI's own files, the same for everyone (PASAR_API_DOCS).
    "GET /docs/assets/{name}": "API docs assets",
    # HLS playback is public by show id for the same reason as the show socket.
    "GET /hls/{show_id}/index.m3u8": "HLS playback",
    "GET /hls/{show_id}/live.m3u8": "HLS playback",
    "GET /hls/{show_id}/legacy.m3u8": "HLS playback",
    "GET /hls/{show_id}/{name}": "HLS playback",
    "GET /hls/{show_id}/{rendition}/live.m3u8": "HLS playback, a ladder rung",
    "GET /hls/{show_id}/{rendition}/legacy.m3u8": "HLS playback, a ladder rung",
    "GET /hls/{show_id}/{rendition}/{name}": "HLS playback, a ladder rung",
    # WHIP sessions answer to the show's stream key (the bearer), not to a vendor's
    # credentials; a session of another show's key is 404 (tests/media/).
    "PATCH /whip/{session_id}": "WHIP, stream key",
    "DELETE /whip/{session_id}": "WHIP, stream key",
    # The Storefront API is the shopper's side: no vendor credentials at all. Deals
    # are public by id (the show's events hand them out); reservations answer only to
    # the shopper who holds them (tests/commerce/test_storefront.py).
    "GET /api/v1/storefront/deals/{deal_id}": "storefront, public by deal id",
    "POST /api/v1/storefront/deals/{deal_id}/claims": "storefront, shopper's claim",
    "POST /api/v1/storefront/deals/{deal_id}/waitlist": "storefront, shopper's waitlist",
    "GET /api/v1/storefront/deals/{deal_id}/waitlist": "storefront, shopper's waitlist",
    "DELETE /api/v1/storefront/deals/{deal_id}/waitlist": "storefront, shopper's waitlist",
    "GET /api/v1/storefront/reservations/{reservation_id}": "storefront, shopper's own",
    "POST /api/v1/storefront/reservations/{reservation_id}/release": "storefront, shopper's own",
    # A click names a product of the show's line-up, and a show's posted coupons are
    # what every viewer is shown: both public by show id, like the show socket. The
    # hosted cart is the calling shopper's own at the shop named by its public slug
    # (tests/commerce/test_carts.py).
    "POST /api/v1/storefront/shows/{show_id}/clicks": "storefront, a shopper's tap",
    "GET /api/v1/storefront/shows/{show_id}/coupons": "storefront, posted to every viewer",
    "GET /api/v1/storefront/vendors/{vendor_slug}/cart": "storefront, shopper's own cart",
    "PUT /api/v1/storefront/vendors/{vendor_slug}/cart": "storefront, shopper's own cart",
    "DELETE /api/v1/storefront/vendors/{vendor_slug}/cart": "storefront, shopper's own cart",
    "POST /api/v1/storefront/vendors/{vendor_slug}/cart/checkout": "storefront, shopper's own",
    # The show document is what every viewer of the show sees (title, host's display
    # name, active products, pins and deals as the socket sends them), public by show
    # id like the socket; the "Live now" slot is the same document found by the
    # vendor's public slug. Nothing private in it (tests/shows/test_show_document.py).
    "GET /api/v1/storefront/shows/{show_id}": "storefront, public show document",
    "GET /api/v1/storefront/vendors/{vendor_slug}/shows/current": "storefront, public document",
    # The iframe page is the watch page for other sites, framable only by the show's
    # vendor's allowed origins (tests/web/test_embed.py).
    "GET /embed/shows/{show_id}": "the iframe page",
    # The replay's chat is what every viewer saw, public by show id like the socket
    # that carried it live (tests/shows/test_show_document.py).
    "GET /api/v1/storefront/shows/{show_id}/replay/chat": "storefront, the replay's chat",
    # The player's build (embed.js and its chunks), the same for everyone.
    "MOUNT /embed/c/{path}": "the player's build",
}

# Body fields that point at another object: field name -> kind. A `_ids` field
# takes a list. A new `*_id` / `*_ids` field must be listed here or in
# NOT_REFERENCES, or the reference test fails and names it.
REFERENCE_FIELDS: dict[str, str] = {
    "host_user_id": "staff",
    "product_ids": "product",
    "message_id": "message",  # the message to pin
    "show_id": "show",  # a blocked term for one show only
    "product_id": "product",  # a pin or a deal
    "variant_ids": "variant",  # a deal's variants
    "pin_id": "pin",  # the pin an order was bought from
    "reservation_ids": "reservation",  # an order's reservations
    "variant_id": "variant",  # an order line's variant (lines[].variant_id)
}
# Fields named like ids that do not point at a Pasar object.
NOT_REFERENCES = frozenset(
    {
        "external_id",  # the vendor's own id in its store
        "user_id",  # a sanction's subject: a guest or the vendor's own shopper id
        "shopper_id",  # an order's or redemption's shopper: the vendor's own naming
    }
)

# Query parameters that could act as an oracle for another vendor's data, and
# what to probe them with (from B's world). Other query parameters are filters
# on the caller's own data and are left out.
QUERY_PROBES: dict[str, Callable[[World], str]] = {
    "sku": lambda w: w.skus[0],
    "handle": lambda w: w.handle,
    "q": lambda w: w.product_title,
    "cursor": lambda w: encode_cursor(w.ids["product"]),
    "before": lambda w: w.ids["message"],  # chat history before a message
    "shopper_id": lambda w: w.ids["shopper"],  # reservations of one shopper
}


# A body that is valid for the target vendor's objects (so that a missing tenant
# check would succeed rather than fail validation), by OpenAPI schema name. None
# of them points at another object: references are the reference test's job.
BODIES: dict[str, Callable[[World], dict[str, Any]]] = {
    "ProductIn": lambda w: product_body(
        title="Replaced by someone",
        variants=[{"sku": f"{w.tag}-R", "options": {"Size": "M"}, "price": 100, "stock": 1}],
    ),
    "ProductPatch": lambda w: {"title": "Renamed by someone", "status": "archived"},
    "VariantIn": lambda w: {
        "sku": f"{w.tag}-XL",
        "options": {"Size": "XL"},
        "price": 1_000,
        "stock": 3,
    },
    "VariantPatch": lambda w: {"stock": 99, "price": 1},
    "ShowIn": lambda w: {"title": "Another show"},
    "PasswordResetIn": lambda w: {"password": "taken over by someone"},
    "ShowPatch": lambda w: {"title": "Renamed show", "description": "changed"},
    "LineupIn": lambda w: {"product_ids": []},
    "TransitionIn": lambda w: {"to": "live"},
    "ChatPostIn": lambda w: {"text": "Posted by someone"},
    "PinIn": lambda w: {"message_id": w.ids["message"]},
    "ChatSettingsIn": lambda w: {"slow_mode_seconds": 30, "hold_for_approval": False},
    "SanctionIn": lambda w: {"user_id": w.guest, "ban": True, "reason": "banned by someone"},
    "BlockedTermIn": lambda w: {"kind": "word", "term": f"{w.tag}-probe", "show_id": None},
    "PollIn": lambda w: {"question": "Asked by someone?", "options": ["Ya", "Tidak"]},
    "EndpointPatch": lambda w: {"description": "Changed by someone", "event_types": ["deal.ended"]},
    "ProductPinIn": lambda w: {"product_id": w.ids["product"]},
    "DealIn": lambda w: {
        "product_id": w.ids["product"],
        "price": 1_000,
        "currency": "IDR",
        "quantity": 3,
    },
    "DealEndIn": lambda w: {"reason": "cancelled"},
    "ConfirmIn": lambda w: {"order_ref": f"{w.tag}-order", "amount": 1_000, "currency": "IDR"},
    # Orders and coupons are unique by reference or code: a fresh one for every call.
    "OrderIn": lambda w: {
        "order_ref": f"{w.tag}-{new_id('ref')}",
        "amount": 38_900_000,
        "currency": "IDR",
        "lines": [{"variant_id": w.ids["variant"], "quantity": 1, "unit_price": 38_900_000}],
    },
    "CouponIn": lambda w: {"code": new_id("C"), "kind": "percent", "value": 5},
    "CouponPatch": lambda w: {"description": "Changed by someone", "usage_limit": 1},
    "RedeemIn": lambda w: {
        "code": w.texts["coupon code"],
        "order_ref": f"{w.tag}-{new_id('ref')}",
        "amount": 100_000,
        "currency": "IDR",
        "show_id": w.ids["show"],
    },
    "ValidateIn": lambda w: {
        "code": w.texts["coupon code"],
        "amount": 100_000,
        "currency": "IDR",
        "show_id": w.ids["show"],
    },
}

# Create bodies sent twice with one Idempotency-Key, once by each vendor. They are
# identical on purpose: a replay across vendors would match the fingerprint.
CREATE_BODIES: dict[str, dict[str, Any]] = {
    "ProductIn": product_body(handle="idempotency-probe"),
    "ShowIn": {"title": "Idempotency probe"},
    "EndpointIn": {"url": "https://hooks.probe.example/pasar", "event_types": ["show.live"]},
    "ApiKeyIn": {"name": "idempotency probe", "scopes": ["catalog:read"]},
    "OrderIn": {
        "order_ref": "idempotency-probe",
        "amount": 1_000,
        "currency": "IDR",
        "lines": [{"sku": "PROBE", "quantity": 1, "unit_price": 1_000}],
    },
    "CouponIn": {"code": "PROBE10", "kind": "percent", "value": 10},
    # Staff emails are unique per vendor, so A's copy is a user of A's own; what
    # matters is that it is not B's replayed answer.
    "StaffIn": {
        "email": "idempotency-probe@pasar.example",
        "display_name": "Probe",
        "password": "long enough password",
        "role": "moderator",
    },
}


def png_bytes(colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 6), colour).save(out, "PNG")
    return out.getvalue()


# --- the world: one vendor with one of each object --------------------------------


@dataclass
class World:
    vendor: VendorCtx
    tag: str
    ids: dict[str, str] = field(default_factory=dict)
    skus: list[str] = field(default_factory=list)
    handle: str = ""
    product_title: str = ""
    show_title: str = ""
    stream_key: str = ""
    key_prefix: str = ""
    guest: str = ""  # the guest who chatted and was muted
    texts: dict[str, str] = field(default_factory=dict)  # chat, terms, poll: what -> text

    @property
    def headers(self) -> dict[str, str]:
        return self.vendor.headers

    def secrets(self) -> dict[str, str]:
        """Every string that identifies this vendor's data: none may reach another vendor."""
        out = {f"id of {kind}": value for kind, value in self.ids.items()}
        out |= {f"sku {s}": s for s in self.skus}
        out |= {
            "handle": self.handle,
            "product title": self.product_title,
            "show title": self.show_title,
            "stream key": self.stream_key,
            "API key prefix": self.key_prefix,
            "vendor slug": self.vendor.slug,
            "guest": self.guest,
        }
        out |= self.texts
        return out


async def _ok(response: httpx.Response) -> Any:
    assert response.is_success, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def build_world(
    client: httpx.AsyncClient, services: Services, vendor: VendorCtx, tag: str
) -> World:
    """Create one of each object through the API, with the vendor's own key (and a
    guest's chat message through the service, as the show socket would post it)."""
    h = vendor.headers
    w = World(vendor=vendor, tag=tag, ids={"vendor": vendor.id})
    staff = await _ok(
        await client.post(
            f"{API}/staff",
            json={
                "email": f"host-{tag}@{vendor.slug}.example",
                "display_name": f"Host {tag}",
                "password": "long enough password",
                "role": "host",
            },
            headers={**h, "Idempotency-Key": f"staff-{tag}"},
        )
    )
    w.ids["staff"] = staff["id"]
    w.handle, w.product_title = f"{tag}-kemeja", f"{tag} Kemeja Batik"
    w.skus = [f"{tag}-m", f"{tag}-l"]
    product = await _ok(
        await client.post(
            f"{API}/products",
            json=product_body(
                title=w.product_title,
                handle=w.handle,
                variants=[
                    {"sku": w.skus[0], "options": {"Size": "M"}, "price": 38_900_000, "stock": 5},
                    {"sku": w.skus[1], "options": {"Size": "L"}, "price": 38_900_000, "stock": 2},
                ],
            ),
            headers={**h, "Idempotency-Key": f"product-{tag}"},
        )
    )
    w.ids["product"] = product["id"]
    w.ids["variant"] = product["variants"][0]["id"]
    w.ids["other_variant"] = product["variants"][1]["id"]
    with_image = await _ok(
        await client.post(
            f"{API}/products/{product['id']}/images",
            files={"file": ("front.png", png_bytes(), "image/png")},
            data={"alt": "front"},
            headers=h,
        )
    )
    w.ids["image"] = with_image["images"][0]["id"]
    w.show_title = f"{tag} Live"
    show = await _ok(
        await client.post(
            f"{API}/shows",
            json={
                "title": w.show_title,
                "scheduled_at": "2030-01-01T12:00:00Z",
                "host_user_id": w.ids["staff"],
                "product_ids": [w.ids["product"]],
            },
            headers={**h, "Idempotency-Key": f"show-{tag}"},
        )
    )
    w.ids["show"] = show["id"]
    await _ok(
        await client.post(
            f"{API}/shows/{show['id']}/cover",
            files={"file": ("cover.png", png_bytes("blue"), "image/png")},
            headers=h,
        )
    )
    await _seed_commerce(client, w)
    w.stream_key = (await _ok(await client.get(f"{API}/shows/{show['id']}/ingest", headers=h)))[
        "stream_key"
    ]
    # a recording index as the packager leaves one, so /recording has something to answer
    await services.storage.put(
        f"hls/{show['id']}/recording.json",
        json.dumps(
            {
                "show_id": show["id"],
                "segments": [
                    {
                        "msn": 0,
                        "run": 0,
                        "uri": "s0.m4s",
                        "media_time": 0,
                        "duration": 2.0,
                        "wall_clock": "2030-01-01T12:00:01+00:00",
                    }
                ],
            }
        ).encode(),
    )
    key = await _ok(
        await client.post(
            f"{API}/api-keys",
            json={"name": f"{tag} sync", "scopes": ["catalog:read"]},
            headers={**h, "Idempotency-Key": f"key-{tag}"},
        )
    )
    w.ids["api_key"] = key["id"]
    w.key_prefix = key["prefix"]
    await _seed_realtime(client, services, w)
    await _seed_sales(client, w)  # after the realtime seed, which sets w.texts anew
    await _seed_webhooks(client, services, w)
    return w


async def _seed_webhooks(client: httpx.AsyncClient, services: Services, w: World) -> None:
    """An endpoint with one delivery (its test event). Nothing is sent: the worker is
    stopped, so the delivery log changes only through the calls under test (and no
    request leaves the machine)."""
    await services.webhooks.stop()
    w.texts["webhook description"] = f"{w.tag} order sync"
    endpoint = await _ok(
        await client.post(
            f"{API}/webhooks/endpoints",
            json={
                "url": f"https://hooks.{w.tag}.example/pasar",
                "description": w.texts["webhook description"],
                "event_types": ["show.live", "show.ended"],
            },
            headers={**w.headers, "Idempotency-Key": f"endpoint-{w.tag}"},
        )
    )
    w.ids["webhook_endpoint"] = endpoint["id"]
    w.texts["webhook secret"] = endpoint["secret"]
    test = await _ok(
        await client.post(f"{API}/webhooks/endpoints/{endpoint['id']}/test", headers=w.headers)
    )
    w.ids["webhook_delivery"] = test["id"]
    w.ids["webhook_message"] = test["message_id"]


async def _seed_commerce(client: httpx.AsyncClient, w: World) -> None:
    """A pinned product, a running deal, and a guest's reservation of it."""
    h, on_show = w.headers, f"{API}/shows/{w.ids['show']}"
    pin = await _ok(
        await client.post(f"{on_show}/pins", json={"product_id": w.ids["product"]}, headers=h)
    )
    w.ids["pin"] = pin["id"]
    deal = await _ok(
        await client.post(
            f"{on_show}/deals",
            json={
                "product_id": w.ids["product"],
                "variant_ids": [w.ids["variant"]],
                "price": 19_900_000,
                "currency": "IDR",
                "quantity": 10,
            },
            headers=h,
        )
    )
    w.ids["deal"] = deal["id"]
    guest = (await _ok(await client.post(f"{API}/storefront/guests")))["guest_token"]
    reservation = await _ok(
        await client.post(
            f"{API}/storefront/deals/{deal['id']}/claims",
            json={},
            headers={"X-Pasar-Guest": guest, "Idempotency-Key": f"claim-{w.tag}"},
        )
    )
    w.ids["reservation"] = reservation["id"]
    w.ids["shopper"] = reservation["shopper_id"]


async def _seed_sales(client: httpx.AsyncClient, w: World) -> None:
    """A coupon for the show, an order from it, and a hosted cart handed to checkout."""
    h, show_id = w.headers, w.ids["show"]
    w.texts["coupon code"] = f"{w.tag}-hemat".upper()
    coupon = await _ok(
        await client.post(
            f"{API}/coupons",
            json={
                "code": w.texts["coupon code"],
                "kind": "percent",
                "value": 10,
                "show_id": show_id,
            },
            headers=h,
        )
    )
    w.ids["coupon"] = coupon["id"]
    order = await _ok(
        await client.post(
            f"{API}/orders",
            json={
                "order_ref": f"{w.tag}-inv-1",
                "amount": 38_900_000,
                "currency": "IDR",
                "show_id": show_id,
                "lines": [
                    {"variant_id": w.ids["variant"], "quantity": 1, "unit_price": 38_900_000}
                ],
            },
            headers=h,
        )
    )
    w.ids["order"] = order["id"]
    await _ok(
        await client.patch(
            f"{API}/vendor",
            json={"checkout_url_template": "https://toko.example/pasar?cart={cart_token}"},
            headers=h,
        )
    )
    guest_token = (await _ok(await client.post(f"{API}/storefront/guests")))["guest_token"]
    guest = {"X-Pasar-Guest": guest_token}
    cart = f"{API}/storefront/vendors/{w.vendor.slug}/cart"
    await _ok(
        await client.put(
            cart, json={"lines": [{"variant_id": w.ids["variant"], "quantity": 1}]}, headers=guest
        )
    )
    w.ids["cart_token"] = (await _ok(await client.post(f"{cart}/checkout", headers=guest)))[
        "cart_token"
    ]


async def _seed_realtime(client: httpx.AsyncClient, services: Services, w: World) -> None:
    """Chat (the host's message; a guest's, held for approval), a mute of that guest,
    blocked terms (vendor-wide and for the show) and a running poll."""
    h, tag, show_id = w.headers, w.tag, w.ids["show"]
    on_show = f"{API}/shows/{show_id}"
    w.texts = {
        "chat message": f"{tag} selamat datang",
        "held message": f"{tag} ada ukuran XL",
        "sanction reason": f"{tag} spamming",
        "blocked word": f"{tag}obral",
        "blocked pattern": f"{tag}-promo*",
        "poll question": f"{tag} warna favorit?",
    }
    message = await _ok(
        await client.post(f"{on_show}/chat", json={"text": w.texts["chat message"]}, headers=h)
    )
    w.ids["message"] = message["id"]
    await _ok(
        await client.put(f"{on_show}/chat/settings", json={"hold_for_approval": True}, headers=h)
    )
    guest = new_guest(services.server_secret)
    posted = await services.chat.send(
        w.vendor.id, show_id, guest, "203.0.113.7", w.texts["held message"]
    )
    assert posted.status == "held", posted
    w.ids["held_message"], w.guest = posted.row.id, guest.id
    sanction = await _ok(
        await client.post(
            f"{on_show}/sanctions",
            json={"user_id": guest.id, "reason": w.texts["sanction reason"]},
            headers=h,
        )
    )
    w.ids["sanction"] = sanction["id"]
    terms = f"{API}/moderation/blocked-terms"
    word = await _ok(await client.post(terms, json={"term": w.texts["blocked word"]}, headers=h))
    w.ids["blocked_term"] = word["id"]
    pattern = await _ok(
        await client.post(
            terms,
            json={"kind": "pattern", "term": w.texts["blocked pattern"], "show_id": show_id},
            headers=h,
        )
    )
    w.ids["show_blocked_term"] = pattern["id"]
    poll = await _ok(
        await client.post(
            f"{on_show}/polls",
            json={
                "question": w.texts["poll question"],
                "options": ["Merah", "Biru"],
                "duration_seconds": 3600,
            },
            headers=h,
        )
    )
    w.ids["poll"] = poll["id"]


async def _end_seeded_poll(client: httpx.AsyncClient, w: World) -> None:
    url = f"{API}/shows/{w.ids['show']}/polls/{w.ids['poll']}/close"
    await _ok(await client.post(url, headers=w.headers))


# Owner-control calls that need the owner's fresh world in another state first.
OWNER_PREP: dict[str, Callable[[httpx.AsyncClient, World], Awaitable[None]]] = {
    # A show runs one poll at a time: the seeded, running poll ends first.
    f"POST {API}/shows/{{show_id}}/polls": _end_seeded_poll,
}


# --- discovering the matrix from the app ------------------------------------------


@dataclass(frozen=True)
class Body:
    kind: str  # "json" or "multipart"
    schema: str = ""  # the JSON body's schema name
    files: tuple[str, ...] = ()  # the multipart body's file fields


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    params: tuple[str, ...]
    body: Body | None
    operation: dict[str, Any] = field(compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _route_contexts(app: FastAPI) -> Iterator[Any]:
    """Every route with its full path, including those of included routers."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is flat
        yield from app.routes
        return
    yield from iter_route_contexts(app.routes)


def _ref_name(schema: dict[str, Any]) -> str:
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1]


def _is_file(prop: dict[str, Any]) -> bool:
    return prop.get("format") == "binary" or "contentMediaType" in prop


def _body_of(
    openapi: dict[str, Any], op: dict[str, Any], label: str, gaps: list[str]
) -> Body | None:
    content = op.get("requestBody", {}).get("content")
    if not content:
        return None
    if "application/json" in content:
        name = _ref_name(content["application/json"]["schema"])
        if name not in BODIES:
            gaps.append(f"{label}: no body for schema {name or '(inline)'}; add it to BODIES")
        return Body("json", schema=name)
    if "multipart/form-data" in content:
        schema = openapi["components"]["schemas"][
            _ref_name(content["multipart/form-data"]["schema"])
        ]
        props: dict[str, Any] = schema.get("properties", {})
        files = tuple(n for n, p in props.items() if _is_file(p))
        others = [n for n in schema.get("required", []) if n not in files]
        if others or not files:
            gaps.append(f"{label}: cannot fill multipart fields {others or sorted(props)}")
        return Body("multipart", files=files)
    gaps.append(f"{label}: cannot build a {sorted(content)} body")
    return None


def _outside_the_matrix(original: Any, path: str, params: tuple[str, ...]) -> list[str]:
    """The keys under which NOT_TENANT_ROUTES must list a route the matrix does not
    call: every websocket, and every other route with a path parameter outside /api/v1
    (empty when the matrix calls it, or when it names nothing)."""
    if isinstance(original, WebSocketRoute):
        return [f"WEBSOCKET {path}"]
    storefront = path.startswith(API + "/storefront/")
    if (path.startswith(API + "/") and not storefront) or not params:
        return []
    if isinstance(original, APIRoute):
        return [f"{m} {path}" for m in sorted(set(original.methods or ()) - IGNORED_METHODS)]
    return [f"{type(original).__name__.upper()} {path}"]


def discover(app: FastAPI) -> tuple[list[Entry], list[str]]:
    """Every (method, path) under /api/v1 with a path parameter; and the routes the
    matrix cannot call, each with the reason."""
    openapi = app.openapi()
    entries: list[Entry] = []
    gaps: list[str] = []
    for rc in _route_contexts(app):
        path = getattr(rc, "path_format", None) or getattr(rc, "path", "") or ""
        params = tuple(getattr(rc, "param_convertors", {}) or ())
        original = getattr(rc, "original_route", rc)
        elsewhere = _outside_the_matrix(original, path, params)
        if elsewhere:
            gaps += [
                f"{key}: not an HTTP API route the matrix can call; list it in "
                "NOT_TENANT_ROUTES with the reason it needs no tenant check"
                for key in elsewhere
                if key not in NOT_TENANT_ROUTES
            ]
            continue
        if not path.startswith(API + "/") or not params:
            continue
        if not isinstance(original, APIRoute):
            gaps.append(f"{type(original).__name__} {path}: not an HTTP API route")
            continue
        unknown = [p for p in params if p not in PATH_PARAMS]
        for method in sorted(set(rc.methods or ()) - IGNORED_METHODS):
            label = f"{method} {path}"
            if unknown:
                gaps.append(f"{label}: unknown path parameter(s) {unknown}; add to PATH_PARAMS")
                continue
            op = openapi["paths"].get(path, {}).get(method.lower())
            if op is None:  # include_in_schema=False: only a body-less route can be called
                if original.dependant.body_params:
                    gaps.append(f"{label}: hidden from OpenAPI and takes a body")
                    continue
                op, body = {}, None
            else:
                body = _body_of(openapi, op, label, gaps)
            entries.append(Entry(method, path, params, body, op))
    order = {"GET": 0, "DELETE": 2}
    entries.sort(key=lambda e: (order.get(e.method, 1), -len(e.params), e.path, e.method))
    return entries, gaps


def request_kwargs(entry: Entry, body_world: World) -> dict[str, Any]:
    if entry.body is None:
        return {}
    if entry.body.kind == "json":
        return {"json": BODIES[entry.body.schema](body_world)}
    return {"files": {n: (f"{n}.png", png_bytes("green"), "image/png") for n in entry.body.files}}


def fill(path: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def made_up_id(real: str) -> str:
    """A well-formed id of the same kind that names nothing."""
    return new_id(real.rsplit("_", 1)[0])


# --- reading a vendor's view of the world -----------------------------------------


def _without_volatile(value: Any) -> Any:
    # last_used_at moves when the owner's own key is used (at most once a minute),
    # which no other vendor can cause; everything else must stay put.
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k != "last_used_at"}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def _urls(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from _urls(v)
    elif isinstance(value, str) and value.startswith("http://testserver/media/"):
        yield value


def get_routes(app: FastAPI) -> list[tuple[str, tuple[str, ...]]]:
    out = []
    for rc in _route_contexts(app):
        path = getattr(rc, "path_format", None) or getattr(rc, "path", "") or ""
        if path.startswith(API + "/") and "GET" in (getattr(rc, "methods", None) or ()):
            out.append((path, tuple(getattr(rc, "param_convertors", {}) or ())))
    return out


async def snapshot(app: FastAPI, client: httpx.AsyncClient, w: World) -> dict[str, Any]:
    """What the vendor sees through every GET route (its own ids filled in), plus the
    bytes of every media file those answers point at."""
    views: dict[str, Any] = {}
    for path, params in get_routes(app):
        if any(p not in PATH_PARAMS for p in params):
            continue  # discover() reports these
        url = fill(path, {p: w.ids[kind_of(path, p)] for p in params})
        r = await client.get(url, headers=w.headers)
        views[url] = (r.status_code, _without_volatile(r.json()))
    for url in sorted({u for _, body in views.values() for u in _urls(body)}):
        r = await client.get(url)
        views[url] = (r.status_code, hashlib.sha256(r.content).hexdigest())
    return views


async def everything_seen_by(
    app: FastAPI, client: httpx.AsyncClient, viewer: World, other: World
) -> dict[str, str]:
    """The viewer's answers from every GET route under /api/v1: lists (plain and with
    each oracle-ish query parameter set to the other vendor's values) and its own
    objects."""
    openapi = app.openapi()
    seen: dict[str, str] = {}
    for path, params in get_routes(app):
        if any(p not in PATH_PARAMS for p in params):
            continue
        url = fill(path, {p: viewer.ids[kind_of(path, p)] for p in params})
        queries: list[dict[str, str]] = [{}]
        for param in openapi["paths"].get(path, {}).get("get", {}).get("parameters", []):
            if param["in"] != "query":
                continue
            name = param["name"]
            if name in QUERY_PROBES:
                queries.append({name: QUERY_PROBES[name](other)})
            elif name in PATH_PARAMS:
                queries.append({name: other.ids[PATH_PARAMS[name]]})
            elif name.endswith(("_id", "_ids")):
                pytest.fail(
                    f"GET {path}: query parameter {name} looks like a reference; "
                    "add it to PATH_PARAMS or QUERY_PROBES"
                )
        for query in queries:
            r = await client.get(url, params=query, headers=viewer.headers)
            assert r.status_code < 500, f"GET {url} {query}: {r.status_code} {r.text}"
            seen[f"GET {url} {query}"] = r.text
    return seen


def leaks(seen: dict[str, str], other: World) -> list[str]:
    return [
        f"{where} shows the other vendor's {what} ({value})"
        for where, text in seen.items()
        for what, value in other.secrets().items()
        if value and value in text
    ]


# --- the tests --------------------------------------------------------------------


@pytest.fixture
async def worlds(
    app: FastAPI, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> tuple[World, World]:
    services = app.state.services
    a = await build_world(client, services, await make_vendor(slug="tenant-a"), "alpha")
    b = await build_world(client, services, await make_vendor(slug="tenant-b"), "beta")
    return a, b


async def staff_session(client: httpx.AsyncClient, vendor: VendorCtx) -> dict[str, str]:
    """Headers that act as the vendor's owner signed in to the studio: the session
    cookie, and the CSRF token that non-GET requests need with it."""
    r = await client.post(
        f"{API}/auth/login", json={"email": vendor.email, "password": vendor.password}
    )
    csrf = (await _ok(r))["csrf_token"]
    token = r.cookies[SESSION_COOKIE]
    client.cookies.clear()  # sent only where a test passes these headers
    return {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: csrf}


def test_discovery_refuses_routes_it_cannot_fill(tmp_path: Any) -> None:
    """The matrix fails loudly on a route it does not know how to call."""
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path / "data"))
    entries, gaps = discover(app)
    assert gaps == []
    labels = {e.label for e in entries}
    assert "GET /api/v1/products/{product_id}" in labels  # discovery sees included routers
    assert "DELETE /api/v1/api-keys/{key_id}" in labels
    # Every route the matrix leaves out on purpose is still there (no stale reasons).
    left_out = {
        key
        for rc in _route_contexts(app)
        for key in _outside_the_matrix(
            getattr(rc, "original_route", rc),
            getattr(rc, "path_format", None) or getattr(rc, "path", "") or "",
            tuple(getattr(rc, "param_convertors", {}) or ()),
        )
    }
    assert left_out == set(NOT_TENANT_ROUTES)

    @app.get(f"{API}/widgets/{{widget_id}}")
    async def widget(widget_id: str) -> dict[str, str]:
        return {}

    @app.websocket(f"{API}/shows/{{show_id}}/chat")
    async def chat(show_id: str) -> None:
        return None

    @app.websocket("/ws/widgets/{widget_id}")
    async def widget_socket(widget_id: str) -> None:
        return None

    @app.websocket("/ws/everything")
    async def firehose() -> None:
        return None

    @app.get("/public/shows/{show_id}")
    async def public_page(show_id: str) -> dict[str, str]:
        return {}

    app.openapi_schema = None
    _, gaps = discover(app)
    assert any("/widgets/{widget_id}" in g and "widget_id" in g for g in gaps), gaps
    assert any("/shows/{show_id}/chat" in g for g in gaps), gaps
    # No socket route is allowed outside the matrix (the show socket is not a
    # route), nor one without an id, nor a public page by show id.
    for other in ("/ws/widgets/{widget_id}", "/ws/everything", "GET /public/shows/{show_id}"):
        assert any(other in g for g in gaps), (other, gaps)


@pytest.mark.parametrize("credential", ["api key", "staff session"])
async def test_isolation_matrix(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World], credential: str
) -> None:
    """Every id route with B's ids, as A: with A's API key, and with the session
    cookie of A's owner signed in to the studio."""
    a, b = worlds
    caller = a.headers if credential == "api key" else await staff_session(client, a.vendor)
    entries, gaps = discover(app)
    assert not gaps, "the isolation matrix cannot call these routes:\n" + "\n".join(gaps)
    assert entries, "no route with an id parameter was found: is discovery broken?"
    before = await snapshot(app, client, b)

    failures: list[str] = []
    calls = 0
    for entry in entries:
        # Every way to mix the two vendors' ids with at least one of B's.
        for owners in itertools.product((a, b), repeat=len(entry.params)):
            if b not in owners:
                continue
            real = {
                p: w.ids[kind_of(entry.path, p)] for p, w in zip(entry.params, owners, strict=True)
            }
            fake = {
                p: made_up_id(v) if w is b else v
                for (p, v), w in zip(real.items(), owners, strict=True)
            }
            body = request_kwargs(entry, owners[0])
            url = fill(entry.path, real)
            got = await client.request(entry.method, url, headers=caller, **body)
            control = await client.request(
                entry.method,
                fill(entry.path, fake),
                headers=caller,
                **request_kwargs(entry, owners[0]),
            )
            calls += 1
            mix = ", ".join(
                f"{p}={'B' if w is b else 'A'}" for p, w in zip(entry.params, owners, strict=True)
            )
            where = f"{entry.label} [{mix}]"
            if got.status_code != 404:
                failures.append(f"{where}: {got.status_code} {got.text[:300]}")
            elif (got.status_code, got.json()) != (control.status_code, control.json()):
                failures.append(
                    f"{where}: answers differently for B's id than for a made-up one: "
                    f"{got.text[:200]} vs {control.status_code} {control.text[:200]}"
                )
    assert not failures, f"{len(failures)} of {calls} cross-vendor calls:\n" + "\n".join(failures)

    after = await snapshot(app, client, b)
    changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
    assert not changed, f"B's objects changed under A's calls: {sorted(changed)}"


async def test_owner_can_make_every_matrix_call(
    app: FastAPI, client: httpx.AsyncClient, make_vendor: MakeVendor
) -> None:
    """The control: each matrix call, by the owner on a fresh world of its own,
    succeeds; so the matrix's bodies are valid and its 404s mean "not yours".
    The GETs share one world (a world costs ~0.3 s), which must read back the
    same after them: a GET changes nothing."""
    owner = await make_vendor(slug="tenant-owner")
    entries, gaps = discover(app)
    assert not gaps
    failures = []

    async def call(entry: Entry, w: World) -> None:
        if entry.label in OWNER_PREP:
            await OWNER_PREP[entry.label](client, w)
        url = fill(entry.path, {p: w.ids[kind_of(entry.path, p)] for p in entry.params})
        r = await client.request(
            entry.method, url, headers=owner.headers, **request_kwargs(entry, w)
        )
        if not r.is_success:
            failures.append(f"{entry.label}: {r.status_code} {r.text[:300]}")

    reads = [e for e in entries if e.method == "GET" and e.label not in OWNER_PREP]
    assert reads, "no GET route with an id: is discovery broken?"
    shared = await build_world(client, app.state.services, owner, "own-get")
    untouched = await snapshot(app, client, shared)
    for entry in reads:
        await call(entry, shared)
    assert await snapshot(app, client, shared) == untouched, "a GET changed the world"
    for n, entry in enumerate(e for e in entries if e not in reads):
        await call(entry, await build_world(client, app.state.services, owner, f"own{n}"))
    assert not failures, "\n".join(failures)


async def test_ids_under_another_parent_are_not_found(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """Within one vendor too, a nested id counts only under its own parent: B's
    message, poll, sanction, variant or image through B's *other* show or product
    is a 404, as a made-up id is; and B's first world is unchanged."""
    _, b = worlds
    other = await build_world(client, app.state.services, b.vendor, "beta2")
    entries, gaps = discover(app)
    assert not gaps
    before = await snapshot(app, client, b)
    nested, failures = 0, []
    for entry in entries:
        if len(entry.params) < 2:
            continue
        parent, *children = entry.params
        nested += 1
        ids = {parent: other.ids[kind_of(entry.path, parent)]}
        ids |= {c: b.ids[kind_of(entry.path, c)] for c in children}
        fake = {**ids, **{c: made_up_id(ids[c]) for c in children}}
        got = await client.request(
            entry.method, fill(entry.path, ids), headers=b.headers, **request_kwargs(entry, other)
        )
        control = await client.request(
            entry.method, fill(entry.path, fake), headers=b.headers, **request_kwargs(entry, other)
        )
        if got.status_code != 404 or got.json() != control.json():
            failures.append(f"{entry.label}: {got.status_code} {got.text[:300]}")
    assert nested >= 6, "too few nested id routes found: is discovery broken?"
    assert not failures, "\n".join(failures)
    after = await snapshot(app, client, b)
    changed = [k for k in before.keys() | after.keys() if before.get(k) != after.get(k)]
    assert not changed, f"B's objects changed: {sorted(changed)}"


def _reference_fields(
    openapi: dict[str, Any], schema: dict[str, Any], where: str, nested: bool = False
) -> Iterator[str]:
    """Body fields that name another object: top-level ones, and those of the objects in
    a top-level list (as ``lines[].variant_id``); fails on any it cannot place."""
    schemas = openapi["components"]["schemas"]
    for name, prop in schema.get("properties", {}).items():
        if name in REFERENCE_FIELDS:
            yield name
        elif name.endswith(("_id", "_ids")) and name not in NOT_REFERENCES:
            pytest.fail(
                f"{where}: body field {name} looks like a reference; "
                "add it to REFERENCE_FIELDS or NOT_REFERENCES"
            )
        else:
            refs: dict[str, bool] = {}  # schema name -> whether it is in a list
            for sub in [prop, *prop.get("anyOf", [])]:
                if _ref_name(sub):
                    refs[_ref_name(sub)] = False
                if _ref_name(sub.get("items", {})):
                    refs[_ref_name(sub["items"])] = True
            for ref, in_list in refs.items():
                for inner in _reference_fields(
                    openapi, schemas[ref], f"{where}.{name}", nested=True
                ):
                    if nested or not in_list:
                        pytest.fail(f"{where}.{name}.{inner}: nested references are not probed yet")
                    yield f"{name}[].{inner}"


def _with_reference(base: dict[str, Any], ref_field: str, value: str) -> dict[str, Any]:
    """``base`` with the field (or, for ``lines[].variant_id``, the first line's) naming
    ``value``."""
    outer, _, inner = ref_field.partition("[].")
    if inner:
        first, *rest = base[outer]
        return {**base, outer: [{**first, inner: value}, *rest]}
    return {**base, ref_field: [value] if ref_field.endswith("_ids") else value}


async def test_bodies_cannot_point_at_another_vendors_objects(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """Every body field that names an object (a show's host, its line-up …) refuses
    B's ids when A sends them, and accepts A's own (the control)."""
    a, b = worlds
    openapi = app.openapi()
    probed, failures = 0, []
    for path, ops in openapi["paths"].items():
        # Storefront bodies name variants of the deal in the path, which the deal
        # checks itself (unknown_variant: tests/commerce/test_claims.py).
        if not path.startswith(API + "/") or path.startswith(API + "/storefront/"):
            continue
        for method, op in ops.items():
            content = op.get("requestBody", {}).get("content", {})
            if "application/json" not in content:
                continue
            name = _ref_name(content["application/json"]["schema"])
            schema = openapi["components"]["schemas"].get(name, {})
            for ref_field in _reference_fields(openapi, schema, f"{method.upper()} {path}"):
                if name not in BODIES:
                    pytest.fail(f"{method.upper()} {path}: no body for {name}; add it to BODIES")
                params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
                url = fill(path, {p: a.ids[kind_of(path, p)] for p in params})
                kind = REFERENCE_FIELDS[ref_field.rpartition("[].")[2]]

                base = BODIES[name](a)

                def with_ref(
                    w: World, ref_field: str = ref_field, kind: str = kind, base: Any = base
                ) -> dict[str, Any]:
                    return _with_reference(base, ref_field, w.ids[kind])

                probed += 1
                got = await client.request(method, url, json=with_ref(b), headers=a.headers)
                if got.status_code not in (400, 404, 422):
                    failures.append(
                        f"{method.upper()} {path} with B's {ref_field}: "
                        f"{got.status_code} {got.text[:300]}"
                    )
                own = await client.request(method, url, json=with_ref(a), headers=a.headers)
                if not own.is_success:
                    failures.append(
                        f"{method.upper()} {path} with A's own {ref_field} (control): "
                        f"{own.status_code} {own.text[:300]}"
                    )
    assert probed, "no body field references another object: is discovery broken?"
    assert not failures, "\n".join(failures)
    assert not leaks(await everything_seen_by(app, client, a, b), b)


async def test_lists_never_show_another_vendors_objects(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """Every GET under /api/v1 with A's key (lists plain and with B's SKU, handle,
    title or a cursor made from B's id; A's own objects) holds nothing of B's; and
    the same views of B do hold B's things (the control)."""
    a, b = worlds
    assert not leaks(await everything_seen_by(app, client, a, b), b)
    assert not leaks(await everything_seen_by(app, client, b, a), a)
    own = "\n".join((await everything_seen_by(app, client, b, a)).values())
    for what in ("id of product", "id of show", "id of api_key", "id of staff", "id of image"):
        assert b.secrets()[what] in own, f"B's own views do not show its {what}"


async def test_idempotency_keys_are_per_vendor(
    app: FastAPI, client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """A's POST with the Idempotency-Key and body B already used is A's own request:
    never B's remembered answer, never a 'key reused' conflict."""
    a, b = worlds
    openapi = app.openapi()
    probed, failures = 0, []
    for path, ops in openapi["paths"].items():
        op = ops.get("post")
        if not path.startswith(API + "/") or op is None or "{" in path:
            continue
        if not any(p["name"].lower() == "idempotency-key" for p in op.get("parameters", [])):
            continue
        name = _ref_name(op["requestBody"]["content"]["application/json"]["schema"])
        if name not in CREATE_BODIES:
            pytest.fail(f"POST {path}: no create body for {name}; add it to CREATE_BODIES")
        key = {"Idempotency-Key": f"probe-{name}"}
        first = await client.post(path, json=CREATE_BODIES[name], headers={**b.headers, **key})
        assert first.status_code == 201, first.text
        second = await client.post(path, json=CREATE_BODIES[name], headers={**a.headers, **key})
        probed += 1
        b_id = first.json()["id"]
        if (
            second.headers.get(REPLAY_HEADER)
            or b_id in second.text
            or second.status_code >= 500
            or (second.status_code == 409 and "idempotency" in second.text)
        ):
            failures.append(f"POST {path}: {second.status_code} {second.text[:300]}")
    assert probed >= 2, "too few idempotent create routes found: is discovery broken?"
    assert not failures, "\n".join(failures)


async def test_moderation_views_hold_only_the_callers_entries(
    client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """The vendor-wide moderation views (the log and the blocked terms), with A's key
    or A's studio session, plain and filtered by B's show, hold none of B's entries;
    B's own views hold them (the control)."""
    a, b = worlds
    log, terms = f"{API}/moderation/log", f"{API}/moderation/blocked-terms"
    b_log = await _ok(await client.get(log, params={"limit": 500}, headers=b.headers))
    b_terms = await _ok(await client.get(terms, headers=b.headers))
    # B's mute, its terms, its chat settings and its poll are all in B's log.
    actions = {e["action"] for e in b_log}
    assert {"user.mute", "term.add", "chat.settings", "poll.start"} <= actions, actions
    assert {t["id"] for t in b_terms} == {b.ids["blocked_term"], b.ids["show_blocked_term"]}
    b_entries = {e["id"] for e in b_log} | {t["id"] for t in b_terms}

    for caller in (a.headers, await staff_session(client, a.vendor)):
        for url, query in itertools.product((log, terms), ({}, {"show_id": b.ids["show"]})):
            r = await client.get(url, params=query, headers=caller)
            assert r.status_code == 200, r.text
            seen = {entry["id"] for entry in r.json()}
            assert not seen & b_entries, f"GET {url} {query} shows B's {seen & b_entries}"
            assert all(e.get("show_id") in (None, a.ids["show"]) for e in r.json()), r.text
            assert not leaks({f"GET {url} {query}": r.text}, b)
        own_log = await _ok(await client.get(log, headers=caller))
        own_terms = await _ok(await client.get(terms, headers=caller))
        assert {"user.mute", "term.add"} <= {e["action"] for e in own_log}
        assert {t["id"] for t in own_terms} == {a.ids["blocked_term"], a.ids["show_blocked_term"]}


async def test_moderation_bodies_naming_another_vendors_show_are_refused(
    client: httpx.AsyncClient, worlds: tuple[World, World]
) -> None:
    """A blocked term for B's show, or a sanction through B's show (for that show or
    vendor-wide), is a 404 for A, exactly as for a show that does not exist; and
    nothing is created on either side."""
    a, b = worlds
    b_show, nowhere = b.ids["show"], made_up_id(b.ids["show"])
    terms = f"{API}/moderation/blocked-terms"
    before = {
        w.tag: (
            await _ok(await client.get(terms, headers=w.headers)),
            await _ok(
                await client.get(f"{API}/shows/{w.ids['show']}/sanctions", headers=w.headers)
            ),
            await _ok(await client.get(f"{API}/moderation/log", headers=w.headers)),
        )
        for w in (a, b)
    }
    for caller in (a.headers, await staff_session(client, a.vendor)):
        for kind, term in (("word", "probe"), ("pattern", "probe-*")):
            term_body = {"kind": kind, "term": term}
            got = await client.post(terms, json={**term_body, "show_id": b_show}, headers=caller)
            control = await client.post(
                terms, json={**term_body, "show_id": nowhere}, headers=caller
            )
            assert got.status_code == 404, got.text
            assert got.json() == control.json()
        for vendor_wide in (False, True):
            body = {"user_id": "shopper:probe", "ban": True, "vendor_wide": vendor_wide}
            got = await client.post(f"{API}/shows/{b_show}/sanctions", json=body, headers=caller)
            control = await client.post(
                f"{API}/shows/{nowhere}/sanctions", json=body, headers=caller
            )
            assert got.status_code == 404, got.text
            assert got.json() == control.json()
        # A sanction's show is its path: a body cannot name another one.
        got = await client.post(
            f"{API}/shows/{a.ids['show']}/sanctions",
            json={"user_id": "shopper:probe", "show_id": b_show},
            headers=caller,
        )
        assert got.status_code == 422, got.text
        # B's show-only term is as unknown to A as its vendor-wide one.
        got = await client.delete(f"{terms}/{b.ids['show_blocked_term']}", headers=caller)
        assert got.status_code == 404, got.text
    after = {
        w.tag: (
            await _ok(await client.get(terms, headers=w.headers)),
            await _ok(
                await client.get(f"{API}/shows/{w.ids['show']}/sanctions", headers=w.headers)
            ),
            await _ok(await client.get(f"{API}/moderation/log", headers=w.headers)),
        )
        for w in (a, b)
    }
    assert after == before
