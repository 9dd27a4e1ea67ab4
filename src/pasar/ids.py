"""Time-sortable, prefixed identifiers (``prod_01J…``).

The prefix says what an id names, which makes logs and support tickets easier;
the body is a ULID (48-bit millisecond time + 80 random bits, Crockford base32),
so ordering by id is ordering by creation and cursors need only the id.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    millis = time.time_ns() // 1_000_000
    body = _b32(millis, 10) + _b32(secrets.randbits(80), 16)
    return f"{prefix}_{body}"


def id_at(prefix: str, when: datetime) -> str:
    """The smallest id of this kind made at ``when``: ``id < id_at(…)`` is "made before"."""
    millis = int(when.timestamp() * 1000)
    return f"{prefix}_{_b32(millis, 10)}{'0' * 16}"
