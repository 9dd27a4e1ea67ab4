"""Starting and stopping what the benchmarks measure, on loopback.

* ``start_process`` / ``stop_process``: a child in its own session (its workers and
  children are stopped with it) that dies with the benchmark however it goes;
* ``wait_healthy``: until ``GET /healthz`` answers 200 (and anything else is ready);
* ``PasarServer``: ``pasar serve`` on a free loopback port with a fresh data
  directory (SQLite), seeded with an empty vendor or the demo (Toko Demo);
* ``uvicorn_command``: an app factory under uvicorn with workers;
* ``child_main`` / ``expect``: a helper process (multiprocessing, spawn: the
  publisher, the load generator) and the messages it sends back over its pipe;
* the benchmark script itself: SIGTERM and SIGHUP end it through its ``finally``
  blocks (``stop_on_signals``, ``exit_with``), an error is printed with the
  server log's tail (``run_reporting``), and the commit it runs (``source_state``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NoReturn

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent


# -- child processes ------------------------------------------------------------------


def die_with_parent() -> None:
    """Linux: get SIGKILL when the benchmark process goes away, however it goes."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_process(
    cmd: list[str],
    env: dict[str, str] | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """``cmd`` in its own session, its output in ``log`` (None: discarded)."""
    out = log.open("wb") if log is not None else None
    try:
        return subprocess.Popen(
            cmd,
            env=env,
            cwd=cwd,
            stdout=out or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if out else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    finally:
        if out is not None:
            out.close()  # the child has its own copy


def stop_process(proc: subprocess.Popen[bytes] | None, grace: float = 10.0) -> None:
    """SIGTERM to the process's session, SIGKILL after ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def wait_healthy(
    proc: subprocess.Popen[bytes],
    base: str,
    timeout: float = 60.0,
    ready: Callable[[], bool] = lambda: True,
) -> None:
    """Until ``{base}/healthz`` answers 200 once ``ready()`` holds; the server exiting
    first, or ``timeout`` seconds, is an error."""
    until = time.time() + timeout
    while time.time() < until:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode} at start")
        if ready():
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"the server did not become healthy on {base} in {timeout:.0f} s")


def env_without_pasar(**settings: str) -> dict[str, str]:
    """This process's environment without its PASAR_* settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PASAR_")}
    env.update(settings)
    return env


def run_python(code: str, env: dict[str, str], what: str) -> str:
    """The last line ``python -c code`` printed; ``what`` names it if it fails."""
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    if out.returncode != 0:
        raise RuntimeError(f"could not {what}: {out.stderr.strip()[-800:]}")
    return out.stdout.strip().splitlines()[-1]


def uvicorn_command(app: str, port: int, workers: int) -> list[str]:
    """``app`` (a factory) under uvicorn with ``workers`` workers, uvloop and httptools,
    no access log."""
    uvicorn = Path(sys.executable).with_name("uvicorn")
    cmd = [str(uvicorn)] if uvicorn.exists() else [sys.executable, "-m", "uvicorn"]
    cmd += [app, "--factory", "--host", HOST, "--port", str(port)]
    cmd += ["--workers", str(workers), "--loop", "uvloop", "--http", "httptools"]
    cmd += ["--log-level", "warning", "--no-access-log", "--backlog", "4096"]
    return cmd


# -- child processes that talk over a pipe (multiprocessing, spawn) ------------------


def child_main(main: Coroutine[Any, Any, None], pipe: Connection, *, uvloop: bool = False) -> None:
    """Run ``main`` in this child process (on uvloop if asked and installed). An error
    goes up the pipe as ("error", text) before it ends the child."""
    die_with_parent()
    try:
        run: Callable[[Coroutine[Any, Any, None]], None] = asyncio.run
        if uvloop:
            with contextlib.suppress(ImportError):
                import uvloop as fast

                run = fast.run
        run(main)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
        raise


def expect(pipe: Connection, child: Any, kind: str, timeout: float, who: str) -> dict[str, Any]:
    """The payload of the next message from ``child`` (a multiprocessing.Process) that
    must be ``kind``; an error it sent, its death or ``timeout`` seconds raise."""
    until = time.monotonic() + timeout
    while True:
        left = until - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the {who} did not answer ({kind}) in {timeout:g} s")
        if not pipe.poll(min(left, 0.5)):
            if not child.is_alive():
                raise RuntimeError(f"the {who} died (exit code {child.exitcode})")
            continue
        got, payload = pipe.recv()
        if got == "error":
            raise RuntimeError(f"{who}: {payload}")
        if got != kind:
            raise RuntimeError(f"expected {kind} from the {who}, got {got}")
        return dict(payload)


# -- pasar serve ------------------------------------------------------------------------

CREATE_VENDOR = (
    "import asyncio; from pasar.bootstrap import create_vendor_with_owner; "
    "from pasar.settings import Settings; "
    "print(asyncio.run(create_vendor_with_owner(Settings(), name='Bench', "
    "slug='bench', email='bench@example.com', password='bench-password-1')).api_key)"
)
SEED_DEMO = (
    "import asyncio, json, dataclasses; from pasar.demo.seed import seed_demo; "
    "from pasar.settings import Settings; "
    "print(json.dumps(dataclasses.asdict(asyncio.run(seed_demo(Settings())))))"
)


@dataclass
class PasarServer:
    """``pasar serve`` in a fresh data directory, on a free loopback port."""

    name: str
    keep: bool = False
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="pasar-bench-")))
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    api_key: str = ""
    demo: dict[str, Any] | None = None  # pasar.demo.seed.DemoInfo, with the demo seed
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def env(self) -> dict[str, str]:
        settings = {
            "PASAR_DATA_DIR": str(self.tmp / "data"),
            "PASAR_HOST": HOST,
            "PASAR_PORT": str(self.port),
            "PASAR_LOG_LEVEL": "warning",
            "PASAR_SHUTDOWN_GRACE_SECONDS": "2",
        }
        return env_without_pasar(**{**settings, **self.extra_env})

    def start(self, port: int = 0, *, demo: bool = False, timeout: float = 60.0) -> None:
        """Seed the fresh database (the server upgrades it) with a vendor, its owner and
        an API key, or with the demo (``self.demo``); serve; return once it is healthy."""
        self.port = port or free_port()
        env = self.env()
        if demo:
            self.demo = json.loads(run_python(SEED_DEMO, env, "seed the demo"))
            self.api_key = self.demo["api_key"]
        else:
            self.api_key = run_python(CREATE_VENDOR, env, "create the vendor")
        pasar = Path(sys.executable).with_name("pasar")
        cmd = (
            [str(pasar), "serve"]
            if pasar.exists()
            else [sys.executable, "-c", "from pasar.cli import main; main()", "serve"]
        )
        self.proc = start_process(cmd, env, self.tmp / "server.log")
        wait_healthy(self.proc, self.base, timeout)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:300]!r}") from exc

    def new_show(self) -> tuple[str, str, str]:
        """(show id, WHIP URL, stream key) of a new show."""
        show = self.api("POST", "/api/v1/shows", {"title": f"{self.name} benchmark"})
        ingest = self.api("GET", f"/api/v1/shows/{show['id']}/ingest")
        return show["id"], f"{self.base}/whip", ingest["stream_key"]

    def log_tail(self, lines: int = 15) -> list[str]:
        log = self.tmp / "server.log"
        if not log.exists():
            return []
        return log.read_text(errors="replace").splitlines()[-lines:]

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        stop_process(self.proc)
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# -- the benchmark script ------------------------------------------------------------------


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the script through its ``finally`` blocks, which stop
    what it started (as Ctrl-C does)."""

    def on_signal(signum: int, _frame: object) -> NoReturn:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def exit_with(main: Callable[[], int], name: str) -> NoReturn:
    """``sys.exit(main())``; Ctrl-C prints ``<name>: interrupted`` and exits with 130."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print(f"{name}: interrupted", flush=True)
        sys.exit(130)


def source_state() -> tuple[str, int] | None:
    """(short commit, uncommitted changes under src/) of the checkout the server runs
    from; None without git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    return head, len(dirty)


def code_line() -> str:
    """The commit the server runs from, and whether src/ differs from it."""
    state = source_state()
    if state is None:
        return "code: unknown (no git)"
    head, dirty = state
    return f"code: commit {head or '?'}" + (", with uncommitted changes in src/" if dirty else "")


ERRORS: tuple[type[BaseException], ...] = (
    RuntimeError,
    TimeoutError,
    OSError,
    subprocess.SubprocessError,
)


def run_reporting(
    say: Callable[[str], None],
    server: PasarServer,
    body: Callable[[], None],
    *,
    errors: tuple[type[BaseException], ...] = ERRORS,
    before_stop: Callable[[], None] = lambda: None,
) -> int:
    """``body()``, then 0; on one of ``errors``, the error and the tail of the server's
    log, then 1. Whatever happens, ``before_stop()`` (what else the script started),
    then the server is stopped."""
    try:
        body()
        return 0
    except errors as exc:
        say(f"error: {exc}")
        for line in server.log_tail():
            say(f"server log: {line}")
        return 1
    finally:
        before_stop()
        server.stop()
