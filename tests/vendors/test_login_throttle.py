"""Sign-in cannot stall a node, and failed sign-ins are throttled without locking
the real owner out (issue 10, item 1)."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from fastapi import FastAPI

from pasar.bootstrap import add_vendor_with_owner
from pasar.vendors import credentials
from pasar.vendors.errors import VendorError
from pasar.vendors.throttle import Policy
from pasar.vendors.throttle_memory import MemoryThrottleStore
from tests.conftest import REDIS_URL, VendorCtx
from tests.vendors.conftest import AppFactory, client_from
from tests.vendors.test_access import LOGIN, error

ATTACKER = "203.0.113.7"
OWNER_HOME = "198.51.100.20"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fake_clock(app: FastAPI) -> FakeClock:
    clock = FakeClock()
    store = app.state.services.login_throttle.store
    assert isinstance(store, MemoryThrottleStore)
    store.clock = clock
    return clock


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"email": email, "password": password})


def throttled(r: httpx.Response) -> int:
    body = error(r, 429, "too_many_attempts")
    seconds = body["details"]["retry_after"]
    assert isinstance(seconds, int) and seconds >= 1
    assert r.headers["retry-after"] == str(seconds)
    assert body["message"] == f"Too many sign-in attempts; try again in {seconds} s."
    return seconds


@pytest.fixture
def verify_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread of every password check, in order."""
    calls: list[int] = []
    real = credentials.verify_password

    def counting(stored: str, password: str) -> bool:
        calls.append(threading.get_ident())
        return real(stored, password)

    monkeypatch.setattr(credentials, "verify_password", counting)
    return calls


# ------------------------------------------------------------------ off the loop


