"""The shop's checkout: price the cart from the shop's catalogue, confirm flash-deal
reservations and report the order to Pasar with the click tokens, as
docs/embed-events.md asks of a shop with its own cart.

The browser sends SKUs, quantities, reservation ids and click tokens; prices are
the shop's (or, for a deal line, the reservation's, read from Pasar), never the
browser's. Shopper-facing messages are the shop's own words (Indonesian).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pasar.demo.catalogue import CURRENCY, ShopProduct, ShopVariant

log = structlog.get_logger()
MAX_BODY = 64 * 1024
RESERVATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class LineIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    sku: Annotated[str, Field(min_length=1, max_length=100)]
    quantity: Annotated[int, Field(ge=1, le=100)]
    reservation_id: Annotated[str, Field(pattern=RESERVATION_ID.pattern)] | None = None
    click_token: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


class OrderRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=50)]
    # The click the player's `checkout` event carried: the order's own evidence.
    click_token: Annotated[str, Field(min_length=1, max_length=1000)] | None = None


@dataclass
class Priced:
    sku: str
    title: str
    quantity: int
    unit_price: int
    reservation_id: str | None
    click_token: str | None

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price


@dataclass
class Shop:
    pasar: httpx.AsyncClient | None  # with the shop's API key; None: nothing reported
    skus: dict[str, tuple[ShopProduct, ShopVariant]]


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def response(self) -> JSONResponse:
        body = {"code": self.code, "message": self.message, "details": self.details}
        return JSONResponse({"error": body}, status_code=self.status)


def line_title(p: ShopProduct, v: ShopVariant) -> str:
    return f"{p.title} ({v.title})" if v.title else p.title


async def _json_body(request: Request) -> Any:
    # JSON only: a cross-site <form> cannot send it without a CORS preflight.
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise Refused(415, "unsupported_media_type", "Kirim sebagai application/json.")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise Refused(413, "too_large", "Pesanan terlalu besar.")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise Refused(400, "invalid_json", "Data pesanan tidak bisa dibaca.") from exc


def _lapsed(title: str, reservation_id: str | None) -> Refused:
    """The flash deal's hold on this line ran out before the order went through."""
    return Refused(
        409,
        "reservation_expired",
        f"Waktu flash deal untuk {title} sudah habis.",
        reservation_id=reservation_id,
    )


async def _reservation(shop: Shop, line: LineIn, title: str) -> dict[str, Any]:
    if shop.pasar is None:
        raise Refused(409, "unavailable", f"Flash deal untuk {title} tidak bisa diproses.")
    r = await shop.pasar.get(f"/api/v1/reservations/{line.reservation_id}")
    if r.status_code == 404:
        raise Refused(
            409,
            "reservation_expired",
            f"Flash deal untuk {title} tidak ditemukan.",
            reservation_id=line.reservation_id,
        )
    r.raise_for_status()
    held: dict[str, Any] = r.json()
    if held["status"] != "held":
        raise _lapsed(title, line.reservation_id)
    return held


async def price(shop: Shop, order: OrderRequest) -> list[Priced]:
    priced: list[Priced] = []
    wanted: dict[str, int] = {}
    for line in order.lines:
        found = shop.skus.get(line.sku)
        if found is None:
            raise Refused(400, "unknown_sku", "Ada produk yang sudah tidak dijual.", sku=line.sku)
        product, variant = found
        title = line_title(product, variant)
        if line.reservation_id is not None:
            held = await _reservation(shop, line, title)
            if held["currency"] != CURRENCY:
                raise Refused(409, "unavailable", f"Flash deal untuk {title} tidak bisa diproses.")
            quantity, unit_price = int(held["quantity"]), int(held["unit_price"])
        else:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
            if wanted[line.sku] > variant.stock:
                raise Refused(
                    409,
                    "out_of_stock",
                    f"Stok {title} tinggal {variant.stock}.",
                    sku=line.sku,
                    available=variant.stock,
                )
            quantity, unit_price = line.quantity, variant.price
        priced.append(
            Priced(line.sku, title, quantity, unit_price, line.reservation_id, line.click_token)
        )
    return priced


async def _confirm(pasar: httpx.AsyncClient, order_ref: str, line: Priced) -> None:
    r = await pasar.post(
        f"/api/v1/reservations/{line.reservation_id}/confirm",
        json={"order_ref": order_ref, "amount": line.total, "currency": CURRENCY},
    )
    if r.status_code == 409:
        raise _lapsed(line.title, line.reservation_id)
    r.raise_for_status()


