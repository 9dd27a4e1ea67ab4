"""Time-sortable, prefixed identifiers (``prod_01J…``).

The prefix says what an id names, which makes logs and support tickets easier;
the body is a ULID (48-bit millisecond time + 80 random bits, Crockford base32),
so ordering by id is ordering by creation and cursors need only the id.
"""

from __future__ import annotations

import re
import secrets
import threading
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


_RANDOM_MAX = (1 << 80) - 1
_last = (0, 0)  # this process's last id: (millisecond, random part)
_lock = threading.Lock()


def new_id(prefix: str) -> str:
    """A new id, greater than every id this process made before it.

    Within one millisecond the random part counts up from the first id's (the
    ULID spec's monotonic mode): a chat batch stores dozens of messages in a
    millisecond, and ordering them by id must keep the order they arrived in.
    A clock that steps back keeps the last millisecond until it catches up."""
    global _last
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            millis, random = last_millis, last_random + 1
            if random > _RANDOM_MAX:  # 2^80 ids in a millisecond: borrow the next one
                millis, random = millis + 1, secrets.randbits(79)
        else:
            # 79 bits: room for 2^79 more in the same millisecond
            random = secrets.randbits(79)
        _last = (millis, random)
    return f"{prefix}_{_b32(millis, 10)}{_b32(random, 16)}"


def id_at(prefix: str, when: datetime) -> str:
    """The smallest id of this kind made at ``when``: ``id < id_at(…)`` is "made before"."""
    millis = int(when.timestamp() * 1000)
    return f"{prefix}_{_b32(millis, 10)}{'0' * 16}"


def id_shaped(value: str) -> bool:
    """Whether ``value`` could be one of our ids (letters, digits, ``_``; 1-40 long).

    Checked on ids taken from URLs before they name a file or storage key, so a
    5,000-character or ``..``-laden id is "not found", not an OS error."""
    return _ID_SHAPE.fullmatch(value) is not None
