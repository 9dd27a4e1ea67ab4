"""The one interface every storage backend speaks.

Keys are relative paths such as ``vendors/ven_…/images/img_….jpg``; a backend
turns a key into a public URL. The backends: :class:`pasar.storage.local.LocalStorage`
(the default) and :class:`pasar.storage.s3.S3Storage` (``PASAR_STORAGE=s3``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        ...

    async def put_file(self, key: str, path: Path) -> None:
        """Store a (large) local file under ``key``; the file may be moved."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix`` (a show's recording)."""
        ...

    def url(self, key: str) -> str: ...
