"""FastAPI's native OpenTelemetry is off unless PASAR_OPENTELEMETRY asks for it:
off, a request does not look the providers up (os.environ reads per request)."""

from __future__ import annotations

from pathlib import Path

from pasar.app import create_app
from pasar.settings import Settings


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path, secret_key="x" * 32, **overrides)  # type: ignore[arg-type]


def test_native_telemetry_is_off_by_default_and_on_when_asked(tmp_path: Path) -> None:
    off = create_app(_settings(tmp_path))
    assert not off._native_telemetry.enabled()
    assert off._telemetry["tracing"] is False and off._telemetry["metrics"] is False
    on = create_app(_settings(tmp_path, opentelemetry=True))
    assert on._telemetry["tracing"] is True and on._telemetry["metrics"] is True
