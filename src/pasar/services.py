"""The one object the app's services hang off (no module-level state).

Tests build as many apps, and so as many ``Services``, as they like.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from pasar.commerce.live import Commerce
from pasar.db.engine import Database
from pasar.media.external import ExternalMedia, show_playback_url
from pasar.media.lifecycle import ShowLink
from pasar.media.plane import MediaPlane
from pasar.media.s3 import S3Config, S3Storage
from pasar.media.storage import LocalStorage, Storage
from pasar.metrics import Metrics
from pasar.realtime.engine import Realtime
from pasar.settings import Settings
from pasar.vendors.credentials import PasswordWork, SecretBox
from pasar.vendors.throttle import LoginThrottle, Policy, make_store
from pasar.webhooks.dispatcher import Dispatcher


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    storage: Storage
    metrics: Metrics
    realtime: Realtime
    media: MediaPlane
    shows: ShowLink
    external: ExternalMedia
    webhooks: Dispatcher
    commerce: Commerce
    server_secret: str
    passwords: PasswordWork
    login_throttle: LoginThrottle

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
        realtime = Realtime(settings, db)
        link = ShowLink(db, realtime, storage, settings.recording_retention_days)
        plane = MediaPlane(
            settings, storage, on_started=link.go_live, on_expired=link.end, on_status=link.status
        )
        link.plane = plane
        dispatcher = Dispatcher(
            db,
            SecretBox(secret),
            allow_private=settings.webhook_allow_private_networks,
            concurrency=settings.webhook_concurrency,
            per_vendor=settings.webhook_per_vendor,
        )
        link.webhooks = dispatcher
        link.playback_url = partial(show_playback_url, settings)
        box = SecretBox(secret)
        commerce = Commerce(settings, db, realtime, box)
        commerce.nudge_webhooks = dispatcher.nudge  # was never wired: the poll alone sent them
        link.on_ended.append(commerce.show_ended)
        return cls(
            settings=settings,
            db=db,
            box=box,
            storage=storage,
            metrics=Metrics(),
            realtime=realtime,
            media=plane,
            shows=link,
            external=ExternalMedia(settings, db, link),
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
        await self.webhooks.close()
        await self.commerce.close()
        await self.external.close()
        await self.media.close()
        await self.shows.close()
        await self.realtime.close()
        await self.login_throttle.store.close()
        self.passwords.close()
        await self.db.dispose()
        if isinstance(self.storage, S3Storage):
            await self.storage.close()  # its connection pool
