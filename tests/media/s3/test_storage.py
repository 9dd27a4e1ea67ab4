"""S3Storage over real HTTP against an S3 emulator (moto) that checks signatures.

What is stored is read back with boto3, an independent client, so a bug that
S3Storage makes on both the way in and the way out still shows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pasar.storage import Storage
from pasar.storage.s3 import IMMUTABLE, S3Config, S3Error, S3Storage, object_headers
from tests.media.s3.conftest import Emulator

pytestmark = pytest.mark.timeout(180)

MiB = 1024 * 1024

StorageFactory = Callable[..., S3Storage]


@pytest.fixture
async def make_storage(emulator: Emulator, bucket: str) -> AsyncIterator[StorageFactory]:
    made: list[S3Storage] = []

    def make(**overrides: Any) -> S3Storage:
        options = {
            k: overrides.pop(k) for k in ("part_size", "retries", "client") if k in overrides
        }
        storage = S3Storage(emulator.config(bucket, **overrides), **options)
        made.append(storage)
        return storage

    yield make
    for storage in made:
        await storage.close()


@pytest.fixture
def storage(make_storage: StorageFactory) -> S3Storage:
    return make_storage()


def _head(emulator: Emulator, bucket: str, key: str) -> dict[str, Any]:
    head: dict[str, Any] = emulator.client().head_object(Bucket=bucket, Key=key)
    return head


async def test_put_get_exists_delete(storage: S3Storage) -> None:
    typed: Storage = storage  # it is a Storage
    key = "vendors/ven_1/images/img_1.jpg"
    assert await typed.get(key) is None
    assert not await typed.exists(key)
    await typed.put(key, b"\xff\xd8jpeg")
    assert await typed.get(key) == b"\xff\xd8jpeg"
    assert await typed.exists(key)
    await typed.put(key, b"\xff\xd8other")  # overwrite
    assert await typed.get(key) == b"\xff\xd8other"
    await typed.delete(key)
    assert await typed.get(key) is None
    await typed.delete(key)  # deleting what is gone is fine
    await typed.put("empty.json", b"")
    assert await typed.get("empty.json") == b""


async def test_keys_that_need_encoding(storage: S3Storage, emulator: Emulator, bucket: str) -> None:
    odd = "vendors/ven 1/images/café $+&=;@,(x)'~*.png"
    await storage.put(odd, b"png")
    assert await storage.get(odd) == b"png"
    assert emulator.keys(bucket) == [odd]
    assert storage.url(odd).endswith(
        "/vendors/ven%201/images/caf%C3%A9%20%24%2B%26%3D%3B%40%2C%28x%29%27~%2A.png"
    )
    for bad in ("", "/abs", "hls/../etc", "./x"):
        with pytest.raises(ValueError):
            await storage.put(bad, b"")


async def test_content_type_and_cache_control_as_stored(
    storage: S3Storage, emulator: Emulator, bucket: str
) -> None:
    """What a CDN in front of the bucket gets to see."""
    expected = {
        "hls/sh_1/live.m3u8": ("application/vnd.apple.mpegurl", "public, max-age=1"),
        "hls/sh_1/legacy.m3u8": ("application/vnd.apple.mpegurl", "public, max-age=1"),
        "hls/sh_1/vod.m3u8": ("application/vnd.apple.mpegurl", "public, max-age=1"),
        "hls/sh_1/720p/live.m3u8": ("application/vnd.apple.mpegurl", "public, max-age=1"),
        "hls/sh_1/init0.mp4": ("video/mp4", IMMUTABLE),
        "hls/sh_1/s12.m4s": ("video/mp4", IMMUTABLE),
        "hls/sh_1/s12.3.m4s": ("video/mp4", IMMUTABLE),
        "hls/sh_1/recording.json": ("application/json", "no-cache"),
        "hls/sh_1/recording.mp4": ("video/mp4", "public, max-age=3600"),
        "hls/sh_1/poster.jpg": ("image/jpeg", "public, max-age=5"),
        "vendors/v/images/i.jpg": ("image/jpeg", IMMUTABLE),
        "vendors/v/covers/c.png": ("image/png", IMMUTABLE),
        "vendors/v/covers/c.webp": ("image/webp", IMMUTABLE),
        "misc/blob": ("application/octet-stream", "no-cache"),
    }
    await asyncio.gather(*(storage.put(key, b"x") for key in expected))
    assert IMMUTABLE == "public, max-age=31536000, immutable"
    for key, (content_type, cache) in expected.items():
        head = _head(emulator, bucket, key)
        assert (head["ContentType"], head["CacheControl"]) == (content_type, cache), key
        assert object_headers(key) == {"content-type": content_type, "cache-control": cache}


async def test_delete_prefix_pages_past_a_thousand_keys(
    storage: S3Storage, emulator: Emulator, bucket: str
) -> None:
    keys = [f"hls/sh_big/s{n}.m4s" for n in range(1105)]
    survivors = ["hls/sh_bigger/s0.m4s", "hls/sh_other/live.m3u8", "hls/sh_bi"]
    gate = asyncio.Semaphore(32)

    async def put(key: str) -> None:
        async with gate:
            await storage.put(key, b"m")

    await asyncio.gather(*(put(k) for k in keys + survivors))
    listed = await storage.list_keys("hls/sh_big/")
    assert sorted(listed) == sorted(keys)  # ListObjectsV2 answered in two pages
    await storage.delete_prefix("hls/sh_big/")
    assert sorted(emulator.keys(bucket)) == sorted(survivors)
    await storage.delete_prefix("hls/sh_nothing/")  # nothing to delete
    for everything in ("", "/"):
        with pytest.raises(ValueError, match="refusing"):
            await storage.delete_prefix(everything)


async def test_put_file_multipart(
    make_storage: StorageFactory, emulator: Emulator, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage(part_size=5 * MiB)
    big = tmp_path / "recording.mp4"
    data = os.urandom(12 * MiB + 12345)  # three parts: 5 + 5 + 2 MiB
    big.write_bytes(data)
    await storage.put_file("hls/sh_1/recording.mp4", big)
    assert await storage.get("hls/sh_1/recording.mp4") == data
    head = _head(emulator, bucket, "hls/sh_1/recording.mp4")
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "video/mp4" and head["CacheControl"] == "public, max-age=3600"
    assert head["ETag"].endswith('-3"')  # a multipart object of three parts

    small = tmp_path / "small.mp4"
    small.write_bytes(b"0123456789")
    await storage.put_file("hls/sh_2/recording.mp4", small)  # one PUT
    assert await storage.get("hls/sh_2/recording.mp4") == b"0123456789"
    assert "-" not in _head(emulator, bucket, "hls/sh_2/recording.mp4")["ETag"]


async def test_a_failed_multipart_upload_is_aborted(
    make_storage: StorageFactory, emulator: Emulator, bucket: str, tmp_path: Path
) -> None:
    storage = make_storage(part_size=5 * MiB)
    big = tmp_path / "recording.mp4"
    big.write_bytes(os.urandom(11 * MiB))
    real = storage._upload_part
    calls = 0

    async def flaky(name: str, upload_id: str, number: int, data: bytes) -> str:
        nonlocal calls
        calls += 1
        if number == 2:
            raise S3Error("UploadPart", name, 500, "InternalError", "injected")
        return await real(name, upload_id, number, data)

    storage._upload_part = flaky  # type: ignore[method-assign]
    with pytest.raises(S3Error, match="injected"):
        await storage.put_file("hls/sh_1/recording.mp4", big)
    assert calls == 2
    uploads = emulator.client().list_multipart_uploads(Bucket=bucket)
    assert not uploads.get("Uploads")
    assert await storage.get("hls/sh_1/recording.mp4") is None


async def test_prefix_and_urls(emulator: Emulator, bucket: str) -> None:
    path = S3Storage(emulator.config(bucket, prefix="/pasar/"))
    virtual = S3Storage(emulator.config(bucket, addressing="virtual"))
    cdn = S3Storage(emulator.config(bucket, prefix="pasar", public_url="https://cdn.example.com/"))
    try:
        key = "hls/sh_1/s0.m4s"
        assert path.url(key) == f"{emulator.endpoint}/{bucket}/pasar/hls/sh_1/s0.m4s"
        host = emulator.endpoint.removeprefix("http://")
        assert virtual.url(key) == f"http://{bucket}.{host}/hls/sh_1/s0.m4s"
        assert cdn.url(key) == "https://cdn.example.com/pasar/hls/sh_1/s0.m4s"
        await path.put(key, b"seg")
        assert emulator.keys(bucket) == ["pasar/hls/sh_1/s0.m4s"]
        assert await cdn.get(key) == b"seg"  # same prefix, however it was written
        assert await path.list_keys("hls/") == ["pasar/hls/sh_1/s0.m4s"]
        await path.delete_prefix("hls/sh_1/")
        assert emulator.keys(bucket) == []
    finally:
        for storage in (path, virtual, cdn):
            await storage.close()


class _ToLoopback(httpx.AsyncBaseTransport):
    """Sends virtual-host requests (``bucket.s3.test``) to the emulator on
    127.0.0.1, Host header untouched, as a DNS name for the bucket would."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpx.AsyncHTTPTransport()
        self.hosts: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.headers["host"])
        request.url = request.url.copy_with(host="127.0.0.1", port=self.port)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_virtual_host_addressing(emulator: Emulator, bucket: str) -> None:
    port = int(emulator.endpoint.rsplit(":", 1)[1])
    transport = _ToLoopback(port)
    async with httpx.AsyncClient(transport=transport) as client:
        storage = S3Storage(
            emulator.config(bucket, endpoint=f"http://s3.test:{port}", addressing="virtual"),
            client=client,
        )
        await storage.put("hls/sh_1/live.m3u8", b"#EXTM3U\n")
        assert await storage.get("hls/sh_1/live.m3u8") == b"#EXTM3U\n"
        assert await storage.list_keys("hls/") == ["hls/sh_1/live.m3u8"]
        await storage.delete_prefix("hls/")
        assert storage.url("a.jpg") == f"http://{bucket}.s3.test:{port}/a.jpg"
    assert set(transport.hosts) == {f"{bucket}.s3.test:{port}"}
    assert emulator.keys(bucket) == []


