"""Ids: prefixed ULIDs whose order is the order they were made in."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pasar import ids


@pytest.fixture(autouse=True)
def _restore_the_last_id() -> object:
    # These tests set the clock far ahead; ids made after them (in other tests
    # of this process) must not inherit that millisecond.
    saved = getattr(ids, "_last", None)
    yield
    if saved is not None:
        ids._last = saved


def test_ids_made_in_the_same_millisecond_keep_their_order() -> None:
    # A chat batch stores dozens of messages within a millisecond; snapshots
    # order chat by id, so the ids must count up in the order they were made.
    with mock.patch.object(ids.time, "time_ns", return_value=1_780_000_000_000_000_000):
        made = [ids.new_id("msg") for _ in range(500)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_a_clock_that_steps_back_does_not_reorder_ids() -> None:
    now = 1_780_000_000_000_000_000
    with mock.patch.object(ids.time, "time_ns", return_value=now):
        before = ids.new_id("msg")
    with mock.patch.object(ids.time, "time_ns", return_value=now - 5_000_000_000):
        after = ids.new_id("msg")
    assert after > before


def test_ids_from_many_threads_are_unique_and_well_formed() -> None:
    made: list[str] = []

    def make() -> None:
        made.extend(ids.new_id("ord") for _ in range(2000))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8000
    assert all(re.fullmatch(r"ord_[0-9A-HJKMNP-TV-Z]{26}", i) for i in made)


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2999, 1, 1)))
def test_id_at_sorts_before_every_id_made_from_that_millisecond_on(when: datetime) -> None:
    ids._last = (0, 0)  # each example's clock stands alone
    when = when.replace(tzinfo=UTC)
    ns = int(when.timestamp() * 1000) * 1_000_000
    with mock.patch.object(ids.time, "time_ns", return_value=ns):
        made = ids.new_id("msg")
    assert ids.id_at("msg", when) <= made
