"""`pasar demo` as a newcomer runs it: Pasar and Toko Demo's shop on two ports of
one process; the shop's origin may use the show socket; Ctrl-C stops both."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from tests.servers import free_port

pytestmark = pytest.mark.timeout(180)


async def _first_event(url: str, origin: str) -> str:
    """The socket's answer to a shopper on a page of ``origin``: the snapshot's
    type, or the close reason."""
    async with connect(url, origin=Origin(origin)) as ws:
        await ws.send(json.dumps({"type": "auth"}))
        try:
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
                for event in frame if isinstance(frame, list) else [frame]:
                    if event["type"] == "snapshot":
                        return "snapshot"
        except ConnectionClosed as closed:
            return f"closed: {closed.rcvd.reason if closed.rcvd else ''}"


def _wait_for(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            r = httpx.get(url, timeout=5)
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} never answered"
        time.sleep(0.2)


def test_demo_serves_its_shop_on_a_second_origin_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, shop_port = free_port(), free_port()
    env = {**os.environ, "PASAR_DATA_DIR": str(tmp_path), "PASAR_PORT": str(port)}
    env.pop("PASAR_DATABASE_URL", None)
    env.pop("PASAR_REDIS_URL", None)
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pasar",
            "demo",
            "--no-broadcast",
            "--storefront-port",
            f"{shop_port}",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert demo.stdout is not None
        out = ""
        while "storefront" not in out:
            line = demo.stdout.readline()
            assert line, f"pasar demo exited early:\n{out}"
            out += line
        shop = re.search(r"storefront\s+(\S+)/\s", out)
        live = re.search(r"live now\s+\S+/watch/(\S+)", out)
        assert shop and live, out
        pasar = f"http://127.0.0.1:{port}"
        assert shop[1] == f"http://127.0.0.1:{shop_port}"
        deadline = time.monotonic() + 60
        _wait_for(f"{pasar}/readyz", deadline)
        home = _wait_for(f"{shop[1]}/", deadline)
        assert f"script-src 'self' {pasar}" in home.headers["content-security-policy"]
        assert f'src="{pasar}/embed.js"' in home.text

        socket = f"ws://127.0.0.1:{port}/ws/shows/{live[1]}"
        assert asyncio.run(_first_event(socket, shop[1])) == "snapshot"
        assert asyncio.run(_first_event(socket, f"http://localhost:{shop_port}")) == "snapshot"
        refused = asyncio.run(_first_event(socket, "http://127.0.0.1:1"))
        assert refused.startswith("closed") and "origin" in refused

        demo.send_signal(signal.SIGINT)  # Ctrl-C
        rest, _ = demo.communicate(timeout=60)
        assert demo.returncode == 0, out + rest
        assert rest.count("Application shutdown complete") == 2, rest  # both servers
        assert "Traceback" not in rest
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(30)
