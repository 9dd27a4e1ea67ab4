"""The suite runs in pytest-xdist workers (``scripts/test.sh``): each worker must
get a Redis database of its own, since the Redis tests FLUSHDB theirs."""

from __future__ import annotations

import os

import pytest

from tests.conftest import REDIS_URL, worker_redis_url


def test_outside_xdist_and_on_the_first_worker_the_base_database_is_used() -> None:
    assert worker_redis_url("redis://127.0.0.1:6379/15", "main") == "redis://127.0.0.1:6379/15"
    assert worker_redis_url("redis://127.0.0.1:6379/15", "gw0") == "redis://127.0.0.1:6379/15"


def test_each_worker_counts_down_from_the_base_database() -> None:
    urls = {worker_redis_url("redis://:pw@redis.test:6380/9", f"gw{n}") for n in range(4)}
    assert urls == {f"redis://:pw@redis.test:6380/{db}" for db in (9, 8, 7, 6)}
    assert worker_redis_url("redis://127.0.0.1:6379", "gw0") == "redis://127.0.0.1:6379/0"


def test_a_base_too_low_for_the_workers_is_refused_with_the_reason() -> None:
    with pytest.raises(RuntimeError, match="worker gw2 would need Redis database -1"):
        worker_redis_url("redis://127.0.0.1:6379/1", "gw2")


def test_this_process_uses_its_workers_database() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    base = os.environ.get("PASAR_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    assert worker_redis_url(base, worker) == REDIS_URL
