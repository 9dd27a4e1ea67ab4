"""The docs' event tables and the browser's TypeScript types come from events.py."""

from __future__ import annotations

from pathlib import Path

from pasar.realtime.contract import BEGIN, END, markdown, typescript
from pasar.realtime.events import SERVER_EVENTS

ROOT = Path(__file__).resolve().parents[1]


def test_docs_event_reference_is_generated_from_the_schemas() -> None:
    doc = (ROOT / "docs" / "realtime.md").read_text()
    section = doc[doc.index(BEGIN) : doc.index(END) + len(END)]
    assert section == markdown(), "run `pasar contract --write`"
    for type_ in SERVER_EVENTS:
        assert f"| `{type_}` |" in section


def test_typescript_types_are_generated_from_the_schemas() -> None:
    current = (ROOT / "frontend" / "shared" / "events.ts").read_text()
    assert current == typescript(), "run `pasar contract --write`"
    for type_ in SERVER_EVENTS:
        assert f'"{type_}":' in current
