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
from pydantic_core import PydanticCustomError

NUL = "\x00"
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


# No request body needs more; a bound keeps every walk over a body (and pydantic's
# own) far from Python's recursion limit, which ~1,000 levels of [[[…]]] reach.
MAX_JSON_DEPTH = 64


class NestedTooDeep(ValueError):
    """A JSON-like value nested deeper than MAX_JSON_DEPTH."""

    def __init__(self, where: str) -> None:
        super().__init__(f"{where or 'value'}: nested more than {MAX_JSON_DEPTH} levels deep")
        self.where = where or "value"


def find_nul(value: Any, where: str = "") -> str | None:
    """Where in a JSON-like value a NUL character hides (None when nowhere).

    PostgreSQL cannot store NUL in text, and no name, title or email needs one.
    Iterative (an explicit stack, not recursion), so no depth can overflow it;
    raises NestedTooDeep past MAX_JSON_DEPTH containers."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return path or "value"
            continue
        if not isinstance(item, dict | list | tuple):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise NestedTooDeep(path)
        children: list[tuple[Any, str, int]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else str(key)
                child_path = child_path.replace(NUL, "\\u0000")
                if isinstance(key, str) and NUL in key:
                    return child_path
                children.append((child, child_path, depth + 1))
        else:
            children = [(child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item)]
        stack.extend(reversed(children))  # first child on top: report the first NUL
    return None


def reject_nul(value: Any) -> Any:
    """A ``model_validator(mode="before")`` body: refuse text with NUL characters,
    and values nested deeper than any request needs."""
    try:
        where = find_nul(value)
    except NestedTooDeep as exc:
        raise PydanticCustomError(
            "nested_too_deeply",
            "{where}: nested more than {limit} levels deep",
            {"where": exc.where, "limit": MAX_JSON_DEPTH},
        ) from None
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
