"""Real servers to break on purpose: a private PostgreSQL cluster, a private Redis,
and Pasar nodes as processes that can be killed with SIGKILL."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def _as_postgres(args: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@dataclass
class PrivatePostgres:
    """A throwaway cluster on its own port: restarting it disturbs nobody else."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pasar-pg-")))

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        assert PG_BIN is not None
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), *args]),
            check=True,
            capture_output=True,
            timeout=60,
        )

    def init(self) -> PrivatePostgres:
        assert PG_BIN is not None, "PostgreSQL's server binaries are not installed"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "initdb"), "-D", str(self.root / "data"), "-U", "postgres",
                 "--auth=trust", "--no-sync"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )  # fmt: skip
        self.start()
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.root / "log"), "-w", "start")
        _wait_port(self.port)

    def stop(self) -> None:
        self._ctl("-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class PrivateRedis:
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_port(self.port)
        return self

    def kill(self) -> None:
        """Gone with everything it held, as after a crash or a failover to an empty replica."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            self.proc = None


@dataclass
class Node:
    """``pasar serve`` in its own process."""

    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Node:
        env = {
            **os.environ,
            **self.env,
            "PASAR_PORT": str(self.port),
            "PASAR_PUBLIC_URL": self.url,
            "PASAR_LOG_LEVEL": "warning",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pasar", "serve"], env=env, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the node did not become ready")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None


def create_vendor(env: dict[str, str], slug: str) -> str:
    """A vendor through the CLI, as an operator makes one; returns its API key."""
    out = subprocess.run(
        [sys.executable, "-m", "pasar", "vendor", "create", "--name", "Toko Tahan Banting",
         "--slug", slug, "--owner-email", f"owner@{slug}.example"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    found = re.search(r"pk_\S+", out.stdout)
    assert found, out.stdout
    return found.group(0)


def node_env(
    engine: str, database_url: str, data_dir: Path, secret: str, redis_url: str
) -> dict[str, str]:
    """The environment of a `pasar serve` node on ``engine``; Redis only for its engine."""
    env = {
        "PASAR_DATABASE_URL": database_url,
        "PASAR_SECRET_KEY": secret,
        "PASAR_DATA_DIR": str(data_dir),
        "PASAR_STOCK_ENGINE": engine,
    }
    if engine == "redis":
        env["PASAR_REDIS_URL"] = redis_url
    return env
