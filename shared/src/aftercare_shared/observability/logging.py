"""Structured logs: one JSON object per line, carrying the trace id and service name."""

from __future__ import annotations

import logging
import sys

import orjson
import structlog

from aftercare_shared.observability.log_throttle import throttle_repeated_library_lines


def configure_logging(*, service: str, level: str = "INFO", log_format: str = "json") -> None:
    renderer: structlog.typing.Processor
    if log_format == "console":
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer(serializer=orjson.dumps)
    shared_processors: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared_processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.BytesLoggerFactory(sys.stdout.buffer)
        if log_format == "json"
        else structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # Libraries (uvicorn, aiokafka, alembic) log through stdlib; keep them quiet but visible.
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # A broker outage makes every client log every reconnect attempt: one line per kind
    # per window is enough to say so.
    throttle_repeated_library_lines()
