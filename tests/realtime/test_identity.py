"""Shopper tokens (HS256 JWTs signed with the vendor's shopper secret), checked
directly: what is accepted and every way one is refused."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from pasar.engagement.identity import IdentityError, shopper_from_jwt

SECRET = "a-vendor-shopper-secret-of-some-length"


def token(claims: Any, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def test_a_good_token_names_the_shopper() -> None:
    good = token({"sub": "cust-1", "name": " Ayu ", "exp": time.time() + 60})
    who = shopper_from_jwt(SECRET, good)
    assert (who.id, who.name, who.role) == ("shopper:cust-1", "Ayu", "shopper")
    # the same secret again (its prepared key is reused) and another secret
    assert shopper_from_jwt(SECRET, token({"sub": "c2", "exp": time.time() + 60})).name == "Shopper"
    other = "another-vendor-secret-entirely-000"
    assert shopper_from_jwt(other, token({"sub": "c3", "exp": time.time() + 60}, other)).id == (
        "shopper:c3"
    )


def _unsigned(payload: bytes) -> str:
    """A token signed properly around a payload PyJWT would not build itself."""
    import hashlib
    import hmac

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64(payload)
    sig = hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64(sig)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: token({"sub": "c", "exp": time.time() - 1}), "expired"),
        (lambda: token({"sub": "c", "exp": time.time() + 60, "nbf": time.time() + 30}), "nbf"),
        (lambda: token({"sub": "c"}), '"exp"'),
        (lambda: token({"exp": time.time() + 60}), '"sub"'),
        (lambda: token({"sub": "c", "exp": time.time() + 60}, "x" * 32), "ignature"),
        (lambda: token({"sub": "c", "exp": time.time() + 60}, "k" * 64, "HS512"), "alg"),
        (lambda: token({"sub": "c", "exp": time.time() + 60}, "", "none"), "alg"),
        (lambda: token({"sub": "c", "exp": time.time() + 30 * 86400}), "too long"),
        (lambda: token({"sub": "", "exp": time.time() + 60}), "1-64"),
        (lambda: _unsigned(b'["not", "an", "object"]'), "JSON object"),
        (lambda: _unsigned(b'{"sub": "c", "exp": true}'), "number"),
        (lambda: _unsigned(b"{not json"), "refused"),
        (lambda: "garbage", "refused"),
    ],
)
def test_bad_tokens_are_refused_with_a_reason(make: Any, says: str) -> None:
    with pytest.raises(IdentityError, match=says):
        shopper_from_jwt(SECRET, make())


def _claims(**times: str) -> str:
    """A signed token whose time claims are raw JSON (NaN, Infinity, 1e400 …)."""
    fields = {"sub": '"c"', "exp": str(int(time.time()) + 60), **times}
    return _unsigned(("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode())


@pytest.mark.parametrize(
    "times",
    [
        {"exp": "NaN"},
        {"exp": "Infinity"},
        {"exp": "-Infinity"},
        {"exp": "1e400"},
        {"exp": "1" + "0" * 400},
        {"exp": '"9999999999"'},
        {"nbf": "NaN"},
        {"nbf": "-Infinity"},
        {"nbf": '"0"'},
        {"iat": "NaN"},
        {"iat": "Infinity"},
        {"iat": '"now"'},
        {"iat": "null"},
    ],
    ids=lambda t: ",".join(f"{k}={v[:12]}" for k, v in t.items()),
)
def test_time_claims_must_be_finite_numbers(times: dict[str, str]) -> None:
    """``"exp": NaN`` compared false with every time, so the token never expired."""
    with pytest.raises(IdentityError, match=r"number|finite time"):
        shopper_from_jwt(SECRET, _claims(**times))


def test_ordinary_time_claims_still_pass() -> None:
    now = int(time.time())
    who = shopper_from_jwt(SECRET, _claims(iat=str(now), nbf=f"{now - 5}.5"))
    assert who.id == "shopper:c"