async def test_password_checks_run_off_the_loop_a_bounded_number_at_once(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.state.services.settings.password_hash_concurrency == 2
    lock = threading.Lock()
    release = threading.Event()
    inside = peak = 0
    threads: set[int] = set()
    real = credentials.verify_password

    def held_verify(stored: str, password: str) -> bool:
        nonlocal inside, peak
        with lock:
            inside += 1
            peak = max(peak, inside)
            threads.add(threading.get_ident())
        try:
            # On the loop's thread this would block the loop (until the timeout).
            release.wait(timeout=3)
            return real(stored, password)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(credentials, "verify_password", held_verify)
    logins = [asyncio.create_task(sign_in(client, vendor.email, vendor.password)) for _ in range(5)]
    for _ in range(2000):  # loop turns, not time: the checks start on other threads
        if inside == 2:
            break
        await asyncio.sleep(0.001)
    assert inside == 2, "two checks should be running at once, off the loop"
    # While both are stuck in argon2, the loop still answers everyone else.
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    assert inside == 2 and not any(t.done() for t in logins)
    release.set()
    answers = await asyncio.gather(*logins)
    assert [r.status_code for r in answers] == [200] * 5
    assert peak == 2  # never more than PASAR_PASSWORD_HASH_CONCURRENCY at once
    assert threading.get_ident() not in threads


async def test_hashing_a_new_password_is_off_the_loop_too(
    client: httpx.AsyncClient, vendor: VendorCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real = credentials.hash_password

    def recording(password: str) -> str:
        threads.append(threading.get_ident())
        return real(password)

    monkeypatch.setattr(credentials, "hash_password", recording)
    r = await client.post(
        "/api/v1/staff",
        json={
            "email": "h@x.example",
            "display_name": "H",
            "password": "long enough pw",
            "role": "host",
        },
        headers=vendor.headers,
    )
    assert r.status_code == 201, r.text
    assert threads and threading.get_ident() not in threads


async def test_unknown_email_is_checked_off_the_loop(
    client: httpx.AsyncClient, verify_calls: list[int]
) -> None:
    error(await sign_in(client, "nobody@x.example", "whatever it is"), 401, "invalid_login")
    assert len(verify_calls) == 1 and threading.get_ident() not in verify_calls


# ------------------------------------------------------------------ throttling


async def test_429_after_the_limit_with_retry_after(
    app: FastAPI, vendor: VendorCtx, verify_calls: list[int]
) -> None:
    clock = fake_clock(app)
    async with client_from(app, ATTACKER) as attacker:
        for _ in range(5):
            error(await sign_in(attacker, vendor.email, "wrong password!"), 401, "invalid_login")
        seconds = throttled(await sign_in(attacker, vendor.email, "wrong password!"))
        assert seconds == 15 * 60
        # Refused before any password is checked: no argon2 spent, not even the right one.
        checks = len(verify_calls)
        throttled(await sign_in(attacker, vendor.email, vendor.password))
        assert len(verify_calls) == checks == 5
        # Waiting the time out is enough: refused attempts did not extend it.
        clock.now += seconds - 1
        assert throttled(await sign_in(attacker, vendor.email, vendor.password)) == 1
        clock.now += 1
        assert (await sign_in(attacker, vendor.email, vendor.password)).status_code == 200


async def test_owner_signs_in_from_elsewhere_while_the_attacker_is_refused(
    app: FastAPI, vendor: VendorCtx
) -> None:
    async with client_from(app, ATTACKER) as attacker, client_from(app, OWNER_HOME) as owner:
        for _ in range(5):
            await sign_in(attacker, vendor.email, "guess guess guess")
        for _ in range(3):
            throttled(await sign_in(attacker, vendor.email, "guess guess guess"))
        r = await sign_in(owner, vendor.email, vendor.password)
        assert r.status_code == 200, r.text
        # ... and the owner's success does not free the attacker.
        throttled(await sign_in(attacker, vendor.email, vendor.password))


async def test_one_address_guessing_many_accounts_is_refused(
    app: FastAPI, vendor: VendorCtx
) -> None:
    app.state.services.login_throttle.policy = Policy(per_ip=8)
    async with client_from(app, ATTACKER) as attacker, client_from(app, OWNER_HOME) as owner:
        for n in range(8):
            error(await sign_in(attacker, f"user{n}@x.example", "guess guess"), 401)
        throttled(await sign_in(attacker, "someone-new@x.example", "guess guess"))
        throttled(await sign_in(attacker, vendor.email, vendor.password))
        assert (await sign_in(owner, vendor.email, vendor.password)).status_code == 200


async def test_ipv6_neighbours_count_as_one_address(app: FastAPI, vendor: VendorCtx) -> None:
    for n in range(5):
        async with client_from(app, f"2001:db8:1:2::{n + 1:x}") as c:
            error(await sign_in(c, vendor.email, "guess guess"), 401)
    async with client_from(app, "2001:db8:1:2:ffff::9") as c:
        throttled(await sign_in(c, vendor.email, vendor.password))
    async with client_from(app, "2001:db8:1:3::1") as c:  # another /64
        assert (await sign_in(c, vendor.email, vendor.password)).status_code == 200


async def test_guessing_from_many_addresses_gets_a_short_capped_backoff(
    app: FastAPI, vendor: VendorCtx
) -> None:
    clock = fake_clock(app)
    for n in range(10):  # the first ten failures of an account cost nothing extra
        async with client_from(app, f"192.0.2.{n + 1}") as c:
            error(await sign_in(c, vendor.email, "guess guess"), 401)
    waits = []
    for n in range(10, 20):
        async with client_from(app, f"192.0.2.{n + 1}") as c:
            error(await sign_in(c, vendor.email, "guess guess"), 401)
            waits.append(throttled(await sign_in(c, vendor.email, "guess guess")))
        clock.now += waits[-1]  # the bot waits its turn each time
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]  # doubling, capped at a minute
    async with client_from(app, "192.0.2.100") as c:
        error(await sign_in(c, vendor.email, "guess guess"), 401)
    async with client_from(app, OWNER_HOME) as owner:
        # The owner, at home, waits at most the cap, then gets in ...
        assert throttled(await sign_in(owner, vendor.email, vendor.password)) <= 60
        clock.now += 60
        assert (await sign_in(owner, vendor.email, vendor.password)).status_code == 200
    # ... and the success cleared the account's backoff.
    async with client_from(app, "192.0.2.200") as c:
        error(await sign_in(c, vendor.email, "guess guess"), 401)


async def test_success_clears_the_pair_but_not_the_address(app: FastAPI, vendor: VendorCtx) -> None:
    app.state.services.login_throttle.policy = Policy(per_ip=12)
    async with client_from(app, OWNER_HOME) as owner:
        for _ in range(4):
            error(await sign_in(owner, vendor.email, "typo typo typo"), 401)
        assert (await sign_in(owner, vendor.email, vendor.password)).status_code == 200
        for _ in range(4):  # a fresh five for this account from here
            error(await sign_in(owner, vendor.email, "typo typo typo"), 401)
        assert (await sign_in(owner, vendor.email, vendor.password)).status_code == 200
        # The address's own count (8 so far) was not reset by those successes.
        for n in range(4):
            error(await sign_in(owner, f"other{n}@x.example", "typo typo typo"), 401)
        throttled(await sign_in(owner, vendor.email, vendor.password))


async def test_counters_in_redis_are_shared_by_every_node(app_with: AppFactory) -> None:
    from tests.realtime_redis.conftest import redis_or_skip

    redis = await redis_or_skip(REDIS_URL)
    try:
        node_a = await app_with(redis_url=REDIS_URL)
        node_b = await app_with(redis_url=REDIS_URL)
        services = node_a.state.services
        async with services.db.session() as db:
            created = await add_vendor_with_owner(
                db,
                services,
                name="Two",
                slug="two-nodes",
                email="owner@two.example",
                password="correct horse 1",
            )
            await db.commit()
        assert created.user_id
        async with client_from(node_a, ATTACKER) as a, client_from(node_b, ATTACKER) as b:
            for c in (a, b, a, b, a):  # five failures spread over two nodes
                error(await sign_in(c, "owner@two.example", "guess guess"), 401)
            throttled(await sign_in(b, "owner@two.example", "correct horse 1"))
            throttled(await sign_in(a, "owner@two.example", "correct horse 1"))
        assert await redis.keys("login:pair:*")
        for key in await redis.keys("login:*"):
            assert 0 < await redis.pttl(key) <= 15 * 60 * 1000  # every counter expires
        async with client_from(node_b, OWNER_HOME) as owner:
            r = await sign_in(owner, "owner@two.example", "correct horse 1")
            assert r.status_code == 200, r.text
    finally:
        await redis.flushdb()
        await redis.aclose()


async def test_memory_store_forgets_expired_counts() -> None:
    clock = FakeClock()
    store = MemoryThrottleStore(clock)
    assert await store.hit("k", 10) == (1, 10)
    clock.now += 4
    assert await store.hit("k", 10) == (2, 6)
    assert await store.peek(["k", "nope"]) == [(2, 6), (0, 0.0)]
    clock.now += 6
    assert await store.peek(["k"]) == [(0, 0.0)]
    assert await store.hit("k", 10) == (1, 10)
    await store.hold("k", 3)
    assert await store.peek(["k"]) == [(1, 3)]
    await store.clear(["k"])
    assert await store.peek(["k"]) == [(0, 0.0)]


async def test_a_flood_of_checks_is_refused_not_queued_without_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def held(stored: str, password: str) -> bool:
        release.wait(timeout=5)
        return False

    monkeypatch.setattr(credentials, "verify_password", held)
    work = credentials.PasswordWork(1, max_waiting=2)
    try:
        first = asyncio.create_task(work.verify("x", "y"))
        second = asyncio.create_task(work.verify("x", "y"))
        await asyncio.sleep(0)
        with pytest.raises(VendorError) as refused:
            await work.verify("x", "y")
        assert (refused.value.kind, refused.value.code) == ("unavailable", "busy")
        release.set()
        assert await asyncio.gather(first, second) == [False, False]
        assert work.in_queue == 0
        assert await work.verify("x", "y") is False  # room again
    finally:
        release.set()
        work.close()
