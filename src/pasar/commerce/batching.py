"""Natural batching: per key, one call in flight; what arrives meanwhile goes together
in the next call.

The batch size follows the arrival rate without any timer: one item alone is
handled at once, a burst of thousands a few hundred at a time. A flash sale uses
it twice per deal: for the group commit (one transaction records many claims)
and for Redis admission (one script call judges many claims), so the number of
round trips grows with the number of batches, not of shoppers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Handles one batch of one key: a result per item, in order; raising fails them all.
Handler = Callable[[str, list[T]], Awaitable[Sequence[R]]]


@dataclass(slots=True)
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]


class Batcher(Generic[T, R]):
    def __init__(self, handle: Handler[T, R], *, max_batch: int, name: str) -> None:
        self.handle = handle
        self.max_batch = max_batch
        self.name = name
        self._queues: dict[str, list[_Pending[T, R]]] = {}
        self._runners: dict[str, asyncio.Task[None]] = {}
        self.batches = 0
        self.items = 0

    async def submit(self, key: str, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, []).append(_Pending(item, future))
        if key not in self._runners:
            self._runners[key] = asyncio.create_task(self._run(key), name=f"{self.name}-{key}")
        return await future

    async def _run(self, key: str) -> None:
        queue = self._queues[key]
        try:
            while queue:
                batch = queue[: self.max_batch]
                del queue[: self.max_batch]
                await self._one(key, batch)
        finally:
            del self._runners[key]
            if queue:  # arrived between the loop's check and here: keep going
                self._runners[key] = asyncio.create_task(self._run(key), name=f"{self.name}-{key}")
            else:
                self._queues.pop(key, None)

    async def _one(self, key: str, batch: list[_Pending[T, R]]) -> None:
        try:
            results = await self.handle(key, [p.item for p in batch])
        except Exception as exc:
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        except BaseException:  # cancelled (shutting down): nobody may wait forever
            for p in batch:
                p.future.cancel()
            raise
        self.batches += 1
        self.items += len(batch)
        for p, result in zip(batch, results, strict=True):
            if not p.future.done():
                p.future.set_result(result)

    async def close(self) -> None:
        """Wait for the batches under way (nothing new should be submitted)."""
        for task in list(self._runners.values()):
            await asyncio.gather(task, return_exceptions=True)
