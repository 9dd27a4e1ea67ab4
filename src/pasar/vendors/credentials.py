"""Passwords, opaque tokens and the server-side encryption of revealable secrets.

API keys, session tokens and stream keys are long random strings, so a single
SHA-256 is a safe lookup hash (no dictionary to attack) and lets a presented
key be found by an indexed equality query: the comparison happens in the
database on the hash, never on the secret, so it leaks no timing about it.
Passwords are chosen by people, so they get argon2id: about 0.1 s of CPU and
64 MiB each, on purpose. That work never runs on the event loop (it would stall
every request of every vendor on the node): ``PasswordWork`` runs it on a few
threads of its own, a bounded number at once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken

from pasar.vendors.errors import VendorError

T = TypeVar("T")

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(stored: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(stored, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# Burnt when a login names an unknown email, so both paths cost one argon2 verify.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    verify_password(_DUMMY_HASH, password)


class PasswordWork:
    """Hashes and checks passwords on ``concurrency`` threads, never on the loop.

    argon2-cffi releases the GIL, so the loop keeps answering while a check runs.
    At most ``concurrency`` run at once (each holds 64 MiB); more wait their turn,
    and beyond ``max_waiting`` waiting a sign-in is refused as busy rather than
    queueing without end (the login throttle refuses repeat offenders earlier).
    """

    def __init__(self, concurrency: int, max_waiting: int = 64) -> None:
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="pasar-argon2")
        self.max_waiting = max_waiting
        self.in_queue = 0

    async def _run(self, fn: Callable[[], T]) -> T:
        if self.in_queue >= self.max_waiting:
            raise VendorError(
                "unavailable", "busy", "too many sign-ins at once; try again in a moment"
            )
        self.in_queue += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        finally:
            self.in_queue -= 1

    # The module's functions are looked up at call time, so tests can wrap them.
    async def hash(self, password: str) -> str:
        return await self._run(lambda: hash_password(password))

    async def verify(self, stored: str, password: str) -> bool:
        return await self._run(lambda: verify_password(stored, password))

    async def burn(self, password: str) -> None:
        """What a sign-in with an unknown email costs, so it looks like a wrong password."""
        await self._run(lambda: burn_password_check(password))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def new_token(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}{secrets.token_urlsafe(nbytes)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SecretBox:
    """Symmetric encryption for secrets that must be shown again (stream keys)."""

    def __init__(self, server_secret: str) -> None:
        key = hashlib.sha256(b"pasar-secretbox:" + server_secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:  # the server secret changed
            raise ValueError("secret cannot be decrypted with the current server key") from exc
