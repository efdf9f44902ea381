"""A throwaway Postgres cluster a test owns, and may restart in immediate mode.

``pg_ctl restart -m immediate`` is what a crash looks like to the services: every backend
is killed at once, without a checkpoint, and the server runs crash recovery on start. A
test must not do that to the test stack's Postgres, which other tests share, so this
cluster has its own data folder, port and socket folder, and is deleted afterwards.

The server tools are found as ``make up`` finds them (``AFTERCARE_PG_BIN``, PATH, then
Debian's folders); as root they run as the ``postgres`` system user (Postgres refuses root).
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from deploy.devstack.commands import as_user
from deploy.devstack.console import DevstackError
from deploy.devstack.postgres import DATABASE_SUPERUSER, POSTGRES_OS_USER, find_bin_dir
from devkit.service_processes import free_port

START_TIMEOUT_SECONDS = 120


class ThrowawayPostgres:
    def __init__(self, bin_dir: Path, workdir: Path, user: str | None) -> None:
        self._bin_dir = bin_dir
        self._workdir = workdir
        self._user = user
        self.port = free_port()
        self.data_dir = workdir / "data"
        self.log_path = workdir / "postgres.log"

    @property
    def url(self) -> str:
        """The SQLAlchemy (asyncpg) URL of its ``postgres`` database."""
        return f"postgresql+asyncpg://{DATABASE_SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, timeout: float = START_TIMEOUT_SECONDS) -> None:
        subprocess.run(  # noqa: S603 - the Postgres tools found above, fixed arguments
            as_user(self._user, [str(self._bin_dir / argv[0]), *argv[1:]]),
            check=True,
            capture_output=True,
            timeout=timeout,
            cwd="/",  # the postgres user may not enter the checkout
        )

    def initdb(self) -> None:
        self._run(
            "initdb",
            f"--pgdata={self.data_dir}",
            f"--username={DATABASE_SUPERUSER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        with (self.data_dir / "postgresql.conf").open("a") as config:
            config.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self._workdir}'\nmax_connections = 300\n"
                # Crash recovery after an immediate restart replays the WAL either way;
                # skipping fsync only spares a busy machine's disk.
                "fsync = off\nfull_page_writes = off\n"
            )

    async def start(self) -> None:
        await asyncio.to_thread(
            self._run,
            "pg_ctl",
            "start",
            "--wait",
            f"--pgdata={self.data_dir}",
            f"--log={self.log_path}",
        )

    async def restart_immediately(self) -> None:
        """Kill every backend without a checkpoint and start again (crash recovery)."""
        await asyncio.to_thread(
            self._run,
            "pg_ctl",
            "restart",
            "--wait",
            "--mode=immediate",
            f"--pgdata={self.data_dir}",
            f"--log={self.log_path}",
        )

    async def stop(self) -> None:
        await asyncio.to_thread(
            self._run, "pg_ctl", "stop", "--wait", "--mode=immediate", f"--pgdata={self.data_dir}"
        )


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[ThrowawayPostgres]:
    """A running cluster, stopped and deleted when the block ends; skips the test when the
    Postgres server tools are not installed."""
    try:
        bin_dir = find_bin_dir()
    except DevstackError as missing:
        pytest.skip(str(missing))
    user = POSTGRES_OS_USER if os.geteuid() == 0 else None
    workdir = Path(tempfile.mkdtemp(prefix="aftercare-pg-"))
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(workdir, entry.pw_uid, entry.pw_gid)
        server = ThrowawayPostgres(bin_dir, workdir, user)
        await asyncio.to_thread(server.initdb)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
