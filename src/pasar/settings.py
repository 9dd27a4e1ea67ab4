"""One typed, documented place for every ``PASAR_*`` setting.

Each field's description is the documentation: ``docs/configuration.md`` is
generated from this class (``pasar settings --markdown``) and a test fails when
the two disagree. Unset means the embedded default, so a laptop needs nothing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pasar import url_templates

DEFAULT_DATA_DIR = Path("data")
LADDER_RUNG = re.compile(r"^(\d{3,4})p$")
LADDER_AUDIO = "audio"  # the audio-only rendition's name in PASAR_HLS_LADDER


def _ladder_items(value: str) -> list[str]:
    return [item for item in (part.strip().lower() for part in value.split(",")) if item]


def parse_ladder(value: str) -> list[int]:
    """``"720p,360p,audio"`` → ``[720, 360]`` (the video rungs); raises ValueError
    on anything but heights and ``audio``."""
    heights = []
    for item in _ladder_items(value):
        if item == LADDER_AUDIO:
            continue
        m = LADDER_RUNG.match(item)
        if m is None or not 144 <= int(m[1]) <= 2160:
            raise ValueError(f"ladder rung {item!r}: use heights like 720p, 360p, or audio")
        heights.append(int(m[1]))
    return sorted(set(heights), reverse=True)


def ladder_has_audio(value: str) -> bool:
    """Whether the ladder has the audio-only rendition."""
    return LADDER_AUDIO in _ladder_items(value)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASAR_", extra="ignore")

    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR,
        description="Directory for the embedded defaults: the SQLite database and media.",
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy async URL, e.g. `postgresql+asyncpg://user@host/db`. "
            "Unset: SQLite file `pasar.db` in the data directory."
        ),
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL, e.g. `redis://127.0.0.1:6379/0`. Unset: in-process broker.",
    )
    public_url: str | None = Field(
        default=None,
        description=(
            "Base URL shoppers and publishers reach this service at, e.g. "
            "`https://live.example.com`. Unset: `http://{host}:{port}`."
        ),
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Server secret for cookies and for encrypting stream keys at rest. "
            "Unset: generated once and kept in `secret.key` in the data directory."
        ),
    )
    media_dir: Path | None = Field(
        default=None,
        description="Directory for uploaded images and media. Unset: `media/` in the data dir.",
    )
    storage: Literal["local", "s3"] = Field(
        default="local",
        description=(
            "Where images and media (HLS, recordings) are stored: `local` (the media dir, "
            "served at `/media/`) or `s3` (an S3-compatible bucket that every node shares; "
            "see docs/operations.md, Media storage and CDN)."
        ),
    )
    s3_endpoint: str | None = Field(
        default=None,
        description=(
            "With `s3`: the endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com`, "
            "`https://<account>.r2.cloudflarestorage.com`, `http://127.0.0.1:9000` (MinIO). "
            "Required then."
        ),
    )
    s3_region: str = Field(
        default="us-east-1",
        description="With `s3`: the region requests are signed for (`auto` for R2).",
    )
    s3_bucket: str | None = Field(default=None, description="With `s3`: the bucket. Required then.")
    s3_prefix: str | None = Field(
        default=None,
        description="With `s3`: a key prefix for everything Pasar stores, e.g. `pasar/`.",
    )
    s3_access_key_id: str | None = Field(
        default=None, description="With `s3`: the access key id. Required then."
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="With `s3`: the secret access key. Required then."
    )
    s3_public_url: str | None = Field(
        default=None,
        description=(
            "With `s3`: the URL that serves the bucket's objects by key (prefix included), "
            "e.g. a CDN in front of it: `https://cdn.example.com`. Unset: the bucket's own "
            "URL at the endpoint."
        ),
    )
    s3_addressing: Literal["path", "virtual"] = Field(
        default="path",
        description=(
            "With `s3`: `path` (`endpoint/bucket/key`; MinIO and most S3-compatible stores) "
            "or `virtual` (`bucket.endpoint/key`; AWS's preferred style)."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `pasar serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `pasar serve` binds to.")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info", description="Lowest level that is logged."
    )
    log_format: Literal["console", "json"] = Field(
        default="console", description="`console` for people, `json` for log collectors."
    )
    opentelemetry: bool = Field(
        default=False,
        description=(
            "FastAPI's native OpenTelemetry spans and metrics, sent to the global providers "
            "your OpenTelemetry SDK set up. On, flash-deal claims also go through the whole "
            "stack, so they are traced (they skip it otherwise: a quarter of a claim's CPU). "
            "Off, a request does not look the providers up (3 % of a claim's CPU); "
            "Prometheus metrics (`/metrics`) are on either way."
        ),
    )
    auto_migrate: bool = Field(
        default=True,
        description="Upgrade the database schema at start-up (guarded by a lock on PostgreSQL).",
    )
    max_image_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        le=60 * 1024 * 1024,
        description="Largest image upload accepted, in bytes.",
    )
    max_image_pixels: int = Field(
        default=40_000_000, ge=1, description="Largest image accepted, in pixels (width×height)."
    )
    session_ttl_hours: int = Field(
        default=24 * 3, ge=1, description="How long a studio login lasts without activity."
    )
    session_max_age_hours: int = Field(
        default=24 * 7,
        ge=1,
        description=(
            "How long a studio login lasts at most, however active: then staff sign in "
            "again. Caps the sliding `PASAR_SESSION_TTL_HOURS`."
        ),
    )
    password_hash_concurrency: int = Field(
        default=2,
        ge=1,
        le=64,
        description=(
            "Password hashes and checks (argon2id, 64 MiB and ~0.1 s of CPU each) one node "
            "runs at once, on threads of their own, never on the event loop; more wait."
        ),
    )
    login_failures_per_ip: int = Field(
        default=30,
        ge=1,
        description=(
            "Failed studio sign-ins from one address (any accounts) in 15 minutes before "
            "that address is refused (429) until the 15 minutes are over."
        ),
    )
    login_failures_per_account: int = Field(
        default=5,
        ge=1,
        description=(
            "Failed sign-ins of one account from one address in 15 minutes before that "
            "address is refused for that account (other addresses are not)."
        ),
    )
    secure_cookies: bool | None = Field(
        default=None,
        description="Mark cookies `Secure`. Unset: on when the public URL is https.",
    )
    idempotency_ttl_hours: int = Field(
        default=24, ge=1, description="How long an `Idempotency-Key` answer is remembered."
    )
    stock_engine: Literal["sql", "redis"] = Field(
        default="sql",
        description=(
            "How flash-deal claims are admitted: `sql` (the database alone, batched) or "
            "`redis` (an atomic Redis script first, for festival rates; needs "
            "`PASAR_REDIS_URL`). Either way every reservation is recorded in the database "
            "before the shopper is answered."
        ),
    )
    deal_hold_seconds: int = Field(
        default=600,
        ge=30,
        le=86_400,
        description="How long a claimed deal unit is held for checkout unless the deal says.",
    )
    # Claim bots (docs/commerce.md, "Protecting a scarce deal"). Per minute, shared by
    # every node through Redis when PASAR_REDIS_URL is set, per node otherwise. The
    # per-address numbers are high because a festival crowd or a carrier NAT puts
    # hundreds of phones behind one address; they stop one client's flood, not a
    # patient bot (signed_in_only and short guest holds do that).
    guest_mints_per_ip: int = Field(
        default=60,
        ge=1,
        le=1_000_000,
        description=(
            "New guest identities (`POST /api/v1/storefront/guests`) one IP address may "
            "mint per minute. The embed takes its guest from the show socket, so only "
            "custom integrations call this, once per browser."
        ),
    )
    claims_per_ip: int = Field(
        default=600,
        ge=1,
        le=1_000_000,
        description=(
            "Deal claims one IP address may send per minute (10 a second: room for a "
            "crowd behind one NAT tapping the same deal)."
        ),
    )
    claims_per_shopper: int = Field(
        default=30,
        ge=1,
        le=1_000_000,
        description=(
            "Deal claims one shopper (guest token or the vendor's `sub`) may send per "
            "minute, retries included; a person taps a few times."
        ),
    )
    ws_tick_ms: int = Field(
        default=100,
        ge=10,
        le=1000,
        description="Real-time fan-out tick: a show's events are sent as one frame per tick.",
    )
    ws_snapshot_shared_ms: int = Field(
        default=1000,
        ge=0,
        le=10_000,
        description=(
            "How long viewers joining a show share one snapshot read from the database; "
            "each joiner also gets the events since it was read. 0: read one per joiner."
        ),
    )
    ws_max_connections: int = Field(
        default=20_000, ge=1, description="WebSocket connections one node accepts (then 1013)."
    )
    ws_max_buffer_bytes: int = Field(
        default=1024 * 1024,
        ge=16 * 1024,
        description="Unsent bytes a viewer may fall behind before it is dropped (it can resume).",
    )
    ws_max_message_bytes: int = Field(
        default=4096, ge=512, le=1024 * 1024, description="Largest frame a client may send."
    )
    ws_history_events: int = Field(
        default=10_000, ge=100, description="Events of a show kept for resuming, at least."
    )
    ws_history_seconds: int = Field(
        default=600, ge=10, description="Seconds of a show's events kept for resuming, at least."
    )
    ws_presence_ttl_seconds: int = Field(
        default=30,
        ge=3,
        le=600,
        description="With Redis: a dead node's viewers stop counting after this many seconds.",
    )
    # -- client addresses, show sockets and guest tokens (issue 10: 6, 11, 12) --
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated IPs or CIDRs of reverse proxies / load balancers in front of "
            "Pasar, e.g. `10.0.0.0/8,192.168.1.5`. A request from one of them is taken to "
            "come from the rightmost `X-Forwarded-For` address that is not a trusted proxy "
            "(HTTP and WebSocket alike). Empty: trust nobody, use the peer address."
        ),
    )
    guest_token_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description=(
            "Guest tokens expire this many days after they were issued; every use (the show "
            "socket's snapshot, `POST /api/v1/storefront/guests` with the token) hands back "
            "a renewed one."
        ),
    )
    ws_max_connections_per_ip: int = Field(
        default=50,
        ge=0,
        description=(
            "Show sockets one client address may hold open on one node (more close with "
            "4029 and are not counted as viewers). 0: no cap. Raise it when many viewers "
            "share an address (mobile carrier NAT)."
        ),
    )

    publish_grace_seconds: float = Field(
        default=60,
        ge=0,
        le=3600,
        description=(
            "A publisher that drops may come back within this many seconds and continue the "
            "same show and recording; after it, the show ends."
        ),
    )
    publish_dead_seconds: float = Field(
        default=5,
        gt=0,
        le=120,
        description="A publisher whose video stops for this long is treated as dropped.",
    )
    hls_segment_seconds: float = Field(
        default=2.0,
        ge=1.0,
        le=6.0,
        description="HLS segment length: keyframes are requested at this interval.",
    )
    hls_part_seconds: float = Field(
        default=0.2,
        ge=0.1,
        le=1.0,
        description=(
            "Low-Latency HLS part target: players stay three of it behind live "
            "(`PART-HOLD-BACK`), so it sets most of the glass-to-glass latency (0.2: ≈ 0.9 s), "
            "and each viewer makes two requests per part."
        ),
    )
    hls_window_segments: int = Field(
        default=6, ge=3, le=60, description="Segments listed in the live playlist."
    )
    media_server: Literal["builtin", "mediamtx", "nginx-rtmp"] = Field(
        default="builtin",
        description=(
            "Who takes publishers and serves HLS: `builtin` (WHIP into this service), or an "
            "external `mediamtx` or `nginx-rtmp` that calls this service's `/hooks/...` to "
            "authorise stream keys (see docs/operations.md, External media servers)."
        ),
    )
    media_server_hls_url: str | None = Field(
        default=None,
        description=(
            "With an external media server: the public HLS URL of a show, with `{show_id}`, "
            "e.g. `https://media.example.com/hls/{show_id}/index.m3u8`. Never contains the "
            "stream key. Required then."
        ),
    )
    media_server_rtmp_url: str | None = Field(
        default=None,
        description=(
            "With an external media server: the RTMP ingest URL the studio shows next to the "
            "stream key; may use `{show_id}` and `{stream_key}`, e.g. "
            "`rtmp://media.example.com/live` (nginx-rtmp) or "
            "`rtmp://media.example.com/live/{show_id}?key={stream_key}` (MediaMTX)."
        ),
    )
    media_server_whip_url: str | None = Field(
        default=None,
        description=(
            "With an external media server: its WHIP URL for the studio, with `{show_id}`, "
            "e.g. `https://media.example.com:8889/live/{show_id}/whip` (MediaMTX). "
            "Unset: the built-in `/whip`."
        ),
    )
    media_hook_secret: SecretStr | None = Field(
        default=None,
        description=(
            "Shared secret the media server's callbacks present, as `?secret=` in the hook "
            "URL or the `X-Pasar-Hook-Secret` header; 16+ characters. Required with an "
            "external media server."
        ),
    )
    hls_ladder: str = Field(
        default="360p,audio",
        description=(
            "Extra renditions for weak networks, next to the source (always served as is): "
            "video rungs transcoded from the publisher's video, e.g. `720p,360p` (only those "
            "below the source's height are made), and `audio` for an audio-only rendition "
            "(no transcoding). Empty: one rendition, no transcoding unless the publisher "
            "sends VP8."
        ),
    )
    recording_retention_days: int = Field(
        default=0,
        ge=0,
        description="Delete recordings this many days after the show ends. 0: keep forever.",
    )
    webhook_allow_private_networks: bool = Field(
        default=False,
        description=(
            "Let webhook endpoints be loopback, private, link-local or other non-public "
            "addresses (off: such URLs are refused when saved and every connection to such "
            "an address is refused, against SSRF). Only for development and tests."
        ),
    )
    webhook_concurrency: int = Field(
        default=16,
        ge=0,
        le=256,
        description=(
            "Webhook requests one node sends at once (at most a quarter of them to one "
            "endpoint). 0: this node sends none; other nodes do."
        ),
    )
    webhook_per_vendor: int | None = Field(
        default=None,
        ge=1,
        le=256,
        description=(
            "Webhook requests one node sends at once to one vendor's endpoints together, so "
            "one vendor's slow endpoints cannot take every slot. Unset: half of "
            "`PASAR_WEBHOOK_CONCURRENCY` (never less than the per-endpoint quarter)."
        ),
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description=(
            "Bearer token `GET /metrics` requires (`Authorization: Bearer …`); 16+ "
            "characters. Unset: `/metrics` answers anyone who reaches it, so keep it off "
            "the public internet at the proxy."
        ),
    )
    api_docs: bool = Field(
        default=True,
        description=(
            "Serve Swagger UI at `/docs` (from the installed package, no CDN; a strict "
            "Content-Security-Policy). Off: `/docs` is 404; `/openapi.json` stays."
        ),
    )
    shutdown_grace_seconds: int = Field(
        default=15, ge=0, description="How long `pasar serve` lets requests finish on SIGTERM."
    )
    keep_alive_seconds: int = Field(
        default=75,
        ge=1,
        description=(
            "How long `pasar serve` keeps an idle HTTP connection open for the next request. "
            "Keep it longer than the idle timeout of whatever reuses connections to Pasar "
            "(nginx's upstream `keepalive_timeout` and load balancers: 60 s by default), so "
            "that side always closes first: a request sent as Pasar closes the connection "
            "gets no answer (a 502, or an error in the client)."
        ),
    )

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and len(v.get_secret_value()) < 16:
            raise ValueError("PASAR_METRICS_TOKEN must be at least 16 characters")
        return v

    @field_validator("hls_ladder")
    @classmethod
    def _ladder(cls, v: str) -> str:
        rungs = [f"{h}p" for h in parse_ladder(v)]
        return ",".join(rungs + ([LADDER_AUDIO] if ladder_has_audio(v) else []))

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: str) -> str:
        import ipaddress

        entries = [e.strip() for e in v.split(",") if e.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"PASAR_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR "
                    "(list the proxies' addresses; '*' would let any client pick its address)"
                ) from None
        return ",".join(entries)

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, v: str | None) -> str | None:
        return v.rstrip("/") if v else None

    @model_validator(mode="after")
    def _check_media_server(self) -> Self:
        templates = {
            "media_server_hls_url": {"show_id"},
            "media_server_rtmp_url": {"show_id", "stream_key"},
            "media_server_whip_url": {"show_id"},
        }
        for name, allowed in templates.items():
            value = getattr(self, name)
            if value is None:
                continue
            try:
                url_templates.placeholders(value, allowed)
            except ValueError as exc:
                raise ValueError(f"PASAR_{name.upper()}: {exc}") from exc
        if self.media_server == "builtin":
            return self
        if not self.media_server_hls_url or "{show_id}" not in self.media_server_hls_url:
            raise ValueError(
                f"PASAR_MEDIA_SERVER={self.media_server} needs PASAR_MEDIA_SERVER_HLS_URL "
                "with {show_id}"
            )
        secret = self.media_hook_secret.get_secret_value() if self.media_hook_secret else ""
        if len(secret) < 16:
            raise ValueError(
                f"PASAR_MEDIA_SERVER={self.media_server} needs PASAR_MEDIA_HOOK_SECRET "
                "(16+ characters)"
            )
        return self

    @model_validator(mode="after")
    def _check_storage(self) -> Self:
        for name in ("s3_endpoint", "s3_public_url"):
            value = getattr(self, name)
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError(f"PASAR_{name.upper()} must be an http(s) URL, not {value!r}")
        if self.storage != "s3":
            return self
        required = ("s3_endpoint", "s3_bucket", "s3_access_key_id", "s3_secret_access_key")
        missing = [f"PASAR_{name.upper()}" for name in required if not getattr(self, name)]
        if missing:
            raise ValueError(f"PASAR_STORAGE=s3 needs {', '.join(missing)}")
        return self

    @property
    def guest_token_lifetime_s(self) -> int:
        return self.guest_token_days * 86_400

    @property
    def hls_ladder_heights(self) -> list[int]:
        """The ladder's rung heights, tallest first."""
        return parse_ladder(self.hls_ladder)

    @property
    def hls_ladder_audio(self) -> bool:
        """Whether shows get the audio-only rendition."""
        return ladder_has_audio(self.hls_ladder)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [e for e in self.trusted_proxies.split(",") if e]

    @property
    def resolved_public_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'pasar.db').resolve()}"

    @property
    def resolved_media_dir(self) -> Path:
        return (self.media_dir or self.data_dir / "media").resolve()

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.resolved_public_url.startswith("https://")

    def resolved_secret_key(self) -> str:
        """The configured secret, or one generated once and kept in the data dir."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        import secrets

        from pasar.private_files import create_private

        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        if not create_private(path, key.encode()):  # another process made it first
            return path.read_text().strip()
        return key
