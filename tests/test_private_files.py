"""The server secret and the WHIP private key are 0600 from the moment they exist
(issue 10, item 16b): written then chmod-ed, they were briefly world-readable."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pasar.media.certs import write_p256_certificate
from pasar.private_files import create_private, replace_private
from pasar.settings import Settings


@pytest.fixture
def open_umask_and_no_chmod(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The worst case: a umask that takes nothing away, and chmod doing nothing,
    so only the mode a file is created with can protect it."""
    monkeypatch.setattr(Path, "chmod", lambda *a, **k: None)
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask_and_no_chmod")
def test_the_generated_server_secret_is_created_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=None)
    key = settings.resolved_secret_key()
    path = tmp_path / "data" / "secret.key"
    assert _mode(path) == 0o600
    assert path.read_text() == key and len(key) >= 48
    assert Settings(data_dir=tmp_path / "data", secret_key=None).resolved_secret_key() == key
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["secret.key"]  # no scratch left


@pytest.mark.usefixtures("open_umask_and_no_chmod")
def test_the_whip_private_key_is_created_0600(tmp_path: Path) -> None:
    _, key_path = write_p256_certificate(tmp_path)
    assert _mode(key_path) == 0o600
    _, key_path = write_p256_certificate(tmp_path)  # written again over the old one
    assert _mode(key_path) == 0o600
    assert b"PRIVATE KEY" in key_path.read_bytes()


@pytest.mark.usefixtures("open_umask_and_no_chmod")
def test_create_private_never_overwrites_and_replace_private_does(tmp_path: Path) -> None:
    path = tmp_path / "s"
    assert create_private(path, b"first")
    assert not create_private(path, b"second")  # a racing process keeps the first
    assert path.read_bytes() == b"first"
    replace_private(path, b"third")
    assert path.read_bytes() == b"third" and _mode(path) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
