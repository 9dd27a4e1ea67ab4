"""Where uploaded files live. One interface; the local-disk backend is the default.

Keys are relative paths such as ``vendors/ven_…/images/img_….jpg``; a backend
turns a key into a public URL. An object-store backend slots in beside this one.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol


class Storage(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...

    async def delete(self, key: str) -> None: ...

    def url(self, key: str) -> str: ...


class LocalStorage:
    """Files under ``media_dir``, served by the app at ``/media/``."""

    def __init__(self, root: Path, public_url: str) -> None:
        self.root = root
        self.public_url = public_url

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the media dir: {key!r}")
        return path

    async def put(self, key: str, data: bytes) -> None:
        path = self._path(key)

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(path)

        await asyncio.to_thread(write)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    def url(self, key: str) -> str:
        return f"{self.public_url}/media/{key}"
