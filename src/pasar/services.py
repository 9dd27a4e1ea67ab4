"""The one object the app's services hang off (no module-level state).

Tests build as many apps, and so as many ``Services``, as they like.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pasar.db.engine import Database
from pasar.media.storage import LocalStorage, Storage
from pasar.metrics import Metrics
from pasar.realtime.engine import Realtime
from pasar.settings import Settings
from pasar.vendors.credentials import SecretBox


@dataclass
class Services:
    settings: Settings
    db: Database
    box: SecretBox
    storage: Storage
    metrics: Metrics
    realtime: Realtime
    server_secret: str

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        media = settings.resolved_media_dir
        media.mkdir(parents=True, exist_ok=True)
        db = Database(settings.resolved_database_url)
        secret = settings.resolved_secret_key()
        return cls(
            settings=settings,
            db=db,
            box=SecretBox(secret),
            storage=LocalStorage(media, settings.resolved_public_url),
            metrics=Metrics(),
            realtime=Realtime(settings, db),
            server_secret=secret,
        )

    @property
    def session_ttl(self) -> timedelta:
        return timedelta(hours=self.settings.session_ttl_hours)

    async def close(self) -> None:
        await self.realtime.close()
        await self.db.dispose()
