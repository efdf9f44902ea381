"""The peer baseline: the intake endpoint as a team would write it by hand.

Bare FastAPI on uvicorn, a pydantic body, one asyncpg ``INSERT`` per request into a table
shaped like intake's tickets — and nothing else: no authentication, no deduplication, no
outbox, no middleware. Its ``GET /ping`` is the HTTP ceiling (no database at all).

Run it as ``uvicorn --factory bench.peer_app:create_app`` with ``BENCH_PEER_DATABASE_URL``
(a libpq URL) and ``BENCH_PEER_POOL_SIZE`` set.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import asyncpg
from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

DATABASE_URL_SETTING = "BENCH_PEER_DATABASE_URL"
POOL_SIZE_SETTING = "BENCH_PEER_POOL_SIZE"
PEER_TABLE = "peer_reports"


def reports_table_ddl(table: str) -> list[str]:
    """A table like ``intake.tickets``: same columns and the same three indexes."""
    return [
        f"""
        CREATE TABLE {table} (
            id text PRIMARY KEY,
            client_id text NOT NULL,
            title text NOT NULL,
            description text,
            severity text NOT NULL,
            priority text NOT NULL,
            kind text,
            status text NOT NULL,
            fingerprint text NOT NULL,
            environment text,
            release text,
            stacktrace text,
            context jsonb,
            occurrences integer NOT NULL DEFAULT 1,
            first_seen_at timestamptz NOT NULL,
            last_seen_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL
        )
        """,
        f"CREATE UNIQUE INDEX {table}_open_fingerprint ON {table} (client_id, fingerprint)"
        " WHERE status IN ('new', 'triaged', 'in_progress', 'waiting_on_client')",
        f"CREATE INDEX {table}_client_created ON {table} (client_id, created_at, id)",
        f"CREATE INDEX {table}_created ON {table} (created_at, id)",
    ]


_PRIORITIES = {"critical": "P1", "high": "P2", "medium": "P3", "low": "P4"}

# The table name is a module constant, never input.
_INSERT = f"""
    INSERT INTO {PEER_TABLE} (
        id, client_id, title, description, severity, priority, kind, status, fingerprint,
        environment, release, stacktrace, context, first_seen_at, last_seen_at, created_at,
        updated_at
    )
    VALUES ($1, $2, $3, $4, $5, $6, $7, 'new', $8, $9, $10, $11, $12::jsonb,
            now(), now(), now(), now())
"""  # noqa: S608


class Report(BaseModel):
    title: str = Field(min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=20_000)
    severity: Literal["critical", "high", "medium", "low"]
    kind: str | None = Field(default=None, max_length=100)
    fingerprint: str = Field(min_length=1, max_length=200)
    environment: str | None = Field(default=None, max_length=100)
    release: str | None = Field(default=None, max_length=200)
    stacktrace: str | None = Field(default=None, max_length=200_000)
    context: dict[str, Any] | None = None


def create_app() -> FastAPI:
    database_url = os.environ[DATABASE_URL_SETTING]
    pool_size = int(os.environ.get(POOL_SIZE_SETTING, "10"))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sized like the services' SQLAlchemy pool: pool_size kept open, as many again
        # opened under load (aftercare_shared.db sets max_overflow=pool_size).
        pool = await asyncpg.create_pool(database_url, min_size=pool_size, max_size=2 * pool_size)
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(title="Aftercare bench peer", lifespan=lifespan)

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/reports", status_code=201)
    async def submit_report(report: Report, request: Request) -> dict[str, str]:
        ticket_id = str(uuid.uuid4())
        await request.app.state.pool.execute(
            _INSERT,
            ticket_id,
            "peer-client",
            report.title,
            report.description,
            report.severity,
            _PRIORITIES[report.severity],
            report.kind,
            report.fingerprint,
            report.environment,
            report.release,
            report.stacktrace,
            None if report.context is None else json.dumps(report.context),
        )
        return {"ticket_id": ticket_id}

    return app
