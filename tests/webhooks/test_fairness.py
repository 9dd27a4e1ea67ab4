"""One vendor's slow endpoints cannot take every sending slot (issue 10, item 16e).

Counts, not timing: vendor A's endpoints never answer (their sends wait on a gate),
and vendor B's deliveries, queued after A's backlog, must still be claimed and sent
in the same round while A's stay stuck."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from pasar.webhooks.dispatcher import Dispatcher, Job, Outcome
from pasar.webhooks.models import WebhookDelivery
from tests.conftest import MakeVendor, VendorCtx
from tests.webhooks.conftest import API, create_endpoint, services_of


class Gated(Dispatcher):
    """Sends to ``stuck_vendor`` wait for ``gate``; everyone else's succeed at once."""

    def __init__(self, *args: object, stuck_vendor: str, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.stuck_vendor = stuck_vendor
        self.gate = asyncio.Event()
        self.sent: list[str] = []

    async def send(self, job: Job) -> Outcome:
        if job.vendor_id == self.stuck_vendor:
            await self.gate.wait()
        self.sent.append(job.vendor_id)
        return Outcome(self.clock(), 1, status_code=200)


async def _statuses(app: FastAPI) -> Counter[tuple[str, str]]:
    async with services_of(app).db.session() as db:
        rows = await db.execute(select(WebhookDelivery.vendor_id, WebhookDelivery.status))
        return Counter((v, s) for v, s in rows)


async def test_one_vendors_slow_endpoints_leave_slots_for_other_vendors(
    app: FastAPI,
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    make_vendor: MakeVendor,
    tmp_path: Path,
) -> None:
    services = services_of(app)
    await services.webhooks.stop()  # only the dispatcher below sends
    a, b = vendor, await make_vendor()
    # A's backlog comes first (older), and is bigger than a claim's window (4 × free).
    for n in range(4):
        endpoint = await create_endpoint(client, a, f"http://127.0.0.1:9/a{n}")
        for _ in range(10):
            r = await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=a.headers)
            assert r.status_code == 202, r.text
    b_endpoint = await create_endpoint(client, b, "http://127.0.0.1:9/b")
    for _ in range(2):
        r = await client.post(f"{API}/endpoints/{b_endpoint['id']}/test", headers=b.headers)
        assert r.status_code == 202, r.text

    dispatcher = Gated(
        services.db,
        services.box,
        allow_private=True,
        concurrency=8,
        per_endpoint=2,
        per_vendor=4,
        stuck_vendor=a.id,
    )
    try:
        assert await dispatcher.dispatch_due() == 6  # A: its 4 slots; B: both
        in_flight = Counter(v for _, v in dispatcher._in_flight.values())
        assert in_flight == {a.id: 4, b.id: 2}
        b_tasks = [t for t, (_, v) in dispatcher._in_flight.items() if v == b.id]
        await asyncio.gather(*b_tasks)
        assert dispatcher.sent == [b.id] * 2  # B's went out while A's are stuck
        statuses = await _statuses(app)
        assert statuses[(b.id, "succeeded")] == 2
        assert statuses[(a.id, "sending")] == 4 and statuses[(a.id, "pending")] == 36
        # A full vendor gets nothing more however many slots are free.
        assert await dispatcher.dispatch_due() == 0
        dispatcher.gate.set()
        await asyncio.gather(*dispatcher._in_flight)
        assert (await _statuses(app))[(a.id, "succeeded")] == 4
    finally:
        dispatcher.gate.set()
        await dispatcher.close()


def test_the_vendor_cap_defaults_to_half_and_never_below_the_endpoint_cap() -> None:
    def caps(**kw: int) -> tuple[int, int]:
        d = Dispatcher.__new__(Dispatcher)
        Dispatcher.__init__(d, None, None, allow_private=True, **kw)  # type: ignore[arg-type]
        return d.per_endpoint, d.per_vendor

    assert caps(concurrency=16) == (4, 8)
    assert caps(concurrency=16, per_vendor=2) == (4, 4)
    assert caps(concurrency=16, per_vendor=12) == (4, 12)
