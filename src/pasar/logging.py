"""structlog set-up: readable in a terminal, JSON for log collectors."""

from __future__ import annotations

import logging

import structlog

from pasar.settings import Settings


def configure(settings: Settings) -> None:
    level = getattr(logging, settings.log_level.upper())
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=level, format="%(message)s")
    # Alembic narrates every migration step at INFO, aioice every ICE pair check,
    # httpx every request the broadcaster makes; operators need only problems.
    for name in ("alembic", "aioice", "aiortc", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
