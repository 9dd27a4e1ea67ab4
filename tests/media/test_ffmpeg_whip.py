"""FFmpeg's WHIP muxer (the one in PyAV's wheels) as a publisher, in its own
process against a real server: with a P-256 certificate it publishes (past
the ~30 s after which ICE consent checks would have dropped it, in the long
variant); with FFmpeg's default P-224 certificate the handshake fails and the
show is left untouched."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pasar.media.certs import write_p256_certificate
from tests.media.conftest import LiveServer

pytestmark = pytest.mark.timeout(120)
ROOT = Path(__file__).parents[2]
TIMEOUT = 30  # seconds per request: a busy CI machine, a server in this process


def new_show(server: LiveServer) -> tuple[str, str]:
    r = httpx.post(
        f"{server.url}/api/v1/shows",
        json={"title": "FFmpeg"},
        headers=server.headers,
        timeout=TIMEOUT,
    )
    show_id: str = r.json()["id"]
    r = httpx.get(
        f"{server.url}/api/v1/shows/{show_id}/ingest", headers=server.headers, timeout=TIMEOUT
    )
    return show_id, r.json()["stream_key"]


def ffmpeg(
    server: LiveServer, key: str, seconds: float, *cert: Path, log: Path | None = None
) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "tests.media.ffmpeg_publisher", f"{server.url}/whip", key]
    out = log.open("wb") if log is not None else None  # what FFmpeg said, for a failure
    args += [str(seconds), *map(str, cert)]
    return subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=out)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else "(no output)"


def state(server: LiveServer, show_id: str) -> str:
    r = httpx.get(f"{server.url}/api/v1/shows/{show_id}", headers=server.headers, timeout=TIMEOUT)
    value: str = r.json()["state"]
    return value


def test_ffmpeg_publishes_with_a_p256_certificate(live_server: LiveServer, tmp_path: Path) -> None:
    show_id, key = new_show(live_server)
    cert, keyfile = write_p256_certificate(tmp_path)
    # 36 s: past the ~30 s after which unanswered ICE consent checks would drop it
    started = time.monotonic()
    log = tmp_path / "ffmpeg.log"
    publisher = ffmpeg(live_server, key, 36, cert, keyfile, log=log)
    try:
        deadline = time.monotonic() + 30
        playlist = ""
        while time.monotonic() < deadline and playlist.count("#EXTINF") < 2:
            time.sleep(0.5)
            r = httpx.get(f"{live_server.url}/hls/{show_id}/live.m3u8", timeout=TIMEOUT)
            playlist = r.text if r.status_code == 200 else ""
        if playlist.count("#EXTINF") < 2:
            stream = httpx.get(
                f"{live_server.url}/api/v1/shows/{show_id}/stream",
                headers=live_server.headers,
                timeout=TIMEOUT,
            ).text
            pytest.fail(
                f"FFmpeg's stream never reached the playlist; stream: {stream}; "
                f"publisher exit: {publisher.poll()}; publisher output:\n{_tail(log)}"
            )
        assert state(live_server, show_id) == "live"
        health = httpx.get(
            f"{live_server.url}/api/v1/shows/{show_id}/stream",
            headers=live_server.headers,
            timeout=TIMEOUT,
        ).json()
        assert health["publisher"]["width"] == 640
        live_until = 0.0
        while publisher.poll() is None:
            time.sleep(1)
            r = httpx.get(
                f"{live_server.url}/api/v1/shows/{show_id}/stream",
                headers=live_server.headers,
                timeout=TIMEOUT,
            )
            if r.json()["state"] == "live":
                live_until = time.monotonic() - started
        assert publisher.returncode == 0
        assert live_until > 33, f"the publisher was dropped after {live_until:.0f} s"
    finally:
        publisher.kill()
    # FFmpeg sends the WHIP DELETE when it closes: the show ends, the replay follows
    deadline = time.monotonic() + 15
    while state(live_server, show_id) != "replay" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state(live_server, show_id) == "replay"


def test_ffmpeg_default_certificate_fails_and_leaves_the_show_alone(
    live_server: LiveServer,
) -> None:
    show_id, key = new_show(live_server)
    publisher = ffmpeg(live_server, key, 4)
    try:
        assert publisher.wait(60) != 0  # FFmpeg reports the failed handshake
    finally:
        publisher.kill()
    time.sleep(0.5)
    assert state(live_server, show_id) == "scheduled"
    r = httpx.get(f"{live_server.url}/hls/{show_id}/live.m3u8", timeout=TIMEOUT)
    assert r.status_code == 404
