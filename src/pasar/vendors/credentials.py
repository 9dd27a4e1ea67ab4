"""Passwords, opaque tokens and the server-side encryption of revealable secrets.

API keys, session tokens and stream keys are long random strings, so a single
SHA-256 is a safe lookup hash (no dictionary to attack) and lets a presented
key be found by an indexed equality query: the comparison happens in the
database on the hash, never on the secret, so it leaks no timing about it.
Passwords are chosen by people, so they get argon2id.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken

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
