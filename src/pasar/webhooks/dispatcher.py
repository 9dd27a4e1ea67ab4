"""The delivery worker: every node runs one ``Dispatcher`` (``services.webhooks``).

It claims due deliveries from the database (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so nodes never claim the same one; SQLite's single writer serialises claims), sends
them through one shared HTTP client, and records each attempt. A claim moves the
delivery's ``next_attempt_at`` a lease ahead: should the node die mid-send, the
delivery falls due again after the lease and another node sends it (at least once).

The worker wakes when ``nudge()`` is called (after a commit on this node) and polls
every second otherwise (messages committed on other nodes, retries falling due).
At most ``concurrency`` requests are in flight, at most ``per_endpoint`` of them to
one endpoint and at most ``per_vendor`` to one vendor's endpoints together, so a slow
endpoint cannot hold up the others, nor one vendor's slow endpoints everyone else's.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from pasar import __version__
from pasar.clock import as_utc, utcnow
from pasar.db.engine import Database
from pasar.ids import new_id
from pasar.loops import Loops
from pasar.vendors.credentials import SecretBox
from pasar.webhooks import service, signing
from pasar.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from pasar.webhooks.outbox import iso, message_bodies, purge
from pasar.webhooks.schedule import retry_after, retry_delay
from pasar.webhooks.urls import GuardedTransport, RefusedAddress, tls_context

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10.0
# Longer than a request can take, so a lease only runs out when its node is gone.
LEASE = timedelta(seconds=60)
POLL_SECONDS = 1.0
EXCERPT_BYTES = 1024
CLOSE_GRACE_SECONDS = 5.0
RETRY_AFTER_STATUSES = frozenset({429, 503})
# Delivery logs are kept this long (a message still being retried is kept regardless).
RETENTION = timedelta(days=30)
PURGE_EVERY_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery, with everything the request needs."""

    delivery_id: str
    vendor_id: str
    endpoint_id: str
    message_id: str
    url: str
    body: bytes
    secrets: list[str]
    lease: datetime
    trigger: str


@dataclass(frozen=True, slots=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_body: str = ""
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "\ufffd")


