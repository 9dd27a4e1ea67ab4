"""Media on an S3-compatible object store (AWS S3, MinIO, Cloudflare R2, Wasabi…).

The same :class:`~pasar.storage.Storage` protocol as the local disk,
spoken over plain HTTP with one shared ``httpx.AsyncClient`` (a connection
pool) and the small SigV4 signer in :mod:`pasar.storage.sigv4`; no SDK.

- Every object is stored with the Content-Type and Cache-Control a CDN in front
  of the bucket should serve it with (:func:`object_headers`).
- ``put_file`` (the recording's MP4, up to a few GB) streams: a file larger
  than one part goes up as a multipart upload, one part in memory at a time, so
  neither memory nor S3's 5 GB single-PUT limit bounds a recording.
- ``delete_prefix`` pages through ListObjectsV2 and deletes in DeleteObjects
  batches of 1,000.
- ``get`` returns None for a missing key (404); any other failure raises
  :class:`S3Error`, which names the operation, bucket, key and status.
- 5xx answers and network errors are retried twice, re-signed each time.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import httpx

from pasar.storage.sigv4 import Signer, canonical_query, sha256_hex, uri_encode

if TYPE_CHECKING:
    from pasar.settings import Settings

log = logging.getLogger(__name__)

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB  # S3's smallest multipart part (but the last)
DEFAULT_PART_SIZE = 16 * MiB  # 10,000 parts of 16 MiB: 160 GB, far past any show
DELETE_BATCH = 1000  # DeleteObjects' limit
RETRY_STATUS = frozenset({500, 502, 503, 504})

PLAYLIST_CACHE = "public, max-age=1"
IMMUTABLE = "public, max-age=31536000, immutable"
POSTER_CACHE = "public, max-age=5"
RECORDING_CACHE = "public, max-age=3600"
NO_CACHE = "no-cache"

CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".m4s": "video/mp4",
    ".mp4": "video/mp4",
    ".json": "application/json",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}
_IMAGES = frozenset({".jpg", ".jpeg", ".png", ".webp"})

Addressing = Literal["path", "virtual"]


def object_headers(key: str) -> dict[str, str]:
    """The Content-Type and Cache-Control ``key`` is stored (and so served) with.

    Playlists change several times a second; init segments, segments and parts
    never change once written; the recording index changes with every segment;
    the poster every few seconds; uploaded images get a new key per upload.
    """
    name = key.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    content_type = CONTENT_TYPES.get(ext, "application/octet-stream")
    if ext == ".m3u8":
        cache = PLAYLIST_CACHE
    elif name == "recording.json":
        cache = NO_CACHE
    elif name == "recording.mp4":
        cache = RECORDING_CACHE
    elif name == "poster.jpg":
        cache = POSTER_CACHE
    elif ext in (".m4s", ".mp4") or ext in _IMAGES:
        cache = IMMUTABLE
    else:
        cache = NO_CACHE
    return {"content-type": content_type, "cache-control": cache}


class S3Error(RuntimeError):
    """The object store refused a request, or could not be reached."""

    def __init__(
        self, operation: str, where: str, status: int, code: str = "", message: str = ""
    ) -> None:
        self.operation = operation
        self.where = where  # bucket/key
        self.status = status  # 0: no answer
        self.code = code
        outcome = f"HTTP {status}" if status else "no answer:"
        detail = " ".join(p for p in (code, f"({message})" if message else "") if p)
        super().__init__(f"S3 {operation} {where}: {outcome}" + (f" {detail}" if detail else ""))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ElementTree.Element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return child.text or ""
    return ""


def _parse(body: bytes) -> ElementTree.Element | None:
    try:
        return ElementTree.fromstring(body)
    except ElementTree.ParseError:
        return None


def _error_detail(response: httpx.Response) -> tuple[str, str]:
    """``(Code, Message)`` of an S3 error body; the reason phrase when there is none
    (HEAD answers carry no body)."""
    root = _parse(response.content) if response.content else None
    if root is not None and _local(root.tag) == "Error":
        return _child(root, "Code"), _child(root, "Message")
    return response.reason_phrase, ""


@dataclass(frozen=True)
class S3Config:
    endpoint: str  # e.g. https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000
    bucket: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str = "us-east-1"
    prefix: str = ""  # prepended to every key, e.g. "pasar/"
    public_url: str | None = None  # what url() points at; None: the bucket's own URL
    addressing: Addressing = "path"

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Config:
        if not (settings.s3_endpoint and settings.s3_bucket):
            raise ValueError("PASAR_STORAGE=s3 needs PASAR_S3_ENDPOINT and PASAR_S3_BUCKET")
        secret = settings.s3_secret_access_key
        return cls(
            endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            access_key_id=settings.s3_access_key_id or "",
            secret_access_key=secret.get_secret_value() if secret else "",
            region=settings.s3_region,
            prefix=settings.s3_prefix or "",
            public_url=settings.s3_public_url,
            addressing=settings.s3_addressing,
        )


class S3Storage:
    """Objects in one bucket, under an optional key prefix."""

    def __init__(
        self,
        config: S3Config,
        *,
        part_size: int = DEFAULT_PART_SIZE,
        retries: int = 2,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        endpoint = urlsplit(config.endpoint)
        if endpoint.scheme not in ("http", "https") or not endpoint.hostname:
            raise ValueError(f"S3 endpoint must be an http(s) URL, not {config.endpoint!r}")
        if not config.bucket:
            raise ValueError("S3 bucket is empty")
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 multipart parts are at least {MIN_PART_SIZE} bytes")
        self.config = config
        netloc = endpoint.netloc.rpartition("@")[2]  # never credentials in a URL
        base = endpoint.path.rstrip("/")
        if config.addressing == "virtual":
            self._host = f"{config.bucket}.{netloc}"
            self._bucket_path = base
        else:
            self._host = netloc
            self._bucket_path = f"{base}/{uri_encode(config.bucket, keep_slash=False)}"
        self._origin = f"{endpoint.scheme}://{self._host}"
        self._prefix = config.prefix.strip("/") + "/" if config.prefix.strip("/") else ""
        public = config.public_url or f"{self._origin}{self._bucket_path}"
        self._public = public.rstrip("/")
        self._signer = Signer(config.access_key_id, config.secret_access_key, config.region)
        self._part_size = part_size
        self._retries = retries
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=5.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    # -- keys and URLs ----------------------------------------------------------

    def object_key(self, key: str) -> str:
        """The object's key in the bucket (the prefix, then ``key``)."""
        if not key or key.startswith("/") or any(p in (".", "..") for p in key.split("/")):
            raise ValueError(f"not a storage key: {key!r}")
        return self._prefix + key

    def _path(self, object_key: str) -> str:
        return f"{self._bucket_path}/{uri_encode(object_key)}"

    def url(self, key: str) -> str:
        return f"{self._public}/{uri_encode(self.object_key(key))}"

    def _where(self, object_key: str) -> str:
        return f"{self.config.bucket}/{object_key}"

    # -- one request --------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        where: str,
        *,
        query: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        params = list(query)
        signed_query = canonical_query(params)
        # a key without a value is sent bare (``?uploads``) and signed as ``uploads=``
        sent_query = "&".join(p[:-1] if p.endswith("=") else p for p in signed_query.split("&"))
        url = f"{self._origin}{path}" + (f"?{sent_query}" if sent_query else "")
        payload_hash = sha256_hex(body)
        base = {"host": self._host, "x-amz-content-sha256": payload_hash, **(headers or {})}
        for attempt in range(self._retries + 1):
            signed = self._signer.sign(method, path, signed_query, base, payload_hash)
            try:
                response = await self._client.request(method, url, content=body, headers=signed)
            except httpx.TransportError as exc:
                if attempt < self._retries:
                    await asyncio.sleep(0.2 * 2**attempt)
                    continue
                raise S3Error(method, where, 0, type(exc).__name__, str(exc)) from exc
            if response.status_code in RETRY_STATUS and attempt < self._retries:
                log.warning("S3 %s %s: HTTP %s, retrying", method, where, response.status_code)
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            return response
        raise AssertionError("unreachable")

    @staticmethod
    def _error(operation: str, where: str, response: httpx.Response) -> S3Error:
        code, message = _error_detail(response)
        return S3Error(operation, where, response.status_code, code, message)

    # -- the Storage protocol -------------------------------------------------------

    async def put(self, key: str, data: bytes) -> None:
        name = self.object_key(key)
        where = self._where(name)
        r = await self._send("PUT", self._path(name), where, body=data, headers=object_headers(key))
        if r.status_code != 200:
            raise self._error("PUT", where, r)

    async def get(self, key: str) -> bytes | None:
        name = self.object_key(key)
        where = self._where(name)
        r = await self._send("GET", self._path(name), where)
        if r.status_code == 200:
            return r.content
        if r.status_code == 404 and _error_detail(r)[0] != "NoSuchBucket":
            return None
        raise self._error("GET", where, r)

    async def exists(self, key: str) -> bool:
        name = self.object_key(key)
        where = self._where(name)
        r = await self._send("HEAD", self._path(name), where)
        if r.status_code == 200:
            return True
        if r.status_code == 404:
            return False
        raise self._error("HEAD", where, r)

    async def delete(self, key: str) -> None:
        name = self.object_key(key)
        where = self._where(name)
        r = await self._send("DELETE", self._path(name), where)
        if r.status_code not in (200, 204, 404):
            raise self._error("DELETE", where, r)

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix`` (a show's recording: ``hls/{id}/``)."""
        if not prefix.strip("/"):
            raise ValueError("refusing to delete every object")
        keys = await self.list_keys(prefix)
        for start in range(0, len(keys), DELETE_BATCH):
            await self._delete_batch(keys[start : start + DELETE_BATCH])

    async def put_file(self, key: str, path: Path) -> None:
        """Upload a local file: one PUT up to one part's size, a multipart upload
        (one part in memory at a time) beyond. The file is left in place."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size <= self._part_size:
            await self.put(key, await asyncio.to_thread(path.read_bytes))
            return
        name = self.object_key(key)
        upload_id = await self._start_upload(key, name)
        source = await asyncio.to_thread(path.open, "rb")
        try:
            etags: list[str] = []
            while chunk := await asyncio.to_thread(source.read, self._part_size):
                etags.append(await self._upload_part(name, upload_id, len(etags) + 1, chunk))
            await self._complete_upload(name, upload_id, etags)
        except BaseException:
            await asyncio.shield(self._abort_upload(name, upload_id))
            raise
        finally:
            source.close()

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    # -- listing and batches ----------------------------------------------------------

    async def list_keys(self, prefix: str) -> list[str]:
        """Every object key (prefix included) under ``prefix``, through ListObjectsV2's
        pages of up to 1,000."""
        full = self.object_key(prefix)
        where = self._where(full)
        keys: list[str] = []
        token = ""
        while True:
            query = [("list-type", "2"), ("prefix", full)]
            if token:
                query.append(("continuation-token", token))
            r = await self._send("GET", self._bucket_path or "/", where, query=query)
            root = _parse(r.content) if r.status_code == 200 else None
            if root is None:
                raise self._error("ListObjectsV2", where, r)
            for element in root:
                if _local(element.tag) == "Contents":
                    keys.append(_child(element, "Key"))
            token = _child(root, "NextContinuationToken")
            if _child(root, "IsTruncated") != "true" or not token:
                return keys

    async def _delete_batch(self, keys: list[str]) -> None:
        objects = "".join(f"<Object><Key>{escape(k)}</Key></Object>" for k in keys)
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Quiet>true</Quiet>{objects}</Delete>"
        ).encode()
        md5 = base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()
        where = self._where(keys[0]) + (f" (+{len(keys) - 1} more)" if len(keys) > 1 else "")
        r = await self._send(
            "POST",
            self._bucket_path or "/",
            where,
            query=[("delete", "")],
            body=body,
            headers={"content-md5": md5, "content-type": "application/xml"},
        )
        root = _parse(r.content) if r.status_code == 200 else None
        if root is None:
            raise self._error("DeleteObjects", where, r)
        for element in root:
            if _local(element.tag) == "Error":
                raise S3Error(
                    "DeleteObjects",
                    self._where(_child(element, "Key")),
                    r.status_code,
                    _child(element, "Code"),
                    _child(element, "Message"),
                )

    # -- multipart upload ---------------------------------------------------------------

    async def _start_upload(self, key: str, name: str) -> str:
        where = self._where(name)
        r = await self._send(
            "POST", self._path(name), where, query=[("uploads", "")], headers=object_headers(key)
        )
        root = _parse(r.content) if r.status_code == 200 else None
        upload_id = _child(root, "UploadId") if root is not None else ""
        if not upload_id:
            raise self._error("CreateMultipartUpload", where, r)
        return upload_id

    async def _upload_part(self, name: str, upload_id: str, number: int, data: bytes) -> str:
        where = f"{self._where(name)} part {number}"
        r = await self._send(
            "PUT",
            self._path(name),
            where,
            query=[("partNumber", str(number)), ("uploadId", upload_id)],
            body=data,
        )
        etag = str(r.headers.get("etag", ""))
        if r.status_code != 200 or not etag:
            raise self._error("UploadPart", where, r)
        return etag

    async def _complete_upload(self, name: str, upload_id: str, etags: list[str]) -> None:
        out = io.StringIO()
        out.write("<CompleteMultipartUpload>")
        for number, etag in enumerate(etags, 1):
            out.write(f"<Part><PartNumber>{number}</PartNumber><ETag>{escape(etag)}</ETag></Part>")
        out.write("</CompleteMultipartUpload>")
        where = self._where(name)
        r = await self._send(
            "POST",
            self._path(name),
            where,
            query=[("uploadId", upload_id)],
            body=out.getvalue().encode(),
            headers={"content-type": "application/xml"},
        )
        # S3 may answer 200 and still report an error in the body
        root = _parse(r.content) if r.status_code == 200 else None
        if root is None or _local(root.tag) == "Error":
            raise self._error("CompleteMultipartUpload", where, r)

    async def _abort_upload(self, name: str, upload_id: str) -> None:
        try:
            await self._send(
                "DELETE", self._path(name), self._where(name), query=[("uploadId", upload_id)]
            )
        except S3Error:
            log.warning("S3: could not abort the multipart upload of %s", self._where(name))
