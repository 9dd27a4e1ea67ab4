"""The front ends share one show-socket client, one API client and one error
formatter (frontend/shared/socket.ts, api.ts, errors.ts): no page opens its own
WebSocket, parses the error shape or words an error itself, so resume, backoff
and error messages behave the same everywhere."""

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
    assert "embed/player.ts" in users and "studio/controlroom/feed.ts" in users


def test_one_api_error_parser() -> None:
    """The {"error": {"code", "message"}} shape is read in one place."""
    assert using(r"\.error\?\.|data\?\.error|\[\"error\"\]") == ["shared/api.ts"]


def test_one_error_formatter() -> None:
    """Errors become words in shared/errors.ts: shopperMessage, staffMessage."""
    assert using(r"error\.retry_in") == ["shared/errors.ts"]
    assert using(r"instanceof ApiError \? \w+\.message") == []
