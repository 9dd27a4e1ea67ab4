"""Deliveries end to end: a real receiver on loopback, the dispatcher running in the
app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from pasar.clock import utcnow
from tests.conftest import VendorCtx, record_video
from tests.webhooks.conftest import (
    API,
    create_endpoint,
    deliveries,
    make_due,
    wait_delivery,
)
from tests.webhooks.receiver import Answer, Receiver


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_test_event_arrives_signed_and_verifiable(
    client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    endpoint = await create_endpoint(client, vendor, receiver.url())
    r = await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    assert r.status_code == 202, r.text
    queued = r.json()
    [got] = await receiver.wait_for("/hook", 1)
    assert got.method == "POST"
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == queued["message_id"]
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["webhook-signature"].startswith("v1,")
    assert " " not in got.headers["webhook-signature"]  # one secret, one signature

    payload = Webhook(endpoint["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "webhook.test"
    assert payload["data"]["endpoint_id"] == endpoint["id"]
    assert abs(_at(payload["timestamp"]) - utcnow()) < timedelta(minutes=1)
    assert payload == queued["payload"]

    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(got.body.replace(b"test", b"tost"), got.headers)
    other = await create_endpoint(client, vendor, receiver.url("/other"))
    with pytest.raises(WebhookVerificationError):
        Webhook(other["secret"]).verify(got.body, got.headers)

    done = await wait_delivery(client, vendor, queued["id"], attempts=1)
    assert done["status"] == "succeeded"
    [attempt] = done["attempts"]
    assert attempt["status_code"] == 200 and attempt["error"] is None
    assert attempt["response_body"] == "ok" and attempt["trigger"] == "scheduled"
    assert attempt["duration_ms"] >= 0


async def test_show_events_follow_the_show(
    client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    """Each state change of a show is one event, only to endpoints subscribed to it."""
    types = ["show.scheduled", "show.live", "show.ended", "replay.ready"]
    endpoint = await create_endpoint(client, vendor, receiver.url(), event_types=types)
    await create_endpoint(client, vendor, receiver.url("/deals"), event_types=["deal.started"])
    show = (
        await client.post(
            "/api/v1/shows",
            json={"title": "Harbolnas", "scheduled_at": "2030-12-12T12:00:00Z"},
            headers=vendor.headers,
        )
    ).json()
    for state in ("live", "ended", "replay"):
        if state == "replay":
            await record_video(client, show["id"])
        r = await client.post(
            f"/api/v1/shows/{show['id']}/transitions", json={"to": state}, headers=vendor.headers
        )
        assert r.status_code == 200, r.text
    got = await receiver.wait_for("/hook", 4)
    payloads = [Webhook(endpoint["secret"]).verify(g.body, g.headers) for g in got]
    by_type = {p["type"]: p["data"] for p in payloads}
    assert sorted(by_type) == sorted(types)  # order across messages is not promised
    assert by_type["show.scheduled"]["scheduled_at"] == "2030-12-12T12:00:00.000Z"
    assert by_type["show.live"]["state"] == "live" and by_type["show.live"]["started_at"]
    assert by_type["show.ended"]["ended_at"]
    replay = by_type["replay.ready"]
    assert replay["state"] == "replay" and replay["id"] == show["id"]
    assert replay["playback_url"] == show["playback_url"]
    assert set(replay) >= {"id", "title", "state", "scheduled_at", "started_at", "ended_at"}
    assert len({g.headers["webhook-id"] for g in got}) == 4
    assert receiver.at("/deals") == []


async def test_a_500_is_retried_with_growing_waits_then_succeeds(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    receiver.answer("/hook", Answer(500, body=b"boom"), Answer(502))
    endpoint = await create_endpoint(client, vendor, receiver.url())
    queued = (
        await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    ).json()

    first = await wait_delivery(client, vendor, queued["id"], attempts=1)
    assert first["status"] == "pending" and first["attempt_count"] == 1
    assert first["attempts"][0]["status_code"] == 500
    assert first["attempts"][0]["response_body"] == "boom"
    wait1 = _at(first["next_attempt_at"]) - _at(first["attempts"][0]["started_at"])
    assert timedelta(seconds=4) < wait1 < timedelta(seconds=8), wait1  # 5 s, +0-50 %

    await make_due(app, queued["id"])
    second = await wait_delivery(client, vendor, queued["id"], attempts=2)
    assert second["status"] == "pending" and second["attempts"][1]["status_code"] == 502
    wait2 = _at(second["next_attempt_at"]) - _at(second["attempts"][1]["started_at"])
    assert timedelta(seconds=29) < wait2 < timedelta(seconds=46), wait2  # 30 s, +0-50 %

    await make_due(app, queued["id"])
    third = await wait_delivery(client, vendor, queued["id"], attempts=3)
    assert third["status"] == "succeeded" and third["next_attempt_at"] is None
    assert [a["status_code"] for a in third["attempts"]] == [500, 502, 200]

    got = receiver.at("/hook")
    assert len(got) == 3
    assert len({g.headers["webhook-id"] for g in got}) == 1  # the same message each time
    assert len({g.body for g in got}) == 1
    for g in got:  # each attempt is signed for its own timestamp
        Webhook(endpoint["secret"]).verify(g.body, g.headers)


@pytest.mark.parametrize(
    ("status", "retry_after", "at_least"),
    [(429, "120", 119), (503, "3600", 3599), (429, None, 4)],
)
async def test_retry_after_is_honoured(
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    receiver: Receiver,
    status: int,
    retry_after: str | None,
    at_least: int,
) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    receiver.answer("/hook", Answer(status, headers))
    endpoint = await create_endpoint(client, vendor, receiver.url())
    queued = (
        await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    ).json()
    done = await wait_delivery(client, vendor, queued["id"], attempts=1)
    wait = _at(done["next_attempt_at"]) - _at(done["attempts"][0]["started_at"])
    assert wait >= timedelta(seconds=at_least), wait
    assert done["status"] == "pending"


async def test_retry_after_as_an_http_date(
    client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    from email.utils import format_datetime

    later = format_datetime(utcnow() + timedelta(minutes=20), usegmt=True)
    receiver.answer("/hook", Answer(503, {"Retry-After": later}))
    endpoint = await create_endpoint(client, vendor, receiver.url())
    queued = (
        await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    ).json()
    done = await wait_delivery(client, vendor, queued["id"], attempts=1)
    assert _at(done["next_attempt_at"]) >= utcnow() + timedelta(minutes=19)


async def test_410_gone_disables_the_endpoint(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    receiver.always("/hook", Answer(410, body=b"gone"))
    endpoint = await create_endpoint(
        client, vendor, receiver.url(), event_types=["show.scheduled", "webhook.test"]
    )
    queued = (
        await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    ).json()
    done = await wait_delivery(client, vendor, queued["id"], attempts=1)
    assert done["status"] == "failed" and done["next_attempt_at"] is None
    after = (await client.get(f"{API}/endpoints/{endpoint['id']}", headers=vendor.headers)).json()
    assert after["enabled"] is False
    assert "410" in after["disabled_reason"]

    # Nothing more is sent to it: new events skip it, tests and redelivery are refused.
    await client.post("/api/v1/shows", json={"title": "After"}, headers=vendor.headers)
    assert len(await deliveries(client, vendor, endpoint["id"])) == 1
    r = await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "endpoint_disabled"
    r = await client.post(f"{API}/deliveries/{queued['id']}/redeliver", headers=vendor.headers)
    assert r.status_code == 409

    # Turned on again, it clears the reason and gets events again.
    r = await client.patch(
        f"{API}/endpoints/{endpoint['id']}", json={"enabled": True}, headers=vendor.headers
    )
    assert r.json()["enabled"] is True and r.json()["disabled_reason"] is None
    receiver.always("/hook", Answer(200))
    r = await client.post(f"{API}/deliveries/{queued['id']}/redeliver", headers=vendor.headers)
    assert r.status_code == 202, r.text
    redone = await wait_delivery(client, vendor, queued["id"], attempts=2)
    assert redone["status"] == "succeeded"


async def test_redeliver_sends_again_and_shows_in_the_log(
    app: FastAPI, client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    """Also for a delivery that failed for good (every attempt used)."""
    from sqlalchemy import update

    from pasar.webhooks.models import WebhookDelivery
    from pasar.webhooks.schedule import MAX_ATTEMPTS

    receiver.answer("/hook", Answer(500))
    endpoint = await create_endpoint(client, vendor, receiver.url())
    queued = (
        await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    ).json()
    await wait_delivery(client, vendor, queued["id"], attempts=1)
    services = app.state.services
    async with services.db.session() as db:  # as if the whole schedule had failed
        await db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == queued["id"])
            .values(status="failed", attempts=MAX_ATTEMPTS, next_attempt_at=None)
        )
        await db.commit()

    r = await client.post(f"{API}/deliveries/{queued['id']}/redeliver", headers=vendor.headers)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "pending"
    done = await wait_delivery(client, vendor, queued["id"], attempts=2)
    assert done["status"] == "succeeded"
    assert [a["trigger"] for a in done["attempts"]] == ["scheduled", "manual"]
    assert [a["status_code"] for a in done["attempts"]] == [500, 200]
    got = receiver.at("/hook")
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]

    # A succeeded delivery can be sent again too, and a failed manual attempt of an
    # exhausted delivery leaves it failed rather than starting the schedule over.
    receiver.answer("/hook", Answer(500))
    await client.post(f"{API}/deliveries/{queued['id']}/redeliver", headers=vendor.headers)
    again = await wait_delivery(client, vendor, queued["id"], attempts=3)
    assert again["status"] == "failed" and again["next_attempt_at"] is None
    log = await deliveries(client, vendor, endpoint["id"])
    assert [len(d["attempts"]) for d in log] == [3]


async def test_rotation_signs_with_both_secrets_for_a_day(
    client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    endpoint = await create_endpoint(client, vendor, receiver.url())
    old = endpoint["secret"]
    r = await client.post(f"{API}/endpoints/{endpoint['id']}/rotate-secret", headers=vendor.headers)
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new != old and new.startswith("whsec_")
    overlap = _at(r.json()["previous_secret_expires_at"]) - utcnow()
    assert timedelta(hours=23, minutes=59) < overlap <= timedelta(hours=24)
    shown = (
        await client.get(f"{API}/endpoints/{endpoint['id']}/secret", headers=vendor.headers)
    ).json()
    assert shown["secret"] == new

    await client.post(f"{API}/endpoints/{endpoint['id']}/test", headers=vendor.headers)
    [got] = await receiver.wait_for("/hook", 1)
    signatures = got.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    for secret, signature in zip((new, old), signatures, strict=True):
        only = {**got.headers, "webhook-signature": signature}
        Webhook(secret).verify(got.body, only)  # each verifies with its own secret
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)


async def test_a_slow_endpoint_does_not_hold_up_others(
    client: httpx.AsyncClient, vendor: VendorCtx, receiver: Receiver
) -> None:
    receiver.always("/slow", Answer(200, delay=3.0))
    slow = await create_endpoint(client, vendor, receiver.url("/slow"))
    fast = await create_endpoint(client, vendor, receiver.url("/fast"))
    for _ in range(12):
        await client.post(f"{API}/endpoints/{slow['id']}/test", headers=vendor.headers)
    started = time.monotonic()
    await client.post(f"{API}/endpoints/{fast['id']}/test", headers=vendor.headers)
    await receiver.wait_for("/fast", 1, within=2.5)
    assert time.monotonic() - started < 2.5
    assert json.loads(receiver.at("/fast")[0].body)["type"] == "webhook.test"


async def test_the_media_plane_going_live_and_ending_sends_show_events(
    app: FastAPI,
    client: httpx.AsyncClient,
    vendor: VendorCtx,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A publisher connecting (ShowLifecycle.go_live), dropping for good (MediaPlane.end) and
    the recording closing (the replay) each send their event, as the REST route does."""
    types = ["show.live", "show.ended", "replay.ready"]
    endpoint = await create_endpoint(client, vendor, receiver.url(), event_types=types)
    show = (
        await client.post("/api/v1/shows", json={"title": "OBS"}, headers=vendor.headers)
    ).json()
    services = app.state.services

    async def recorded(show_id: str) -> bool:
        return True  # as if the packager had closed a recording

    monkeypatch.setattr(services.media, "end_show", recorded)
    await services.lifecycle.go_live(show["id"])
    [live] = await receiver.wait_for("/hook", 1)
    assert Webhook(endpoint["secret"]).verify(live.body, live.headers)["type"] == "show.live"
    await services.media.end(show["id"])
    got = await receiver.wait_for("/hook", 3)
    payloads = {
        p["type"]: p["data"]
        for p in (Webhook(endpoint["secret"]).verify(g.body, g.headers) for g in got)
    }
    assert sorted(payloads) == sorted(types)
    assert payloads["replay.ready"]["playback_url"] == show["playback_url"]
    assert payloads["show.ended"]["state"] == "ended"
