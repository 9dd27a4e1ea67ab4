"""PASAR_STORAGE=s3: the settings it needs, and what Services builds from them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from pasar.services import Services
from pasar.settings import Settings
from pasar.storage.local import LocalStorage
from pasar.storage.s3 import S3Storage


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("PASAR_"):
            monkeypatch.delenv(name)


def test_s3_without_what_it_needs_fails_at_startup() -> None:
    with pytest.raises(ValidationError) as missing:
        Settings(storage="s3")
    assert (
        "PASAR_STORAGE=s3 needs PASAR_S3_ENDPOINT, PASAR_S3_BUCKET, PASAR_S3_ACCESS_KEY_ID, "
        "PASAR_S3_SECRET_ACCESS_KEY" in str(missing.value)
    )
    with pytest.raises(ValidationError, match=r"s3 needs PASAR_S3_BUCKET\b"):
        Settings(
            storage="s3",
            s3_endpoint="https://s3.example.com",
            s3_access_key_id="a",
            s3_secret_access_key="s",  # type: ignore[arg-type]
        )
    with pytest.raises(ValidationError, match="PASAR_S3_ENDPOINT must be an http"):
        Settings(s3_endpoint="s3.example.com")
    with pytest.raises(ValidationError, match="s3_addressing"):
        Settings(s3_addressing="dns")  # type: ignore[arg-type]
    assert Settings().storage == "local"  # the default needs nothing


def test_services_build_s3_storage_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {
        "PASAR_DATA_DIR": str(tmp_path),
        "PASAR_SECRET_KEY": "x" * 32,
        "PASAR_STORAGE": "s3",
        "PASAR_S3_ENDPOINT": "https://s3.eu-west-1.amazonaws.com",
        "PASAR_S3_REGION": "eu-west-1",
        "PASAR_S3_BUCKET": "shop-media",
        "PASAR_S3_PREFIX": "pasar/",
        "PASAR_S3_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "PASAR_S3_SECRET_ACCESS_KEY": "s3-secret-value",
        "PASAR_S3_ADDRESSING": "virtual",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert "s3-secret-value" not in repr(settings)
    services = Services.build(settings)
    storage = services.storage
    assert isinstance(storage, S3Storage)
    assert (
        storage.config.region == "eu-west-1"
        and storage.config.secret_access_key == "s3-secret-value"
    )
    assert storage.url("hls/sh_1/poster.jpg") == (
        "https://shop-media.s3.eu-west-1.amazonaws.com/pasar/hls/sh_1/poster.jpg"
    )
    monkeypatch.setenv("PASAR_S3_PUBLIC_URL", "https://cdn.example.com")
    monkeypatch.setenv("PASAR_S3_ADDRESSING", "path")
    cdn = Services.build(Settings()).storage
    assert (
        cdn.url("vendors/v/images/i.jpg") == "https://cdn.example.com/pasar/vendors/v/images/i.jpg"
    )
    monkeypatch.delenv("PASAR_STORAGE")
    assert isinstance(Services.build(Settings()).storage, LocalStorage)
