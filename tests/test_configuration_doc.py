"""docs/configuration.md documents exactly the settings ``pasar.settings.Settings`` has.

The doc's table is parsed on its own and compared with the class field by field,
so a new, renamed or re-defaulted setting fails here until the doc is regenerated
(``pasar settings --markdown``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from pydantic_core import PydanticUndefined

from pasar.settings import Settings
from pasar.settings_doc import markdown_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


def _doc_rows() -> dict[str, tuple[str, str]]:
    """``PASAR_X -> (default, meaning)`` from the doc's table."""
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        m = re.fullmatch(r"\| `(PASAR_[A-Z0-9_]+)` \| (.*?) \| (.*) \|", line.strip())
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is listed twice"
            rows[m.group(1)] = (m.group(2), m.group(3))
    return rows


def _expected_default(value: object) -> str:
    if value is None or value is PydanticUndefined:
        return "(unset)"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    return f"`{value}`"


def _settings() -> dict[str, tuple[str, str]]:
    return {
        f"PASAR_{name.upper()}": (_expected_default(field.default), field.description or "")
        for name, field in Settings.model_fields.items()
    }


def test_every_setting_is_documented_with_its_default() -> None:
    doc = _doc_rows()
    expected = _settings()
    missing = sorted(set(expected) - set(doc))
    extra = sorted(set(doc) - set(expected))
    assert not missing, f"settings missing from {DOC.name}: {missing}"
    assert not extra, f"{DOC.name} documents settings that do not exist: {extra}"
    for var, (default, meaning) in expected.items():
        assert doc[var][0] == default, f"{var}: doc says {doc[var][0]}, Settings has {default}"
        assert doc[var][1] == meaning, f"{var}: the doc's description is stale"


def test_every_setting_has_a_description() -> None:
    for var, (_, meaning) in _settings().items():
        assert meaning.strip(), f"{var} has no description"
        assert "|" not in meaning, f"{var}'s description would break the table"


def test_doc_table_is_the_generated_one() -> None:
    table = markdown_table()
    assert table in DOC.read_text(encoding="utf-8"), "regenerate with `pasar settings --markdown`"


def test_documented_names_are_the_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The names in the doc are the ones Settings actually reads."""
    for name in list(os.environ):
        if name.startswith("PASAR_"):
            monkeypatch.delenv(name)
    probes = {
        "PASAR_PORT": ("port", 9123),
        "PASAR_AUTO_MIGRATE": ("auto_migrate", False),
        "PASAR_LOG_FORMAT": ("log_format", "json"),
        "PASAR_DATA_DIR": ("data_dir", Path("elsewhere")),
    }
    doc = _doc_rows()
    for var, (attr, value) in probes.items():
        assert var in doc
        monkeypatch.setenv(var, str(value).lower() if isinstance(value, bool) else str(value))
        assert getattr(Settings(), attr) == value
