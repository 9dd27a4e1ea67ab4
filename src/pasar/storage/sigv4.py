"""AWS Signature Version 4 (header authentication), for S3-compatible stores.

Small enough to read in one go, so the S3 backend needs nothing but httpx:
canonical request → string to sign → signing key → ``Authorization``. It is
checked against AWS's published examples (tests/media/s3/test_sigv4.py).

S3 flavour: the path is percent-encoded once and never normalised (S3 keys
may contain ``//`` or ``.``), and the caller sends the payload's SHA-256 in
``x-amz-content-sha256`` (a signed header). Every header handed to
:meth:`Signer.sign` is signed, so pass only those the request will carry
unchanged (``host``, ``content-type``, ``cache-control``, ``x-amz-*``…).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_SPACES = re.compile(r"\s+")


def uri_encode(text: str, *, keep_slash: bool = True) -> str:
    """Percent-encode as SigV4 wants: UTF-8, uppercase hex, only ``A-Za-z0-9-._~``
    left as is (and ``/`` in paths)."""
    return quote(text, safe="/~" if keep_slash else "~")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    """``k=v`` pairs, each side encoded, sorted by key then value (a key without a
    value is ``k=``)."""
    pairs = sorted(
        (uri_encode(k, keep_slash=False), uri_encode(v, keep_slash=False)) for k, v in params
    )
    return "&".join(f"{k}={v}" for k, v in pairs)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def amz_date(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class Signer:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    region: str
    service: str = "s3"
    _keys: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def scope(self, date: str) -> str:
        return f"{date}/{self.region}/{self.service}/aws4_request"

    def signing_key(self, date: str) -> bytes:
        """HMAC chain over date, region, service (kept per day: it is the same
        for every request signed that day)."""
        key = self._keys.get(date)
        if key is None:
            key = f"AWS4{self.secret_access_key}".encode()
            for part in (date, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._keys = {date: key}
        return key

    @staticmethod
    def canonical_request(
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        payload_hash: str,
    ) -> tuple[str, str]:
        """The canonical request and its ``SignedHeaders``. ``path`` is the
        already-encoded path the request is sent with; ``query`` the canonical
        query (:func:`canonical_query`)."""
        lowered: dict[str, str] = {}
        for name, value in headers.items():
            lowered[name.lower()] = _SPACES.sub(" ", value.strip())
        names = sorted(lowered)
        signed = ";".join(names)
        canonical_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
        request = "\n".join(
            [method.upper(), path or "/", query, canonical_headers, signed, payload_hash]
        )
        return request, signed

    def string_to_sign(self, timestamp: str, canonical: str) -> str:
        return "\n".join(
            [ALGORITHM, timestamp, self.scope(timestamp[:8]), sha256_hex(canonical.encode())]
        )

    def sign(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        payload_hash: str,
        now: datetime | None = None,
    ) -> dict[str, str]:
        """``headers`` (which must include ``host``) plus ``x-amz-date`` and
        ``authorization``: the headers to send."""
        if not any(name.lower() == "host" for name in headers):
            raise ValueError("SigV4: the host header must be signed")
        timestamp = amz_date(now or datetime.now(UTC))
        out = {k: v for k, v in headers.items() if k.lower() != "x-amz-date"}
        out["x-amz-date"] = timestamp
        canonical, signed = self.canonical_request(method, path, query, out, payload_hash)
        to_sign = self.string_to_sign(timestamp, canonical)
        signature = hmac.new(
            self.signing_key(timestamp[:8]), to_sign.encode(), hashlib.sha256
        ).hexdigest()
        out["authorization"] = (
            f"{ALGORITHM} Credential={self.access_key_id}/{self.scope(timestamp[:8])}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return out
