"""The one object the app's services hang off (no module-level state).

Tests build as many apps, and so as many ``Services``, as they like.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

import structlog

from pasar.commerce.live import Commerce
from pasar.db.engine import Database
from pasar.engagement.ingest import ChatIngest
from pasar.engagement.standing import Standings
from pasar.engagement.tending import PollTender
from pasar.media.external import ExternalMedia, show_playback_url
from pasar.media.lifecycle import ShowLink
from pasar.media.plane import MediaPlane
from pasar.metrics import Metrics
from pasar.realtime.engine import Realtime
from pasar.settings import Settings
from pasar.shows.lifecycle import ShowLifecycle
from pasar.storage import Storage
from pasar.storage.local import LocalStorage
from pasar.storage.s3 import S3Config, S3Storage
from pasar.vendors.credentials import PasswordWork, SecretBox
from pasar.vendors.throttle import LoginThrottle, Policy, make_store
from pasar.webhooks.dispatcher import Dispatcher

log = structlog.get_logger()

# Long enough for batches and deliveries under way to finish (the webhook
# Dispatcher's own grace is shorter), short enough that a stuck part cannot
# keep a stopping node, or a test's teardown, waiting for ever.
CLOSE_STEP_SECONDS = 20.0


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    storage: Storage
    metrics: Metrics
    realtime: Realtime
    chat: ChatIngest
    polls: PollTender
    media: MediaPlane
    lifecycle: ShowLifecycle
    show_link: ShowLink  # the media side meets the show: replays, recordings, stream status
    external: ExternalMedia
    webhooks: Dispatcher
    commerce: Commerce
    server_secret: str
    passwords: PasswordWork
    login_throttle: LoginThrottle
    # what the last close() had to leave behind: (step, the stacks of the tasks)
    left_behind: list[tuple[str, list[str]]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        media = settings.resolved_media_dir
        media.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        secret = settings.resolved_secret_key()
        storage: Storage
        if settings.storage == "s3":
            storage = S3Storage(S3Config.from_settings(settings))
        else:
            storage = LocalStorage(media, settings.resolved_public_url)
        realtime = Realtime(settings)
        dispatcher = Dispatcher(
            db,
            SecretBox(secret),
            allow_private=settings.webhook_allow_private_networks,
            concurrency=settings.webhook_concurrency,
            per_vendor=settings.webhook_per_vendor,
        )
        box = SecretBox(secret)
        commerce = Commerce(settings, db, realtime, box, nudge_webhooks=dispatcher.nudge)
        standings = Standings(db, realtime.broker)
        standings.listeners.append(commerce.moderation_changed)  # a ban stops claims at once
        lifecycle = ShowLifecycle(
            db, realtime.publish, dispatcher.nudge, on_ended=[commerce.show_ended]
        )
        link = ShowLink(
            db,
            realtime,
            storage,
            lifecycle,
            partial(show_playback_url, settings),
            settings.recording_retention_days,
        )
        plane = MediaPlane(
            settings,
            storage,
            on_started=lifecycle.go_live,
            on_ending=lifecycle.end,
            on_recorded=link.publish_replay,
            on_status=link.status,
        )
        return cls(
            settings=settings,
            db=db,
            box=box,
            storage=storage,
            metrics=Metrics(),
            realtime=realtime,
            chat=ChatIngest(db, realtime, standings),
            polls=PollTender(db, realtime),
            media=plane,
            lifecycle=lifecycle,
            show_link=link,
            external=ExternalMedia(settings, db, lifecycle, link),
            webhooks=dispatcher,
            commerce=commerce,
            server_secret=secret,
            passwords=PasswordWork(settings.password_hash_concurrency),
            login_throttle=LoginThrottle(make_store(settings), Policy.from_settings(settings)),
        )

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.session_ttl_hours)

    @property
    def session_max_age(self) -> timedelta:
        return timedelta(hours=self.settings.session_max_age_hours)

    async def close(self) -> None:
        """Stop everything, each part given ``CLOSE_STEP_SECONDS`` at most.

        A part that does not finish in time is left behind with the stacks of
        every task still running logged, so a stuck shutdown names its cause
        instead of hanging the process (a SIGTERM must end a node)."""
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("webhooks", self.webhooks.close),
            ("commerce", self.commerce.close),
            ("external media", self.external.close),
            ("media", self.media.close),
            ("show_link", self.show_link.close),
            ("polls", self.polls.close),
            ("chat", self.chat.close),
            ("realtime", self.realtime.close),
            ("login throttle", self.login_throttle.store.close),
        ]
        for name, step in steps:
            await self._bounded(name, step)
        self.passwords.close()
        await self._bounded("database", self.db.dispose)
        if isinstance(self.storage, S3Storage):
            await self._bounded("storage", self.storage.close)  # its connection pool

    async def _bounded(self, name: str, step: Callable[[], Awaitable[None]]) -> None:
        async def run() -> None:
            await step()

        # Its own task, so that where it is stuck can still be read when time is up.
        task = asyncio.create_task(run(), name=f"closing {name}")
        done, _ = await asyncio.wait({task}, timeout=CLOSE_STEP_SECONDS)
        if done:
            task.result()
            return
        tasks = _task_stacks()
        task.cancel()
        self.left_behind.append((name, tasks))
        log.error(
            "shutdown step did not finish; left behind",
            step=name,
            seconds=CLOSE_STEP_SECONDS,
            tasks=tasks,
        )


def _task_stacks() -> list[str]:
    """Where every other task of the loop waits: its chain of awaits, outermost
    first (a suspended task's own stack is only its top frame)."""
    current = asyncio.current_task()
    out = []
    for task in asyncio.all_tasks():
        if task is current:
            continue
        out.append(f"{task.get_name()}: {' -> '.join(_awaits(task.get_coro()))}")
    return out


def _awaits(awaitable: object, depth: int = 16) -> list[str]:
    chain: list[str] = []
    while awaitable is not None and len(chain) < depth:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if frame is None:
            chain.append(type(awaitable).__name__)  # a Future, an Event's waiter, …
            break
        name = frame.f_code.co_filename.rsplit("/", 1)[-1]
        chain.append(f"{frame.f_code.co_name} ({name}:{frame.f_lineno})")
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)
    return chain
