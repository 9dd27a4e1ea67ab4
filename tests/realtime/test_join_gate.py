"""The join gate: joins let in per tick, fewer when the ticks run late."""

from __future__ import annotations

import asyncio

import pytest

from pasar.realtime import hub as hub_module
from pasar.realtime.hub import Hub
from pasar.realtime.join_gate import JoinGate
from pasar.realtime.memory import MemoryBroker


async def _arrive(gate: JoinGate, n: int, order: list[int]) -> list[asyncio.Task[None]]:
    async def join(i: int) -> None:
        await gate.enter()
        order.append(i)

    tasks = [asyncio.create_task(join(len(order) + 1000 + i)) for i in range(n)]
    await asyncio.sleep(0)
    return tasks


async def test_a_tick_lets_in_its_allowance_first_come_first_served() -> None:
    gate = JoinGate(start=3, step=2)
    order: list[int] = []
    tasks = await _arrive(gate, 10, order)
    assert order == [1000, 1001, 1002]  # this tick's allowance, at once
    assert gate.waiting == 7
    gate.tick(lateness=0.0)  # on time, allowance used up: it grows to 5
    await asyncio.sleep(0)
    assert order == [1000 + i for i in range(8)]
    gate.tick(lateness=0.0)
    await asyncio.gather(*tasks)
    assert order == [1000 + i for i in range(10)]
    assert gate.admitted == 10 and gate.waiting == 0


async def test_late_ticks_halve_the_allowance_and_on_time_ticks_grow_it() -> None:
    gate = JoinGate(start=40, least=2, most=60, step=10, late_seconds=0.025)
    gate.left = 0
    gate.tick(lateness=0.2)
    assert gate.allowance == 20
    for _ in range(10):
        gate.tick(lateness=0.2)
    assert gate.allowance == 2  # never below least: joins always go on
    gate.left = 0
    gate.tick(lateness=0.0)
    assert gate.allowance == 12
    gate.tick(lateness=0.0)  # on time but nobody came: no reason to grow
    assert gate.allowance == 12
    for _ in range(10):
        gate.left = 0
        gate.tick(lateness=0.01)
    assert gate.allowance == 60  # at most most


async def test_a_joiner_who_leaves_while_waiting_takes_no_place() -> None:
    gate = JoinGate(start=1)
    order: list[int] = []
    tasks = await _arrive(gate, 4, order)
    assert order == [1000]
    tasks[1].cancel()  # gave up at the gate
    await asyncio.sleep(0)
    gate.tick(lateness=1.0)  # late: the allowance stays at its least, 2
    await asyncio.sleep(0)
    assert order == [1000, 1002, 1003]


async def test_the_hub_tick_tells_the_gate_how_late_it_woke(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(hub_module.time, "monotonic", lambda: clock[0])
    broker = MemoryBroker(min_events=10, min_seconds=1, max_events=100)
    hub = Hub(broker, tick_seconds=0.1, max_buffer_bytes=1 << 20, max_connections=10)
    hub.joins.allowance = hub.joins.left = 40
    hub.flush()  # the first tick: nothing to compare with
    assert hub.joins.allowance == 40
    clock[0] += 0.1 + 0.3  # woke 300 ms after it was due: the loop was busy
    hub.flush()
    assert hub.joins.allowance == 20
    clock[0] += 0.1 + 0.001
    hub.joins.left = 0
    hub.flush()
    assert hub.joins.allowance == 20 + hub.joins.step
