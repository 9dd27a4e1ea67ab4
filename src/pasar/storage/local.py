"""Uploaded files on the local disk (``PASAR_STORAGE=local``, the default)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path


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

    async def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)

        def move() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, target)

        await asyncio.to_thread(move)

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._path(key).is_file)

    async def get(self, key: str) -> bytes | None:
        path = self._path(key)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None

        return await asyncio.to_thread(read)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, True)

    async def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix)
        if path == self.root.resolve():
            raise ValueError("refusing to delete the whole media dir")
        await asyncio.to_thread(shutil.rmtree, path, True)

    def url(self, key: str) -> str:
        return f"{self.public_url}/media/{key}"
