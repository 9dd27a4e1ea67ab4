"""Renders the settings reference (``docs/configuration.md``) from ``Settings``."""

from __future__ import annotations

from pathlib import Path

from pydantic_core import PydanticUndefined

from pasar.settings import Settings


def _default(value: object) -> str:
    if value is None or value is PydanticUndefined:
        return "(unset)"
    if isinstance(value, Path):
        return f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def rows() -> list[tuple[str, str, str]]:
    out = []
    for name, field in Settings.model_fields.items():
        out.append((f"PASAR_{name.upper()}", _default(field.default), field.description or ""))
    return out


def markdown_table() -> str:
    lines = ["| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{var}` | {default} | {desc} |" for var, default, desc in rows()]
    return "\n".join(lines)
