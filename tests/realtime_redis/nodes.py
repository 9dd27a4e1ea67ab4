"""Helpers for the multi-node tests: ``pasar serve`` processes and a WebSocket viewer.

Each node is a real ``pasar serve`` process on a port chosen free at start, with
its own data directory and log file; all nodes share one PostgreSQL database,
one Redis database, the secret key and the public URL (as behind a load
balancer). Nothing here measures time: waits are for conditions, with timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pasar.realtime.events import SERVER_EVENTS, validate_server_event

TIMEOUT = 30.0
PRESENCE_TTL = 6.0  # every node's PASAR_WS_PRESENCE_TTL_SECONDS
PUBLIC_URL = "http://pasar.test"  # every node's PASAR_PUBLIC_URL: staff sockets send it as Origin

Event = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, no goodbye to Redis."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)


def node_env(base: dict[str, str], name: str, port: int, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASAR_")}
    env.update(base)
    env.update(
        PASAR_HOST="127.0.0.1",
        PASAR_PORT=str(port),
        PASAR_DATA_DIR=str(data_dir / name),
        PASAR_PUBLIC_URL=PUBLIC_URL,
        PASAR_AUTO_MIGRATE="false",
        PASAR_LOG_LEVEL="info",
        PASAR_SHUTDOWN_GRACE_SECONDS="1",
        # Short, so the killed-node test waits seconds, not half a minute.
        PASAR_WS_PRESENCE_TTL_SECONDS=str(int(PRESENCE_TTL)),
    )
    return env


def spawn(base: dict[str, str], name: str, data_dir: Path) -> Node:
    port = free_port()
    log = data_dir / f"{name}.log"
    data_dir.joinpath(name).mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from pasar.cli import main; main()", "serve"],
            env=node_env(base, name, port, data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Node(name, port, proc, log)


def wait_ready(node: Node, timeout: float = 60.0) -> bool:
    """True once /readyz answers 200; False if the process died (a port clash)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            return False
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{node.url}/readyz", timeout=2).status_code == 200:
                return True
        time.sleep(0.1)
    raise AssertionError(f"node {node.name} not ready in {timeout} s:\n{node.log_tail()}")


def start_nodes(base: dict[str, str], names: list[str], data_dir: Path) -> list[Node]:
    """Start the nodes in parallel; a node that loses its port to a race is retried."""
    nodes = {name: spawn(base, name, data_dir) for name in names}
    try:
        for name in names:
            for _ in range(3):
                if wait_ready(nodes[name]):
                    break
                nodes[name] = spawn(base, name, data_dir)
            else:
                raise AssertionError(f"node {name} keeps exiting:\n{nodes[name].log_tail()}")
    except BaseException:
        for node in nodes.values():
            node.kill()
        raise
    return [nodes[name] for name in names]


def is_history(event: Event) -> bool:
    return SERVER_EVENTS[event["type"]][1] == "history"


@dataclass
class Viewer:
    """One WebSocket connection, read in the background; every event is validated."""

    ws: ClientConnection
    events: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls, node: Node, show_id: str, *, since: str | None = None, cookie: str | None = None
    ) -> Viewer:
        url = f"{node.ws_url}/ws/shows/{show_id}" + (f"?since={since}" if since else "")
        headers = {"Cookie": f"pasar_session={cookie}"} if cookie else None
        origin = PUBLIC_URL if cookie else None
        ws = await connect(url, additional_headers=headers, origin=origin)  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "auth"}))  # staff by cookie, or a new guest
        viewer = cls(ws)
        viewer.task = asyncio.create_task(viewer._read())
        return viewer

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                parsed = json.loads(frame)
                for event in parsed if isinstance(parsed, list) else [parsed]:
                    try:
                        validate_server_event(event)
                    except Exception as exc:
                        self.problems.append(f"invalid {event!r}: {exc}")
                    self.events.append(event)
                self.changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            self.changed.set()

    async def until(self, check: Callable[[], Any], what: str, within: float = TIMEOUT) -> Any:
        deadline = time.monotonic() + within
        while True:
            self.changed.clear()
            found = check()
            if found:
                return found
            if self.closed.is_set():
                raise AssertionError(f"closed ({self.ws.close_code}) waiting for {what}")
            left = deadline - time.monotonic()
            if left <= 0:
                types = [e["type"] for e in self.events][-30:]
                raise AssertionError(f"no {what} within {within} s; last events {types}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.5))

    async def send(self, command: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(command))

    async def chat(self, text: str) -> None:
        await self.send({"type": "chat.send", "text": text})

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    # -- what it saw ---------------------------------------------------------------

    def of(self, type_: str) -> list[Event]:
        return [e for e in self.events if e["type"] == type_]

    def texts(self) -> list[str]:
        return [e["data"]["text"] for e in self.of("chat.message")]

    def numbered(self) -> list[Event]:
        return [e for e in self.events if is_history(e)]

    def position(self) -> tuple[str, int]:
        """The epoch and offset of the last snapshot or history event."""
        for e in reversed(self.events):
            if e["type"] == "snapshot" or is_history(e):
                return e["epoch"], e["offset"]
        raise AssertionError("no snapshot yet")

    def viewers(self) -> int | None:
        """The latest viewer count: from ``viewers.count`` or the snapshot."""
        for e in reversed(self.events):
            if e["type"] == "viewers.count":
                return int(e["data"]["count"])
            if e["type"] == "snapshot":
                return int(e["data"]["viewers"])
        return None

    async def ready(self) -> Event:
        found: list[Event] = await self.until(lambda: self.of("snapshot"), "a snapshot")
        return found[-1]


def contiguous(events: list[Event], start: tuple[str, int]) -> list[str]:
    """Problems with ``events`` continuing the history right after ``start``."""
    problems = []
    epoch, offset = start
    for e in events:
        if (e["epoch"], e["offset"]) != (epoch, offset + 1):
            problems.append(f"{e['type']} at {e['epoch']}:{e['offset']} after {epoch}:{offset}")
        epoch, offset = e["epoch"], e["offset"]
    return problems
