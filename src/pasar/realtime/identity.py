"""Who is on a show's socket: a guest, a shopper the vendor vouches for, or staff.

- Guests get a random id and a display name derived from it. The id travels
  back to the client as a signed ``guest_token`` so a reconnecting guest stays
  the same guest (and stays muted), and nobody can claim another guest's id.
- A vendor vouches for a signed-in shopper with a short-lived JWT (HS256) it
  signs with its per-vendor shopper secret: ``sub`` (shopper id), ``name``,
  ``exp``. Chat names are then real, and bans follow the account.
- Staff connect with their studio session cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt

Role = Literal["guest", "shopper", "staff"]

# Tokens valid for longer than this are refused: a leaked token must die soon.
MAX_TOKEN_LIFETIME_S = 7 * 24 * 3600
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


def _sign(server_secret: str, value: str) -> str:
    mac = hmac.new(server_secret.encode(), b"pasar-guest:" + value.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:18]).decode()


def guest_name(guest_id: str) -> str:
    h = hashlib.sha256(guest_id.encode()).digest()
    return f"{_ADJECTIVES[h[0] % 16]} {_ANIMALS[h[1] % 16]} {int.from_bytes(h[2:4]) % 1000:03d}"


def new_guest(server_secret: str) -> Identity:
    gid = secrets.token_urlsafe(12)
    return Identity(
        id=f"guest:{gid}",
        name=guest_name(gid),
        role="guest",
        guest_token=f"g1.{gid}.{_sign(server_secret, gid)}",
    )


def guest_from_token(server_secret: str, token: str) -> Identity:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "g1" or not 8 <= len(parts[1]) <= 40:
        raise IdentityError("malformed guest token")
    if not hmac.compare_digest(parts[2], _sign(server_secret, parts[1])):
        raise IdentityError("guest token signature does not match")
    return Identity(
        id=f"guest:{parts[1]}", name=guest_name(parts[1]), role="guest", guest_token=token
    )


def shopper_from_jwt(vendor_secret: str, token: str) -> Identity:
    try:
        claims = jwt.decode(
            token, vendor_secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError as exc:
        raise IdentityError(f"shopper token refused: {exc}") from exc
    if claims["exp"] - time.time() > MAX_TOKEN_LIFETIME_S:
        raise IdentityError("shopper token lives too long; make it expire within 7 days")
    sub, name = str(claims["sub"]), str(claims.get("name") or "").strip()
    if not 1 <= len(sub) <= 64:
        raise IdentityError("shopper token 'sub' must be 1-64 characters")
    return Identity(id=f"shopper:{sub}", name=(name or "Shopper")[:40], role="shopper")


def staff(user_id: str, display_name: str, role: str) -> Identity:
    return Identity(id=f"staff:{user_id}", name=display_name[:40], role="staff", staff_role=role)
