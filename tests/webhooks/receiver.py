"""A real HTTP receiver on loopback, in the test's event loop, that records every
request and answers what the test tells it to (by path)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"ok"
    delay: float = 0.0


REASONS = {200: "OK", 204: "No Content", 410: "Gone", 429: "Too Many Requests", 500: "Error"}


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._answers: dict[str, deque[Answer]] = defaultdict(deque)
        self._default: dict[str, Answer] = {}
        self._arrived = asyncio.Condition()
        self._server: asyncio.Server | None = None
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` with these, in order."""
        self._answers[path].extend(answers)

    def always(self, path: str, answer: Answer) -> None:
        """Answer ``path`` with this once the queued answers are used up."""
        self._default[path] = answer

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def wait_for(self, path: str, count: int, within: float = 15.0) -> list[Received]:
        async def enough() -> None:
            async with self._arrived:
                await self._arrived.wait_for(lambda: len(self.at(path)) >= count)

        try:
            await asyncio.wait_for(enough(), within)
        except TimeoutError:
            raise AssertionError(
                f"{len(self.at(path))} of {count} requests to {path} arrived in {within} s"
            ) from None
        return self.at(path)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            queued = self._answers[path]
            answer = queued.popleft() if queued else self._default.get(path, Answer())
            if answer.delay:
                await asyncio.sleep(answer.delay)
            async with self._arrived:
                self.requests.append(Received(method, path, headers, body))
                self._arrived.notify_all()
            extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
            reason = REASONS.get(answer.status, "Status")
            writer.write(
                f"HTTP/1.1 {answer.status} {reason}\r\ncontent-length: {len(answer.body)}\r\n"
                f"connection: close\r\n{extra}\r\n".encode()
                + answer.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
