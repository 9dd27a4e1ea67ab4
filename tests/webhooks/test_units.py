"""The pure parts: the retry schedule, Retry-After, signatures, address rules."""

from __future__ import annotations

import base64
import ipaddress
import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from standardwebhooks.webhooks import Webhook

from pasar.webhooks import signing
from pasar.webhooks.errors import WebhookError
from pasar.webhooks.outbox import render
from pasar.webhooks.schedule import (
    MAX_ATTEMPTS,
    MAX_RETRY_AFTER,
    RETRY_DELAYS,
    retry_after,
    retry_delay,
    shortest_span,
)
from pasar.webhooks.urls import is_public, parse_url

NOW = datetime(2026, 12, 12, 12, 0, tzinfo=UTC)


def test_the_schedule_grows_and_spans_more_than_a_day() -> None:
    assert MAX_ATTEMPTS == 10
    waits = [retry_delay(n, 0.0) for n in range(1, MAX_ATTEMPTS)]
    assert waits == list(RETRY_DELAYS)
    assert all(a is not None and b is not None and a < b for a, b in itertools.pairwise(waits))
    assert retry_delay(MAX_ATTEMPTS, 0.0) is None  # the tenth failure is the last
    assert retry_delay(0, 0.0) is None
    assert shortest_span() >= timedelta(hours=24)
    assert shortest_span() == timedelta(hours=24, minutes=42, seconds=35)


@pytest.mark.parametrize("attempt", range(1, MAX_ATTEMPTS))
def test_jitter_only_lengthens_waits_by_up_to_half(attempt: int) -> None:
    base = RETRY_DELAYS[attempt - 1]
    for rand in (0.0, 0.25, 0.5, 0.999):
        wait = retry_delay(attempt, rand)
        assert wait is not None and base <= wait < base * 1.5


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("120", timedelta(seconds=120)),
        (" 0 ", timedelta(0)),
        ("9" * 5000, MAX_RETRY_AFTER),  # no int() of a 5000-digit number
        ("999999", MAX_RETRY_AFTER),
        (format_datetime(NOW + timedelta(minutes=5), usegmt=True), timedelta(minutes=5)),
        (format_datetime(NOW - timedelta(minutes=5), usegmt=True), timedelta(0)),
        (format_datetime(NOW + timedelta(days=30), usegmt=True), MAX_RETRY_AFTER),
        ("-5", None),
        ("soon", None),
        ("١٢٠", None),  # Arabic-Indic digits are not HTTP's
    ],
)
def test_retry_after(header: str | None, expected: timedelta | None) -> None:
    assert retry_after(header, NOW) == expected


def test_signatures_match_the_reference_library() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    body = render("show.live", {"id": "show_1", "title": "Batik ✨"}, NOW).encode()
    ts = int(NOW.timestamp())
    ours = signing.sign(secret, "msg_1", ts, body)
    assert ours == Webhook(secret).sign("msg_1", NOW, body.decode())
    # The example in the Standard Webhooks specification.
    spec = signing.sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
    )
    assert spec == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_two_secrets_give_two_signatures() -> None:
    a, b = signing.new_secret(), signing.new_secret()
    headers = signing.headers([a, b], "msg_1", 1_700_000_000, b"{}")
    first, second = headers["webhook-signature"].split(" ")
    assert first == signing.sign(a, "msg_1", 1_700_000_000, b"{}")
    assert second == signing.sign(b, "msg_1", 1_700_000_000, b"{}")
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == "1700000000"


def test_payloads_are_standard_webhooks_json() -> None:
    at = datetime(2026, 12, 12, 12, 0, 0, 123456, tzinfo=UTC)
    body = render("show.live", {"started_at": at, "title": "Ünïcode"}, at)
    assert body == (
        '{"type":"show.live","timestamp":"2026-12-12T12:00:00.123Z",'
        '"data":{"started_at":"2026-12-12T12:00:00.123Z","title":"Ünïcode"}}'
    )


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("93.184.215.14", True),
        ("2606:4700::6810:84e5", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("198.18.0.1", False),
        ("::1", False),
        ("::", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("::7f00:1", False),  # IPv4-compatible (deprecated) 127.0.0.1
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("2002:808:808::", True),  # 6to4 of 8.8.8.8
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://x/",
        "https://a:b@x.example/",
        "https://@x.example/",
        "http:///path",
        "https://x.example:65536/",
        "https://x.example:-1/",
        "https://x.example/\r\nHost: evil",
        "https://x .example/",
    ],
)
def test_url_forms_refused(url: str) -> None:
    with pytest.raises(WebhookError) as info:
        parse_url(url)
    assert info.value.kind == "invalid"


def test_url_forms_accepted() -> None:
    assert parse_url(" https://Toko.example:8443/hooks?x=1 ") == (
        "https://Toko.example:8443/hooks?x=1",
        "toko.example",
    )
    assert parse_url("http://[2606:4700::1]/h")[1] == "2606:4700::1"