class Dispatcher:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        *,
        allow_private: bool,
        concurrency: int = 16,
        per_endpoint: int | None = None,
        per_vendor: int | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.box = box
        self.allow_private = allow_private
        self.concurrency = concurrency
        # A quarter of the slots by default: three quarters stay free for other endpoints.
        self.per_endpoint = max(1, per_endpoint or concurrency // 4)
        # Half by default: a vendor with many slow endpoints leaves the other half free.
        self.per_vendor = max(self.per_endpoint, per_vendor or concurrency // 2)
        self.clock = clock
        self.rng = rng or random.Random()
        limits = httpx.Limits(max_connections=max(concurrency, 1) * 2)
        transport = (
            httpx.AsyncHTTPTransport(verify=tls_context(), trust_env=False, limits=limits)
            if allow_private
            else GuardedTransport(limits)
        )
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=REQUEST_TIMEOUT_SECONDS,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": f"Pasar-Webhooks/{__version__}"},
        )
        self._wake = asyncio.Event()
        self._loops = Loops()
        self._next_purge = 0.0
        # Each request in flight, with the endpoint and vendor it counts against.
        self._in_flight: dict[asyncio.Task[None], tuple[str, str]] = {}

    # --- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        if self.concurrency > 0 and not self._loops.running:
            self._next_purge = 0.0
            self._loops.every(
                POLL_SECONDS, self._pass, name="webhook-dispatcher", first=True, wake=self._wake
            )

    async def stop(self) -> None:
        """Stop claiming; let requests in flight finish briefly, then cancel them
        (their deliveries fall due again when the lease runs out)."""
        # Bounded: a pass cancelled inside a database call may take its time to
        # unwind, and nothing is lost by not waiting (leases run out).
        await self._loops.stop(grace=CLOSE_GRACE_SECONDS)
        if self._in_flight:
            _, pending = await asyncio.wait(set(self._in_flight), timeout=CLOSE_GRACE_SECONDS)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_GRACE_SECONDS)

    async def close(self) -> None:
        await self.stop()
        await self.client.aclose()

    def nudge(self) -> None:
        """Look for due deliveries now (call it after committing a message)."""
        self._wake.set()

    async def _pass(self) -> None:
        """Claim what is due; now and then forget old messages. The loop runs it
        every ``POLL_SECONDS``, or at once when nudged."""
        await self.dispatch_due()
        now = asyncio.get_running_loop().time()
        if now >= self._next_purge:
            self._next_purge = now + PURGE_EVERY_SECONDS
            await self.purge()

    async def purge(self) -> int:
        """Forget messages (and their delivery logs) older than RETENTION."""
        async with self.db.session() as db:
            purged = await purge(db, self.clock() - RETENTION)
            await db.commit()
        return purged

    # --- claiming ------------------------------------------------------------------

    async def dispatch_due(self) -> int:
        """Claim as many due deliveries as there are free slots and start sending
        them; returns how many were started."""
        free = self.concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        endpoints = Counter(e for e, _ in self._in_flight.values())
        vendors = Counter(v for _, v in self._in_flight.values())
        jobs = await self._claim(free, endpoints, vendors)
        for job in jobs:
            task = asyncio.create_task(self._deliver(job))
            self._in_flight[task] = (job.endpoint_id, job.vendor_id)
            task.add_done_callback(self._done)
        return len(jobs)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._wake.set()  # a slot is free

    async def run_once(self) -> int:
        """Send what is due now and wait for the answers (for tests and tools)."""
        started = await self.dispatch_due()
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        return started

    async def _claim(
        self, free: int, busy: Counter[str], vendors_busy: Counter[str] | None = None
    ) -> list[Job]:
        """Claim up to ``free`` due deliveries, oldest first, within the per-endpoint
        (``busy``: in flight per endpoint) and per-vendor caps."""
        now = self.clock()
        vendors_busy = Counter() if vendors_busy is None else vendors_busy
        async with self.db.session() as db:
            picked = await self._pick(db, now, free, busy, vendors_busy)
            if not picked:
                return []
            locked = (
                select(WebhookDelivery)
                .where(WebhookDelivery.id.in_(picked), WebhookDelivery.next_attempt_at <= now)
                .with_for_update(skip_locked=True)
            )
            chosen = list((await db.execute(locked)).scalars())
            if not chosen:
                return []
            endpoints = {
                e.id: e
                for e in (
                    await db.execute(
                        select(WebhookEndpoint).where(
                            WebhookEndpoint.id.in_({d.endpoint_id for d in chosen})
                        )
                    )
                ).scalars()
            }
            bodies = await message_bodies(db, {d.message_id for d in chosen})
            jobs = []
            lease = now + LEASE
            for delivery in chosen:
                endpoint = endpoints[delivery.endpoint_id]
                if not endpoint.enabled:
                    delivery.status, delivery.next_attempt_at = "failed", None
                    continue
                delivery.status, delivery.next_attempt_at = "sending", lease
                jobs.append(
                    Job(
                        delivery_id=delivery.id,
                        vendor_id=delivery.vendor_id,
                        endpoint_id=endpoint.id,
                        message_id=delivery.message_id,
                        url=endpoint.url,
                        body=bodies[delivery.message_id].encode(),
                        secrets=service.signing_secrets(self.box, endpoint, now),
                        lease=lease,
                        trigger=delivery.next_trigger,
                    )
                )
            await db.commit()
        return jobs

    async def _pick(
        self,
        db: AsyncSession,
        now: datetime,
        free: int,
        busy: Counter[str],
        vendors_busy: Counter[str],
    ) -> list[str]:
        """Ids of due deliveries to claim, without locking, within the caps (``busy``
        and ``vendors_busy`` are counted up as they are picked).

        A window of the oldest due rows may be all one vendor's (a backlog behind
        slow endpoints): once that vendor or endpoint is full, look again without it,
        so the next vendor's deliveries go out now rather than at the next poll."""
        picked: list[str] = []
        for _ in range(3):
            full_endpoints = [e for e, n in busy.items() if n >= self.per_endpoint]
            full_vendors = [v for v, n in vendors_busy.items() if n >= self.per_vendor]
            window = free * 4
            due = (
                select(WebhookDelivery.id, WebhookDelivery.endpoint_id, WebhookDelivery.vendor_id)
                .where(WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(window)
            )
            if full_endpoints:
                due = due.where(WebhookDelivery.endpoint_id.not_in(full_endpoints))
            if full_vendors:
                due = due.where(WebhookDelivery.vendor_id.not_in(full_vendors))
            if picked:
                due = due.where(WebhookDelivery.id.not_in(picked))
            rows = list(await db.execute(due))
            for delivery_id, endpoint_id, vendor_id in rows:
                if len(picked) == free:
                    return picked
                room = busy[endpoint_id] < self.per_endpoint
                if room and vendors_busy[vendor_id] < self.per_vendor:
                    busy[endpoint_id] += 1
                    vendors_busy[vendor_id] += 1
                    picked.append(delivery_id)
            if len(picked) == free or len(rows) < window:
                break  # every due row was seen
        return picked

    # --- sending -------------------------------------------------------------------

    async def _deliver(self, job: Job) -> None:
        try:
            outcome = await self.send(job)
            await self._record(job, outcome)
        except Exception:
            log.exception("webhook delivery %s failed unexpectedly", job.delivery_id)

    async def send(self, job: Job) -> Outcome:
        """One signed POST; never raises for what the network or the endpoint does."""
        started = self.clock()
        t0 = time.perf_counter()
        headers = signing.headers(job.secrets, job.message_id, int(started.timestamp()), job.body)
        headers["content-type"] = "application/json"

        def took() -> int:
            return int((time.perf_counter() - t0) * 1000)

        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                request = self.client.build_request("POST", job.url, content=job.body)
                request.headers.update(headers)
                response = await self.client.send(request, stream=True)
                try:
                    excerpt = bytearray()
                    async for chunk in response.aiter_raw():
                        excerpt += chunk
                        if len(excerpt) >= EXCERPT_BYTES:
                            break
                finally:
                    await response.aclose()
        except TimeoutError:
            return Outcome(started, took(), error="timed out")
        except httpx.TimeoutException as exc:
            return Outcome(started, took(), error=f"timed out ({type(exc).__name__})")
        except (httpx.HTTPError, OSError) as exc:
            if isinstance(exc.__cause__, RefusedAddress):  # httpx wraps the guard's refusal
                return Outcome(started, took(), error=_clean(str(exc.__cause__))[:500])
            return Outcome(started, took(), error=_clean(f"{type(exc).__name__}: {exc}")[:500])
        text = bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", errors="replace")
        return Outcome(
            started,
            took(),
            status_code=response.status_code,
            response_body=_clean(text),
            retry_after=response.headers.get("retry-after"),
        )

    async def _record(self, job: Job, outcome: Outcome) -> None:
        """Log the attempt and decide what comes next."""
        async with self.db.session() as db:
            delivery = await db.get(WebhookDelivery, job.delivery_id, with_for_update=True)
            if delivery is None:
                return  # the endpoint was deleted meanwhile
            db.add(
                WebhookAttempt(
                    id=new_id("att"),
                    vendor_id=job.vendor_id,
                    delivery_id=job.delivery_id,
                    trigger=job.trigger,
                    started_at=outcome.started_at,
                    duration_ms=outcome.duration_ms,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    response_body=outcome.response_body,
                )
            )
            lease = delivery.next_attempt_at
            ours = delivery.status == "sending" and lease is not None and as_utc(lease) == job.lease
            if ours:  # else a redeliver or another node took over: only log the attempt
                await self._next_step(db, delivery, outcome)
            await db.commit()

    async def _next_step(self, db: AsyncSession, delivery: WebhookDelivery, out: Outcome) -> None:
        delivery.attempts += 1
        delivery.last_attempt_at = out.started_at
        delivery.next_trigger = "scheduled"
        endpoint = await db.get(WebhookEndpoint, delivery.endpoint_id)
        if out.ok:
            delivery.status, delivery.next_attempt_at = "succeeded", None
            return
        if out.status_code == 410 and endpoint is not None and endpoint.enabled:
            reason = f"the endpoint answered 410 Gone at {iso(out.started_at)}"
            await service.disable(db, endpoint, reason)
        if endpoint is None or not endpoint.enabled:
            delivery.status, delivery.next_attempt_at = "failed", None
            return
        wait = retry_delay(delivery.attempts, self.rng.random())
        if wait is None:
            delivery.status, delivery.next_attempt_at = "failed", None
            return
        if out.status_code in RETRY_AFTER_STATUSES:
            asked = retry_after(out.retry_after, out.started_at)
            if asked is not None:
                wait = max(wait, asked)
        delivery.status = "pending"
        delivery.next_attempt_at = self.clock() + wait
