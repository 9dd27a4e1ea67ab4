"""Several uvicorn servers in one process and one event loop (`pasar demo`: Pasar
and the demo shop on its own port).

Signals are handled here, once, for all of them: uvicorn's own handling is per
server (each would replace the other's handler, and re-raise the signal at exit).
Ctrl-C or SIGTERM asks every server to finish gracefully; a second Ctrl-C forces
them. When one server stops, or fails to start, the others are stopped too.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from types import FrameType

import uvicorn

HANDLED = (signal.SIGINT, signal.SIGTERM)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # serve_together owns the signals


def listen(host: str, port: int) -> socket.socket:
    """A bound socket (uvicorn listens on it): binding before anything else starts
    makes a busy port a clear error rather than a half-started demo."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


async def _run_all(servers: Sequence[tuple[uvicorn.Server, list[socket.socket] | None]]) -> None:
    tasks = [asyncio.create_task(s.serve(sockets=socks)) for s, socks in servers]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server, _ in servers:
        server.should_exit = True
    await asyncio.gather(*tasks)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    if sys.platform == "win32":
        return None
    import uvloop

    return uvloop.new_event_loop


def serve_together(configs: Sequence[tuple[uvicorn.Config, list[socket.socket] | None]]) -> None:
    """Serve every (config, sockets) pair until a signal (or one of them stops);
    sockets None: the config's host and port."""
    servers = [(_Server(config), socks) for config, socks in configs]

    def stop(sig: int, frame: FrameType | None) -> None:
        for server, _ in servers:
            if server.should_exit and sig == signal.SIGINT:
                server.force_exit = True  # a second Ctrl-C: stop waiting for clients
            server.should_exit = True

    previous = {sig: signal.signal(sig, stop) for sig in HANDLED}
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_run_all(servers))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


__all__ = ["listen", "serve_together"]
