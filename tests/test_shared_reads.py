"""SharedReads: one read in flight per key, kept for its time to live."""

from __future__ import annotations

import asyncio

import pytest

from pasar.shared_reads import SharedReads


async def test_concurrent_callers_share_one_read() -> None:
    reads = SharedReads[str, int](ttl=0)
    release = asyncio.Event()
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    waiting = [asyncio.create_task(reads.get("show", read)) for _ in range(50)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 50
    assert calls == 1 == reads.reads
    # ttl 0: nothing is kept once the read is done
    assert await reads.get("show", read) == 2


async def test_a_result_is_kept_for_its_ttl_and_per_key() -> None:
    reads = SharedReads[str, str](ttl=3600)
    answers = iter(["a1", "b1", "a2"])

    async def read() -> str:
        return next(answers)

    assert await reads.get("a", read) == "a1"
    assert await reads.get("b", read) == "b1"
    assert await reads.get("a", read) == "a1"
    reads.forget("a")
    assert await reads.get("a", read) == "a2"
    assert reads.reads == 3


async def test_a_failed_read_fails_its_waiters_and_is_not_kept() -> None:
    reads = SharedReads[str, int](ttl=3600)
    release = asyncio.Event()

    async def failing() -> int:
        await release.wait()
        raise ConnectionError("database down")

    async def working() -> int:
        return 7

    waiting = [asyncio.create_task(reads.get("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await reads.get("k", working) == 7


async def test_a_caller_who_gives_up_does_not_cancel_the_read() -> None:
    reads = SharedReads[str, int](ttl=0)
    release = asyncio.Event()

    async def read() -> int:
        await release.wait()
        return 5

    first = asyncio.create_task(reads.get("k", read))
    await asyncio.sleep(0)
    second = asyncio.create_task(reads.get("k", read))
    await asyncio.sleep(0)
    first.cancel()  # the caller that started the read
    release.set()
    assert await second == 5
    with pytest.raises(asyncio.CancelledError):
        await first
    assert reads.reads == 1
