"""Browser tests: a real server on a loopback port, driven by Debian's Chromium."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pasar.app import create_app
from pasar.demo.seed import DemoInfo, seed_demo
from pasar.settings import Settings
from pasar.web.pages import STATIC_DIR
from tests.conftest import service_missing
from tests.servers import free_port, serving

# Debian's build first: a `chromium` earlier on PATH may be some other download.
CHROMIUM = (
    "/usr/bin/chromium"
    if Path("/usr/bin/chromium").exists()
    else shutil.which("chromium") or "/usr/bin/chromium"
)
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class LiveServer:
    url: str
    demo: DemoInfo
    settings: Settings


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not (STATIC_DIR / "studio" / "index.html").exists():
        service_missing("the built studio", "run scripts/setup.sh to build the front end")
    port = free_port()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("e2e"),
        port=port,
        secret_key="e2e-secret",  # type: ignore[arg-type]
    )
    demo = asyncio.run(seed_demo(settings))
    with serving(create_app(settings), port):
        yield LiveServer(settings.resolved_public_url, demo, settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        service_missing("Chromium", f"{CHROMIUM} not found (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()
