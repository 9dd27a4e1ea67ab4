"""Files only the server's user may read (the server secret, private keys).

Written 0600 from the moment they exist: ``write_text`` then ``chmod`` leaves a
window in which the file has the umask's mode (often world-readable)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def _new_private(path: Path, data: bytes) -> None:
    """Create ``path`` (which must not exist) with mode 0600, holding ``data``."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


def _scratch(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")


def create_private(path: Path, data: bytes) -> bool:
    """Create ``path`` holding ``data`` unless it exists; False when it did.

    Written whole under a scratch name, then linked into place, so a process
    racing this one sees either no file or the complete one, never a part."""
    scratch = _scratch(path)
    _new_private(scratch, data)
    try:
        os.link(scratch, path)
    except FileExistsError:
        return False
    finally:
        scratch.unlink()
    return True


def replace_private(path: Path, data: bytes) -> None:
    """Write ``path`` (replacing any file there) with mode 0600 throughout."""
    scratch = _scratch(path)
    _new_private(scratch, data)
    os.replace(scratch, path)
