"""``Commerce``: the running side of live commerce, one per app.

It owns the stock engine, answers claims, and keeps a background loop that
does what no request does: announce deals as they open and end, expire holds
(returning their units and serving the waitlist), push ``deal.updated`` at
most a few times a second, and reconcile the engine with the record.

Everything the loop does is decided by a conditional update in the database,
so any number of nodes can run it and each change is announced once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from pasar.catalog.models import Product, Variant
from pasar.catalog.service import products_by_ids
from pasar.clock import utcnow
from pasar.commerce import checkout
from pasar.commerce import deals as deal_service
from pasar.commerce import pins as pin_service
from pasar.commerce import reservations as rsv
from pasar.commerce.checkout import Line
from pasar.commerce.claims import Shopper, pick_variant
from pasar.commerce.errors import CommerceError, reservation_state
from pasar.commerce.groupcommit import GroupCommit
from pasar.commerce.ledger import Claim, DealTerms, Outcome, claim_key, fingerprint
from pasar.commerce.models import Deal, DealStock, Pin, Reservation
from pasar.commerce.schemas import ReservationOut
from pasar.commerce.stock import StockEngine
from pasar.commerce.stock_sql import SqlStock
from pasar.commerce.throttle import Throttle
from pasar.db.engine import Database
from pasar.engagement import moderation
from pasar.loops import Loops
from pasar.realtime.engine import Realtime
from pasar.settings import Settings
from pasar.shared_reads import SharedReads
from pasar.shows.models import Show
from pasar.shows.states import ShowState
from pasar.storage import Storage
from pasar.vendors import origins
from pasar.vendors.credentials import SecretBox
from pasar.vendors.models import Vendor
from pasar.webhooks import enqueue, enqueue_many

log = structlog.get_logger()

TICK_SECONDS = 0.25  # deal.updated at most 4 times a second per deal and node
LOOP_SECONDS = 1.0
TERMS_CACHE = 10_000
VENDOR_CACHE_SECONDS = 10.0  # a rotated shopper secret or a new template applies within this
SHOW_CACHE_SECONDS = 2.0  # a ban or a pin made on another node counts within this


@dataclass(frozen=True, slots=True)
class OnScreen:
    pinned_products: list[dict[str, Any]]
    deals: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _ShowFacts:
    """What a claim checks about its show, refreshed every few seconds per node."""

    banned: frozenset[str]
    pins: tuple[tuple[str, str, bool], ...]  # (pin id, product id, on screen now)
    fetched: float


@dataclass(frozen=True, slots=True)
class _VendorBits:
    shopper_secret: str
    checkout_url_template: str | None
    allowed_origins: frozenset[str]
    fetched: float


def reservation_webhook(row: dict[str, Any]) -> ReservationOut:
    return rsv.row_out(row)


class Commerce:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        realtime: Realtime,
        box: SecretBox,
        nudge_webhooks: Callable[[], None],
    ) -> None:
        """``nudge_webhooks`` wakes the webhook dispatcher after a commit that
        queued messages, so they leave at once instead of at its next poll."""
        self.settings = settings
        self.box = box
        self.db = db
        self.realtime = realtime
        self.group = GroupCommit(
            db, in_transaction=self._record_events, after_commit=self._after_batch
        )
        self.engine: StockEngine
        if settings.stock_engine == "redis":
            if not settings.redis_url:
                raise ValueError("PASAR_STOCK_ENGINE=redis needs PASAR_REDIS_URL")
            from pasar.commerce.stock_redis import RedisStock

            self.engine = RedisStock(settings.redis_url, db, self.group)
        else:
            self.engine = SqlStock(db, self.group)
        self.nudge_webhooks = nudge_webhooks
        self.throttle = Throttle(settings.redis_url)
        self._terms: OrderedDict[str, DealTerms] = OrderedDict()
        self._vendors: dict[str, _VendorBits] = {}
        self._shows: dict[str, _ShowFacts] = {}
        # One load in flight per key (a burst of claims as an entry runs out);
        # what is kept, and for how long, is the dicts above.
        self._loading_terms: SharedReads[str, DealTerms] = SharedReads(0)
        self._loading_vendor: SharedReads[str, _VendorBits] = SharedReads(0)
        self._loading_show: SharedReads[str, _ShowFacts] = SharedReads(0)
        self._show_generation = 0  # bumped by show_changed()
        self._dirty: dict[str, str] = {}  # deal id → show id, awaiting deal.updated
        self._loops = Loops()
        self._tend_passes = 0

    async def start(self) -> None:
        self._loops.every(TICK_SECONDS, self._tick, name="pasar-deal-ticker")
        self._loops.every(LOOP_SECONDS, self._tend_pass, name="pasar-commerce-loop")

    async def close(self) -> None:
        await self._loops.stop()
        await self.engine.close()
        await self.throttle.close()

    # -- claims ---------------------------------------------------------------

    async def terms(self, deal_id: str) -> DealTerms:
        """A deal's terms by id alone (cached: they never change)."""
        cached = self._terms.get(deal_id)
        if cached is not None:
            return cached
        return await self._loading_terms.get(deal_id, lambda: self._load_terms(deal_id))

    async def _load_terms(self, deal_id: str) -> DealTerms:
        async with self.db.session() as db:
            deal = await deal_service.public_deal(db, deal_id)
            if deal is None:
                raise CommerceError.not_found("deal")
            rows = await db.execute(
                select(Variant.id, Variant.sku).where(Variant.id.in_(deal.variant_ids))
            )
            skus: dict[str, str | None] = {v: sku for v, sku in rows}
        found = deal_service.terms(deal, skus)
        self._terms[deal_id] = found
        if len(self._terms) > TERMS_CACHE:
            self._terms.popitem(last=False)
        return found

    async def _vendor(self, vendor_id: str) -> _VendorBits:
        cached = self._vendors.get(vendor_id)
        now = time.monotonic()
        if cached is not None and now - cached.fetched < VENDOR_CACHE_SECONDS:
            return cached
        return await self._loading_vendor.get(vendor_id, lambda: self._load_vendor(vendor_id))

    async def _load_vendor(self, vendor_id: str) -> _VendorBits:
        now = time.monotonic()
        async with self.db.session() as db:
            vendor = await db.get(Vendor, vendor_id)
        if vendor is None:
            raise CommerceError.not_found("vendor")
        bits = _VendorBits(
            self.box.open(vendor.shopper_secret_encrypted),
            vendor.checkout_url_template,
            origins.allowed_set(vendor.allowed_origins),
            now,
        )
        self._vendors[vendor_id] = bits
        return bits

    async def _show(self, vendor_id: str, show_id: str) -> _ShowFacts:
        cached = self._shows.get(show_id)
        now = time.monotonic()
        if cached is not None and now - cached.fetched < SHOW_CACHE_SECONDS:
            return cached
        return await self._loading_show.get(show_id, lambda: self._load_show(vendor_id, show_id))

    async def _load_show(self, vendor_id: str, show_id: str) -> _ShowFacts:
        now = time.monotonic()
        generation = self._show_generation
        async with self.db.session() as db:
            banned = await moderation.banned_subjects(db, vendor_id, show_id)
            pins = await pin_service.list_pins(db, vendor_id, show_id)
        facts = _ShowFacts(
            frozenset(banned),
            tuple((p.id, p.product_id, p.unpinned_at is None) for p in pins),
            now,
        )
        if len(self._shows) > TERMS_CACHE:
            self._shows.clear()
        if generation == self._show_generation:  # else a change may have come after the read
            self._shows[show_id] = facts
        return facts

    def vendor_changed(self, vendor_id: str) -> None:
        """The vendor's checkout template or shopper secret changed on this node
        (other nodes see it within ``VENDOR_CACHE_SECONDS``)."""
        self._vendors.pop(vendor_id, None)
        self._loading_vendor.forget(vendor_id)

    def show_changed(self, show_id: str) -> None:
        """Pins or bans changed on this node: the next claim reads them afresh."""
        self._shows.pop(show_id, None)
        self._show_generation += 1
        self._loading_show.forget(show_id)

    def moderation_changed(self, vendor_id: str) -> None:
        """A sanction of ``vendor_id`` was made or lifted on this node (whichever
        door it came in by: the API, the staff socket, vendor-wide): the next
        claim on any show reads the bans afresh. Sanctions are rare, so every
        show's facts go, and reads in flight are left to their own callers."""
        self._shows.clear()
        self._show_generation += 1
        self._loading_show.forget()

    async def check_origin(self, vendor_id: str, origin: str | None) -> None:
        """Refuse a shopper action sent from a browser page that is neither Pasar's
        own nor among the vendor's allowed embed origins (as the show socket does).
        No Origin header: not a browser page (a server, curl), nothing ambient to
        abuse, allowed. A change of origins applies within VENDOR_CACHE_SECONDS."""
        if origin is None:
            return
        public = self.settings.resolved_public_url
        if origins.page_allowed(origin, public, frozenset()):
            return  # Pasar's own page: no vendor lookup
        if origins.page_allowed(origin, public, (await self._vendor(vendor_id)).allowed_origins):
            return
        raise CommerceError(
            "forbidden",
            "origin_not_allowed",
            f"pages on {origin[:100]} may not act for this shop's shoppers: add the origin "
            "to the shop's allowed embed origins",
        )

    async def shopper_secret(self, vendor_id: str) -> str:
        return (await self._vendor(vendor_id)).shopper_secret

    async def checkout_url(self, rows: Sequence[dict[str, Any]], show_id: str | None) -> str | None:
        """The vendor's checkout with these reservations, when the vendor set a template."""
        if not rows:
            return None
        template = (await self._vendor(rows[0]["vendor_id"])).checkout_url_template
        if not template or not checkout.is_safe(template) or not checkout.names_items(template):
            return None
        lines = []
        for row in rows:
            terms = await self.terms(row["deal_id"])
            sku = dict(terms.skus).get(row["variant_id"])
            lines.append(Line(row["variant_id"], sku, row["quantity"], row["id"]))
        return checkout.render(template, lines, show_id)

    async def claim(
        self,
        terms: DealTerms,
        shopper: Shopper,
        idempotency_key: str,
        variant_id: str | None,
        quantity: int,
        pin_id: str | None,
    ) -> Outcome:
        """Answer one claim: a reservation recorded in the database, or a refusal."""
        variant_id = pick_variant(terms, variant_id)
        if quantity > terms.per_shopper_limit:
            return Outcome(refusal="limit_reached", extra={"holding": None})
        facts = await self._show(terms.vendor_id, terms.show_id)
        pin_id = self._attribute(facts, terms, pin_id)
        now = utcnow()
        if (shopper.signed_in is False and terms.signed_in_only) or shopper.id in facts.banned:
            return Outcome(refusal="not_allowed")
        if now < terms.starts_at:
            return Outcome(refusal="not_started")
        if now >= terms.ends_at:
            return Outcome(refusal="ended")
        claim = Claim(
            shopper_id=shopper.id,
            variant_id=variant_id,
            quantity=quantity,
            claim_key=claim_key(shopper.id, idempotency_key),
            fingerprint=fingerprint(variant_id, quantity, pin_id),
            pin_id=pin_id,
        )
        try:
            return await self.engine.claim(terms, claim)
        except CommerceError:
            raise
        except Exception as exc:
            raise CommerceError(
                "unavailable",
                "stock_unavailable",
                "the claim could not be recorded; retry with the same Idempotency-Key",
            ) from exc

    @staticmethod
    def _attribute(facts: _ShowFacts, terms: DealTerms, pin_id: str | None) -> str | None:
        """The pin the claim is credited to: the one the embed showed when the
        shopper tapped, or else the deal's product's pin on screen now."""
        if pin_id is not None:
            if not any(p == pin_id and product == terms.product_id for p, product, _ in facts.pins):
                raise CommerceError(
                    "invalid", "unknown_pin", "pin_id is not a pin of this deal's product"
                )
            return pin_id
        on_screen = [p for p, product, now in facts.pins if now and product == terms.product_id]
        return on_screen[-1] if on_screen else None

    async def _record_events(
        self, db: AsyncSession, terms: DealTerms, outcomes: list[Outcome]
    ) -> int:
        """In the batch's transaction: the outbox rows for what it reserved; how
        many messages were queued."""
        new = [o.reservation for o in outcomes if o.reservation is not None and not o.replayed]
        queued = await enqueue_many(
            db,
            terms.vendor_id,
            [("reservation.created", reservation_webhook(row)) for row in new if row is not None],
        )
        if new and outcomes[-1].units_left == 0:
            won = await db.execute(
                update(DealStock)
                .where(DealStock.deal_id == terms.id, DealStock.sold_out_announced.is_(False))
                .values(sold_out_announced=True)
            )
            if getattr(won, "rowcount", 0):
                queued += await enqueue(
                    db,
                    terms.vendor_id,
                    "deal.sold_out",
                    {"deal_id": terms.id, "show_id": terms.show_id, "quantity": terms.quantity},
                )
        return queued

    async def _after_batch(
        self, terms: DealTerms, claims: Sequence[Claim], outcomes: Sequence[Outcome], queued: int
    ) -> None:
        if any(o.reservation is not None and not o.replayed for o in outcomes):
            self.touch(terms.id, terms.show_id)
        # Only when the batch queued messages: a shop without webhook endpoints
        # (or a batch of refusals) would wake the dispatcher for a query per batch.
        if queued:
            self.nudge_webhooks()

    # -- deal.updated ---------------------------------------------------------

    def touch(self, deal_id: str, show_id: str) -> None:
        """Units left changed: viewers hear it within ``TICK_SECONDS``."""
        self._dirty[deal_id] = show_id

    async def _tick(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        for deal_id, show_id in dirty.items():
            try:
                # Read now, not the value that made it dirty: the last tick
                # after the last change always carries the final count.
                left = await self.engine.units_left(deal_id)
                if left is not None:
                    await self.realtime.publish(
                        show_id, "deal.updated", {"deal_id": deal_id, "units_left": left}
                    )
            except Exception:
                log.exception("deal.updated failed", deal_id=deal_id)
                self._dirty.setdefault(deal_id, show_id)

    # -- what happens with time ---------------------------------------------

    async def _tend_pass(self) -> None:
        self._tend_passes += 1
        await self.tend()
        if self._tend_passes % 5 == 0:
            await self.engine.reconcile()
            await self._close_ended_shows()

    async def tend(self, now: datetime | None = None) -> None:
        """One pass: announce opened deals, end deals whose time is up, expire holds."""
        now = now or utcnow()
        await self._announce_starts(now)
        await self._end_due(now)
        await self.expire_holds(now)

    async def _announce_starts(self, now: datetime) -> None:
        async with self.db.session() as db:
            due = await db.execute(
                select(Deal).where(
                    Deal.start_announced.is_(False), Deal.starts_at <= now, Deal.ended_at.is_(None)
                )
            )
            for deal in due.scalars():
                won = await db.execute(
                    update(Deal)
                    .where(Deal.id == deal.id, Deal.start_announced.is_(False))
                    .values(start_announced=True)
                )
                if getattr(won, "rowcount", 0):
                    stock = (await deal_service.stock_of(db, [deal.id])).get(deal.id)
                    await enqueue(
                        db, deal.vendor_id, "deal.started", deal_service.webhook_data(deal, stock)
                    )
            await db.commit()
        self.nudge_webhooks()

    async def _end_due(self, now: datetime) -> None:
        async with self.db.session() as db:
            due = await db.execute(
                select(Deal).where(Deal.ended_at.is_(None), Deal.ends_at <= now).limit(100)
            )
            for deal in list(due.scalars()):
                try:
                    await deal_service.end_deal(db, deal, "ended")
                except CommerceError:
                    continue  # another node ended it
                await self.ended(db, deal)

    async def show_ended(self, show_id: str) -> None:
        """The show ended: its deals close to claims as a deal's own end does
        (holds stay valid until they run out; engine, events and webhooks
        follow) and its pins leave the screen. Safe to run on any number of
        nodes at once and again later: every step is a conditional update."""
        async with self.db.session() as db:
            show = await db.get(Show, show_id)
            if show is None or show.state not in (ShowState.ENDED, ShowState.REPLAY):
                return  # e.g. a publisher's end on a show that never went live
            rows = await db.execute(
                select(Deal)
                .where(Deal.show_id == show_id, Deal.ended_at.is_(None))
                .order_by(Deal.id)
            )
            for deal in list(rows.scalars()):
                try:
                    await deal_service.end_deal(db, deal, "ended")
                except CommerceError:
                    continue  # ended meanwhile (its own time, or another node)
                await self.ended(db, deal)
        async with self.db.session() as db:
            taken = await pin_service.take_down(db, show_id)
            for pin in taken:
                await enqueue(
                    db,
                    pin.vendor_id,
                    "product.unpinned",
                    {"show_id": show_id, "pin_id": pin.id, "product_id": pin.product_id},
                )
            await db.commit()
        self.show_changed(show_id)
        for pin in taken:
            await self.realtime.publish(
                show_id, "product.unpinned", {"product_id": pin.product_id, "pin_id": pin.id}
            )
        if taken:
            self.nudge_webhooks()

    async def _close_ended_shows(self) -> None:
        """Repair: a node that died between committing a show's end and closing
        its deals and pins leaves them open; any node finishes the job."""
        async with self.db.session() as db:
            over = (ShowState.ENDED.value, ShowState.REPLAY.value)
            open_deals = select(Deal.show_id).where(Deal.ended_at.is_(None))
            on_screen = select(Pin.show_id).where(Pin.unpinned_at.is_(None))
            rows = await db.execute(
                select(Show.id)
                .where(Show.state.in_(over), Show.id.in_(open_deals.union(on_screen)))
                .limit(100)
            )
            show_ids = list(rows.scalars())
        for show_id in show_ids:
            await self.show_ended(show_id)

    async def ended(
        self, db: AsyncSession, deal: Deal, returned: rsv.Returned | None = None
    ) -> None:
        """Announce a deal's end (commits the caller's session)."""
        stock = (await deal_service.stock_of(db, [deal.id])).get(deal.id)
        await enqueue(db, deal.vendor_id, "deal.ended", deal_service.webhook_data(deal, stock))
        if returned is not None:
            for row in returned.settled:
                await enqueue(db, deal.vendor_id, "reservation.released", rsv.row_out(row))
        await db.commit()
        await self.engine.closed(deal.id)
        reason = (
            deal.end_reason if deal.end_reason in ("ended", "cancelled", "sold_out") else "ended"
        )
        await self.realtime.publish(
            deal.show_id, "deal.ended", {"deal_id": deal.id, "reason": reason}
        )
        self.nudge_webhooks()

    async def expire_holds(self, now: datetime) -> int:
        """Expire holds that ran out; their units go back (waitlist first)."""
        expired = 0
        async with self.db.session() as db:
            due = await rsv.due_for_expiry(db, now)
            if not due:
                return 0
            deals = {
                d.id: d
                for d in (
                    await db.execute(select(Deal).where(Deal.id.in_({r.deal_id for r in due})))
                ).scalars()
            }
            for deal_id, rows in rsv.by_deal(due).items():
                deal = deals[deal_id]
                returned = await rsv.return_units(db, deal, rows, "expired")
                for row in returned.settled:
                    await enqueue(db, deal.vendor_id, "reservation.expired", rsv.row_out(row))
                for granted in returned.granted:
                    await enqueue(db, deal.vendor_id, "reservation.created", rsv.row_out(granted))
                await db.commit()
                expired += len(returned.settled)
                await self.units_returned(returned)
        return expired

    async def units_returned(self, returned: rsv.Returned) -> None:
        """After a commit that gave units back: engine, viewers, waitlisted shoppers."""
        if not returned.settled and not returned.granted:
            return
        await self.engine.returned(returned.deal_id, returned.remaining, returned.by_shopper)
        self.touch(returned.deal_id, returned.show_id)
        for row in returned.granted:
            await self.realtime.send_to(
                returned.show_id,
                row["shopper_id"],
                "waitlist.granted",
                {
                    "deal_id": row["deal_id"],
                    "reservation_id": row["id"],
                    "variant_id": row["variant_id"],
                    "quantity": row["quantity"],
                    "expires_at": row["expires_at"],
                },
            )
        self.nudge_webhooks()

    # -- settling reservations --------------------------------------------------

    async def confirmed(self, db: AsyncSession, row: Reservation) -> None:
        """After ``reservations.confirm``: commit, and end the deal once every
        unit is sold."""
        deal = await db.get(Deal, row.deal_id)
        stock = (await deal_service.stock_of(db, [row.deal_id])).get(row.deal_id)
        await db.commit()
        self.nudge_webhooks()
        if deal is None or stock is None or deal.ended_at is not None:
            return
        if stock.sold >= deal.quantity:
            try:
                await deal_service.end_deal(db, deal, "sold_out")
            except CommerceError:
                return  # ended meanwhile
            await self.ended(db, deal)

    async def release(self, db: AsyncSession, row: Reservation) -> None:
        """Give a held reservation's units back (commits). Releasing twice is a no-op."""
        if row.status == "released":
            return
        if row.status != "held":
            raise CommerceError(
                "conflict", reservation_state(row.status), f"the reservation is {row.status}"
            )
        deal = await db.get(Deal, row.deal_id)
        assert deal is not None  # reservations go with their deal
        returned = await rsv.return_units(db, deal, [row], "released")
        if not returned.settled:
            await db.refresh(row)
            if row.status != "released":
                raise CommerceError(
                    "conflict", reservation_state(row.status), f"the reservation is {row.status}"
                )
            return
        await enqueue(db, deal.vendor_id, "reservation.released", rsv.row_out(row))
        for granted in returned.granted:
            await enqueue(db, deal.vendor_id, "reservation.created", rsv.row_out(granted))
        await db.commit()
        await self.units_returned(returned)

    # -- what a joining viewer sees ----------------------------------------------

    async def on_screen(self, db: AsyncSession, show_id: str, storage: Storage) -> OnScreen:
        """The pinned products and running deals, for the socket's snapshot."""
        pinned = await pin_service.active_pins(db, show_id)
        found = await products_by_ids(
            db, pinned[0].vendor_id if pinned else "", [p.product_id for p in pinned]
        )
        products = {p.id: p for p in found}

        def image(product: Product) -> str | None:
            return pin_service.first_image_url(product, storage)

        pins = [
            pin_service.pinned_data(pin, products[pin.product_id], image)
            for pin in pinned
            if pin.product_id in products
        ]
        running = await deal_service.running_deals(db, show_id)
        # The record's count, read in this session (a second session would wait on
        # this one under SQLite); deal.updated carries the engine's from here on.
        stock = await deal_service.stock_of(db, [d.id for d in running])
        deals = [
            deal_service.event_data(d, stock[d.id].remaining if d.id in stock else 0)
            for d in running
        ]
        return OnScreen(pins, deals)