async def test_a_wrong_secret_is_a_clear_error(emulator: Emulator, bucket: str) -> None:
    storage = S3Storage(emulator.config(bucket, secret_access_key="not-the-secret"), retries=0)
    try:
        with pytest.raises(S3Error) as put:
            await storage.put("hls/sh_1/s0.m4s", b"seg")
        message = str(put.value)
        assert f"{bucket}/hls/sh_1/s0.m4s" in message and "HTTP 403" in message, message
        assert "SignatureDoesNotMatch" in message
        assert put.value.status == 403 and put.value.code == "SignatureDoesNotMatch"
        with pytest.raises(S3Error, match="HTTP 403"):
            await storage.get("hls/sh_1/s0.m4s")  # not None: the key is not known missing
        with pytest.raises(S3Error, match="HTTP 403"):
            await storage.exists("hls/sh_1/s0.m4s")
    finally:
        await storage.close()
    unknown = S3Storage(emulator.config(bucket, access_key_id="AKIANOTAKEY0000000000"))
    try:
        with pytest.raises(S3Error, match="HTTP 403 InvalidAccessKeyId"):
            await unknown.put("x.json", b"{}")
    finally:
        await unknown.close()


async def test_a_missing_bucket_is_an_error_not_a_missing_key(emulator: Emulator) -> None:
    storage = S3Storage(emulator.config("pasar-no-such-bucket"))
    try:
        with pytest.raises(S3Error, match="HTTP 404 NoSuchBucket"):
            await storage.get("hls/sh_1/live.m3u8")
    finally:
        await storage.close()


