"""Input rules that every API shape shares, whichever domain it belongs to."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    model_validator,
)

NUL = "\x00"
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def find_nul(value: Any, where: str = "") -> str | None:
    """Where in a JSON-like value a NUL character hides (None when nowhere).

    PostgreSQL cannot store NUL in text, and no name, title or email needs one."""
    if isinstance(value, str):
        return (where or "value") if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            path = path.replace(NUL, "\\u0000")
            if isinstance(key, str) and NUL in key:
                return path
            found = find_nul(item, path)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = find_nul(item, f"{where}[{i}]")
            if found:
                return found
    return None


def reject_nul(value: Any) -> Any:
    """A ``model_validator(mode="before")`` body: refuse text with NUL characters."""
    where = find_nul(value)
    if where:
        raise ValueError(f"{where}: text must not contain NUL (\\u0000) characters")
    return value


def _iso_text(value: Any) -> Any:
    # Pydantic would also read 1700000000 or "0.5" as a Unix time; the API
    # documents (and only means) ISO 8601 text.
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE_TIME.match(value.strip()):
        return value
    raise ValueError("expected an ISO 8601 date-time with an offset, e.g. 2026-12-12T12:00:00Z")


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-23:00 is past the last UTC datetime
        raise ValueError("the date-time is out of range") from None


# An ISO 8601 date-time with an offset, given back in UTC.
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_utc)]


class Strict(BaseModel):
    """The base of every request body: unknown fields refused, text trimmed, no NUL."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return reject_nul(data)
