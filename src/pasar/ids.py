"""Time-sortable, prefixed identifiers (``prod_01J…``).

The prefix says what an id names, which makes logs and support tickets easier;
the body is a ULID (48-bit millisecond time + 80 random bits, Crockford base32),
so ordering by id is ordering by creation and cursors need only the id.
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# What an id from a URL may look like before it is used to build a storage key
# or a file name: ours are ``prefix_`` + 26 characters; 40 leaves room, and no
# dot, slash or backslash can reach a path.
_ID_SHAPE = re.compile(r"[A-Za-z0-9_]{1,40}")


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


def id_shaped(value: str) -> bool:
    """Whether ``value`` could be one of our ids (letters, digits, ``_``; 1-40 long).

    Checked on ids taken from URLs before they name a file or storage key, so a
    5,000-character or ``..``-laden id is "not found", not an OS error."""
    return _ID_SHAPE.fullmatch(value) is not None