async def test_no_answer_is_a_clear_error() -> None:
    config = S3Config(
        endpoint="http://127.0.0.1:9", bucket="b", access_key_id="a", secret_access_key="s"
    )
    storage = S3Storage(config, retries=0)
    try:
        with pytest.raises(S3Error, match=r"S3 PUT b/k\.json: no answer: ConnectError \("):
            await storage.put("k.json", b"{}")
    finally:
        await storage.close()


async def test_server_errors_are_retried_and_re_signed() -> None:
    seen: list[str] = []
    answers = [503, 500, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        assert request.headers["x-amz-content-sha256"] != ""
        return httpx.Response(answers[len(seen) - 1])

    config = S3Config(
        endpoint="https://s3.test", bucket="b", access_key_id="a", secret_access_key="s"
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        storage = S3Storage(config, client=client)
        await storage.put("hls/sh_1/s0.m4s", b"seg")
        assert len(seen) == 3
        seen.clear()
        answers[:] = [503, 503, 503]
        with pytest.raises(S3Error, match="HTTP 503"):
            await storage.put("hls/sh_1/s1.m4s", b"seg")
        assert len(seen) == 3  # two retries, then the error


def test_bad_configuration() -> None:
    good: dict[str, Any] = {
        "endpoint": "https://s3.test",
        "bucket": "b",
        "access_key_id": "a",
        "secret_access_key": "s",
    }
    with pytest.raises(ValueError, match="http"):
        S3Storage(S3Config(**{**good, "endpoint": "s3.test"}))
    with pytest.raises(ValueError, match="bucket"):
        S3Storage(S3Config(**{**good, "bucket": ""}))
    with pytest.raises(ValueError, match="at least"):
        S3Storage(S3Config(**good), part_size=MiB)
    assert "secret" not in repr(S3Config(**{**good, "secret_access_key": "secret"}))
