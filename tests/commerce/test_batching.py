"""Natural batching (pasar.commerce.batching) and single-flight loads (pasar.shared_reads)."""

from __future__ import annotations

import asyncio

import pytest

from pasar.commerce.batching import Batcher
from pasar.shared_reads import SharedReads


async def settle() -> None:
    """Let every task that can run, run (no wall-clock wait)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def test_what_arrives_during_a_batch_goes_together_in_the_next() -> None:
    seen: list[tuple[str, list[int]]] = []
    gate = asyncio.Event()

    async def handle(key: str, items: list[int]) -> list[int]:
        seen.append((key, items))
        await gate.wait()
        return [i * 10 for i in items]

    batcher: Batcher[int, int] = Batcher(handle, max_batch=3, name="test")
    first = asyncio.ensure_future(batcher.submit("a", 1))
    await settle()  # the first batch is under way with one item
    rest = [asyncio.ensure_future(batcher.submit("a", i)) for i in range(2, 7)]
    other = asyncio.ensure_future(batcher.submit("b", 99))  # another key: not held up
    await settle()
    assert seen == [("a", [1]), ("b", [99])]
    gate.set()
    assert await first == 10
    assert [await r for r in rest] == [20, 30, 40, 50, 60]
    assert await other == 990
    assert seen[2:] == [("a", [2, 3, 4]), ("a", [5, 6])]  # max_batch respected, order kept
    assert (batcher.batches, batcher.items) == (4, 7)
    await batcher.close()


async def test_a_failing_batch_fails_its_items_only() -> None:
    calls = 0
    gate = asyncio.Event()

    async def handle(key: str, items: list[int]) -> list[int]:
        nonlocal calls
        calls += 1
        await gate.wait()
        if calls == 1:
            raise ConnectionError("database went away")
        return items

    batcher: Batcher[int, int] = Batcher(handle, max_batch=10, name="test")
    doomed = asyncio.ensure_future(batcher.submit("a", 1))
    await settle()
    fine = [asyncio.ensure_future(batcher.submit("a", i)) for i in (2, 3)]
    gate.set()
    with pytest.raises(ConnectionError):
        await doomed
    assert [await f for f in fine] == [2, 3]
    await batcher.close()


async def test_concurrent_loads_of_one_key_make_one_call() -> None:
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return f"value {calls}"

    flight: SharedReads[str, str] = SharedReads(0)
    waiters = [asyncio.ensure_future(flight.get("k", fetch)) for _ in range(50)]
    await settle()
    waiters[0].cancel()  # one shopper gives up: the others still get the value
    gate.set()
    results = await asyncio.gather(*waiters[1:])
    assert results == ["value 1"] * 49 and calls == 1
    assert await flight.get("k", fetch) == "value 2"  # done: the next load is fresh


async def test_forget_starts_a_fresh_load() -> None:
    gate = asyncio.Event()
    calls = 0

    async def fetch() -> int:
        nonlocal calls
        calls += 1
        mine = calls
        if mine == 1:
            await gate.wait()
        return mine

    flight: SharedReads[str, int] = SharedReads(0)
    stale = asyncio.ensure_future(flight.get("k", fetch))
    await settle()
    flight.forget("k")  # e.g. a pin changed while the first load was reading
    assert await flight.get("k", fetch) == 2
    gate.set()
    assert await stale == 1
    assert await flight.get("k", fetch) == 3  # the stale call did not linger
