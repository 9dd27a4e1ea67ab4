"""The front ends share one show-socket client and one API client
(frontend/shared/socket.ts, frontend/shared/api.ts): no page opens its own
WebSocket or parses the error shape itself, so resume, backoff and error
messages behave the same everywhere."""

from __future__ import annotations

import re
from pathlib import Path

FRONTEND = Path(__file__).resolve().parent.parent / "frontend"


def front_end_sources() -> list[Path]:
    return sorted(
        p
        for p in FRONTEND.rglob("*.ts")
        if "node_modules" not in p.parts and not p.name.endswith(".d.ts")
    )


def using(pattern: str) -> list[str]:
    found = re.compile(pattern)
    return [
        str(p.relative_to(FRONTEND))
        for p in front_end_sources()
        if found.search(p.read_text(encoding="utf-8"))
    ]


def test_one_socket_client() -> None:
    assert using(r"new WebSocket\(") == ["shared/socket.ts"]
    # …and the pages that follow a show use it.
    users = using(r"new ShowSocket\(")
    assert "embed/player.ts" in users and "studio/controlroom.ts" in users


def test_one_api_error_parser() -> None:
    """The {"error": {"code", "message"}} shape is read in one place."""
    assert using(r"\.error\?\.|data\?\.error|\[\"error\"\]") == ["shared/api.ts"]
