"""Who is on a show's socket: a guest, a shopper the vendor vouches for, or staff.

- Guests get a random id and a display name derived from it. The id travels
  back to the client as a signed ``guest_token`` so a reconnecting guest stays
  the same guest (and stays muted), and nobody can claim another guest's id.
  Guest tokens expire (``PASAR_GUEST_TOKEN_DAYS``); each use hands back a
  renewed one, so a guest who keeps coming back keeps their id.
- A vendor vouches for a signed-in shopper with a short-lived JWT (HS256) it
  signs with its per-vendor shopper secret: ``sub`` (shopper id), ``name``,
  ``exp``. Chat names are then real, and bans follow the account.
- Staff connect with their studio session cookie.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import jwt
from jwt.algorithms import HMACAlgorithm

Role = Literal["guest", "shopper", "staff"]

# Tokens valid for longer than this are refused: a leaked token must die soon.
MAX_TOKEN_LIFETIME_S = 7 * 24 * 3600
# Guest tokens: renewed on every use (PASAR_GUEST_TOKEN_DAYS sets the lifetime).
GUEST_TOKEN_LIFETIME_S = 30 * 24 * 3600
_ADJECTIVES = (
    "Happy",
    "Sunny",
    "Swift",
    "Lucky",
    "Brave",
    "Calm",
    "Clever",
    "Bright",
    "Gentle",
    "Jolly",
    "Kind",
    "Merry",
    "Noble",
    "Quick",
    "Witty",
    "Cheery",
)
_ANIMALS = (
    "Kancil",
    "Merak",
    "Rusa",
    "Penyu",
    "Kucing",
    "Gajah",
    "Elang",
    "Kupu",
    "Lumba",
    "Harimau",
    "Panda",
    "Koala",
    "Tarsius",
    "Komodo",
    "Beo",
    "Cendrawasih",
)


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    name: str
    role: Role
    guest_token: str | None = None
    staff_role: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"


class IdentityError(Exception):
    pass


class GuestTokenExpired(IdentityError):
    """A well-formed guest token past its expiry, or of the retired ``g1`` format."""


def _sign(server_secret: str, value: str) -> str:
    mac = hmac.new(server_secret.encode(), b"pasar-guest:" + value.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


def _signed(server_secret: str, value: str, signature: str) -> bool:
    # Bytes, not str: compare_digest refuses non-ASCII str with a TypeError (a
    # 500 from a header anybody can send); the token is ASCII when genuine.
    return hmac.compare_digest(signature.encode(), _sign(server_secret, value).encode())


def guest_name(guest_id: str) -> str:
    h = hashlib.sha256(guest_id.encode()).digest()
    return f"{_ADJECTIVES[h[0] % 16]} {_ANIMALS[h[1] % 16]} {int.from_bytes(h[2:4]) % 1000:03d}"


def _guest(gid: str, lifetime_s: int, server_secret: str, now: float | None) -> Identity:
    """The guest ``gid`` with a token that expires ``lifetime_s`` from now:
    ``g2.<id>.<expiry, unix s>.<signature of id and expiry>``."""
    expires = int(time.time() if now is None else now) + lifetime_s
    signed = f"v2:{gid}.{expires}"
    return Identity(
        id=f"guest:{gid}",
        name=guest_name(gid),
        role="guest",
        guest_token=f"g2.{gid}.{expires}.{_sign(server_secret, signed)}",
    )


def new_guest(
    server_secret: str, lifetime_s: int = GUEST_TOKEN_LIFETIME_S, now: float | None = None
) -> Identity:
    return _guest(secrets.token_urlsafe(12), lifetime_s, server_secret, now)


def guest_token_expiry(token: str) -> datetime:
    """When a token this module issued expires (not a check: see guest_from_token)."""
    return datetime.fromtimestamp(int(token.split(".")[2]), UTC)


def guest_from_token(
    server_secret: str,
    token: str,
    lifetime_s: int = GUEST_TOKEN_LIFETIME_S,
    now: float | None = None,
) -> Identity:
    """The guest a token names, with a renewed token (a fresh expiry) to hand back.

    ``g1`` tokens (no expiry) are refused like expired ones: accepting them,
    even once, would keep every token ever leaked valid for good."""
    parts = token.split(".")
    if len(parts) == 3 and parts[0] == "g1" and _signed(server_secret, parts[1], parts[2]):
        raise GuestTokenExpired(
            "this guest token is of a retired kind and no longer accepted; "
            "connect without one (or POST /api/v1/storefront/guests) for a new guest"
        )
    if (
        len(parts) != 4
        or parts[0] != "g2"
        or not 8 <= len(parts[1]) <= 40
        or not (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 12)
    ):
        raise IdentityError("malformed guest token")
    if not _signed(server_secret, f"v2:{parts[1]}.{parts[2]}", parts[3]):
        raise IdentityError("guest token signature does not match")
    if int(parts[2]) <= (time.time() if now is None else now):
        raise GuestTokenExpired(
            "this guest token has expired; connect without one "
            "(or POST /api/v1/storefront/guests) for a new guest"
        )
    return _guest(parts[1], lifetime_s, server_secret, now)


@functools.lru_cache(maxsize=1024)
def _hs256_key(secret: str) -> bytes:
    return HMACAlgorithm(HMACAlgorithm.SHA256).prepare_key(secret)


class _HS256(HMACAlgorithm):
    """PyJWT's HS256 with each secret prepared once: preparing a key checks with
    regexes that it is no PEM or SSH key, which cost more than the HMAC itself on
    every flash-sale claim."""

    def prepare_key(self, key: str | bytes) -> bytes:
        return _hs256_key(key) if isinstance(key, str) else super().prepare_key(key)


MAX_CLAIM_TIME = 10**11  # seconds since 1970: the year 5138; beyond it is no time

_JWS = jwt.PyJWS(algorithms=["HS256"])
_JWS.unregister_algorithm("HS256")
_JWS.register_algorithm("HS256", _HS256(HMACAlgorithm.SHA256))


def shopper_from_jwt(vendor_secret: str, token: str) -> Identity:
    try:
        payload = _JWS.decode(token, vendor_secret, algorithms=["HS256"])
        claims = json.loads(payload)
    except (jwt.PyJWTError, ValueError) as exc:
        raise IdentityError(f"shopper token refused: {exc}") from exc
    if not isinstance(claims, dict):
        raise IdentityError("shopper token refused: the payload is not a JSON object")
    now = time.time()
    for name in ("exp", "sub"):
        if name not in claims:
            raise IdentityError(f'shopper token refused: Token is missing the "{name}" claim')
    for name in ("exp", "nbf", "iat"):
        # json reads NaN and Infinity; NaN compares false with everything, so an
        # "exp": NaN would never expire: only finite numbers are times.
        # A bound, not math.isfinite: a 400-digit integer is finite but overflows
        # float arithmetic below; NaN and ±Infinity fail any comparison with it.
        value = claims.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise IdentityError(f"shopper token refused: '{name}' must be a number")
        if not -MAX_CLAIM_TIME <= value <= MAX_CLAIM_TIME:
            raise IdentityError(
                f"shopper token refused: '{name}' must be a finite time in seconds since 1970"
            )
    if claims["exp"] <= now:
        raise IdentityError("shopper token refused: Signature has expired")
    if claims.get("nbf", now) > now:
        raise IdentityError("shopper token refused: The token is not yet valid (nbf)")
    if claims["exp"] - now > MAX_TOKEN_LIFETIME_S:
        raise IdentityError("shopper token lives too long; make it expire within 7 days")
    sub, name = str(claims["sub"]), str(claims.get("name") or "").strip()
    if not 1 <= len(sub) <= 64:
        raise IdentityError("shopper token 'sub' must be 1-64 characters")
    return Identity(id=f"shopper:{sub}", name=(name or "Shopper")[:40], role="shopper")


def staff(user_id: str, display_name: str, role: str) -> Identity:
    return Identity(id=f"staff:{user_id}", name=display_name[:40], role="staff", staff_role=role)