def _report_body(order_ref: str, lines: list[Priced], click: str | None) -> dict[str, Any]:
    plain = [line for line in lines if line.reservation_id is None]
    body: dict[str, Any] = {
        "order_ref": order_ref,
        "amount": sum(line.total for line in lines),
        "currency": CURRENCY,
        # Deal lines come from their reservations (already confirmed): Pasar adds them.
        "reservation_ids": [line.reservation_id for line in lines if line.reservation_id],
        "lines": [
            {
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                **({"pasar_click": line.click_token} if line.click_token else {}),
            }
            for line in plain
        ],
    }
    if click:
        body["pasar_click"] = click
    return body


def _without_clicks(body: dict[str, Any]) -> dict[str, Any]:
    lines = [{k: v for k, v in line.items() if k != "pasar_click"} for line in body["lines"]]
    return {**{k: v for k, v in body.items() if k != "pasar_click"}, "lines": lines}


async def report(
    pasar: httpx.AsyncClient, order_ref: str, lines: list[Priced], click: str | None
) -> dict[str, Any]:
    """Tell Pasar about the order; the shop's order stands whatever Pasar says."""
    body = _report_body(order_ref, lines, click)
    headers = {"Idempotency-Key": order_ref}
    r = await pasar.post("/api/v1/orders", json=body, headers=headers)
    if r.status_code == 400 and r.json().get("error", {}).get("code") == "invalid_click":
        # A token that is not Pasar's (or not this shop's): report without clicks.
        headers["Idempotency-Key"] = f"{order_ref}-noclick"
        r = await pasar.post("/api/v1/orders", json=_without_clicks(body), headers=headers)
    if r.status_code not in (200, 201):
        log.warning("demo shop: Pasar refused the order", status=r.status_code, body=r.text[:500])
        return {"reported": False, "message": f"Pasar answered {r.status_code}", "lines": []}
    out = r.json()
    # Lines Pasar made from reservations carry no SKU or title: name them as the shop does.
    titles = {line.reservation_id or line.sku: line.title for line in lines}
    return {
        "reported": True,
        "order_id": out["id"],
        "lines": [
            {
                "title": titles.get(line["reservation_id"] or line["sku"], line["title"]),
                "quantity": line["quantity"],
                "attributed_by": line["attributed_by"],
                "show_id": line["show_id"],
            }
            for line in out["lines"]
        ],
    }


async def place_order(request: Request) -> Response:
    shop: Shop = request.app.state.shop
    try:
        try:
            order = OrderRequest.model_validate(await _json_body(request))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise Refused(422, "invalid", f"Data pesanan tidak valid ({where}).") from exc
        try:
            lines = await price(shop, order)
            order_ref = "TD-" + secrets.token_hex(4).upper()
            if shop.pasar is not None:
                for line in lines:
                    if line.reservation_id:
                        await _confirm(shop.pasar, order_ref, line)
        except httpx.HTTPError as exc:
            log.warning("demo shop: Pasar unreachable at checkout", error=str(exc))
            raise Refused(
                503, "unavailable", "Flash deal tidak bisa dikonfirmasi, coba lagi."
            ) from exc
    except Refused as refused:
        return refused.response()
    pasar_note: dict[str, Any] = {"reported": False, "message": "no API key", "lines": []}
    if shop.pasar is not None:
        try:
            pasar_note = await report(shop.pasar, order_ref, lines, order.click_token)
        except httpx.HTTPError as exc:
            log.warning("demo shop: Pasar unreachable when reporting", error=str(exc))
            pasar_note = {"reported": False, "message": "Pasar unreachable", "lines": []}
    return JSONResponse(
        {
            "order_ref": order_ref,
            "amount": sum(line.total for line in lines),
            "currency": CURRENCY,
            "lines": [
                {
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "line_total": line.total,
                    "reservation_id": line.reservation_id,
                }
                for line in lines
            ],
            "pasar": pasar_note,
        },
        status_code=201,
    )


async def release_reservation(request: Request) -> Response:
    """The shopper took a deal line out of the cart: give the units back now rather
    than when the hold runs out (best effort: the hold expires anyway)."""
    shop: Shop = request.app.state.shop
    reservation_id = request.path_params["reservation_id"]
    try:
        await _json_body(request)
    except Refused as refused:
        return refused.response()
    if not RESERVATION_ID.match(reservation_id):
        return Refused(404, "not_found", "Tidak ditemukan.").response()
    if shop.pasar is not None:
        try:
            r = await shop.pasar.post(f"/api/v1/reservations/{reservation_id}/release")
            if r.status_code not in (200, 404, 409):
                log.warning("demo shop: release refused", status=r.status_code)
        except httpx.HTTPError as exc:
            log.warning("demo shop: Pasar unreachable on release", error=str(exc))
    return Response(status_code=204)


__all__ = ["Shop", "place_order", "release_reservation"]
