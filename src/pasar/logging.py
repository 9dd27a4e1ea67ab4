"""structlog set-up: readable in a terminal, JSON for log collectors."""

from __future__ import annotations

import logging

import structlog
from websockets.frames import Frame

from pasar.settings import Settings

# uvicorn names the path with its query string in its WebSocket lines (INFO) and
# access lines; a query may carry a token (older clients sent `?guest=`). At
# DEBUG it also logs each WebSocket frame, and the first one carries credentials.
_URL_LOGGERS = ("uvicorn.error", "uvicorn.access")


class _NoQueryStrings(logging.Filter):
    """Cut the query string off every path uvicorn logs; hide auth frames."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_redacted(a) for a in record.args)
        return True


def _redacted(value: object) -> object:
    if isinstance(value, str) and value.startswith("/") and "?" in value:
        return value.partition("?")[0] + "?[query not logged]"
    if isinstance(value, Frame) and b'"auth"' in value.data:
        return f"{value.opcode.name} [an auth frame, {len(value.data)} bytes, not logged]"
    return value


def keep_queries_out_of_logs() -> None:
    """Idempotent: ``configure`` and ``create_app`` both call it."""
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoQueryStrings) for f in logger.filters):
            logger.addFilter(_NoQueryStrings())


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
    keep_queries_out_of_logs()
    # Alembic narrates every migration step at INFO, aioice every ICE pair check,
    # httpx every request the broadcaster makes; operators need only problems.
    for name in ("alembic", "aioice", "aiortc", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
