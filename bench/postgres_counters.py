"""What a load run asked of Postgres, counted: write transactions and WAL bytes (issue 13).

Why: on the shared two-core machine the CPU per report moves with the load average (a
starved Postgres spends more CPU on the same work: lock waits, cache misses), so two runs
of the same code differ by as much as a change does. Counts do not: how many transactions
that wrote (each took a transaction id: every commit that must reach the WAL) and how many
bytes of WAL the run wrote, per report. Both are cluster-wide and exact at any instant —
the next transaction id (``pg_current_snapshot``'s xmax, read without taking one) and the
WAL insert position — unlike ``pg_stat_database`` and ``pg_stat_wal``, which backends
flush up to seconds late.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

_READ = """
    SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next_xid,
           pg_current_wal_insert_lsn() - '0/0'::pg_lsn AS wal_position
"""


@dataclass(frozen=True, slots=True)
class PostgresCounters:
    write_transactions: int
    wal_bytes: int

    def since(self, before: PostgresCounters) -> PostgresCounters:
        return PostgresCounters(
            self.write_transactions - before.write_transactions,
            self.wal_bytes - before.wal_bytes,
        )


async def read_counters(libpq_url: str) -> PostgresCounters:
    connection = await asyncpg.connect(libpq_url)
    try:
        row = await connection.fetchrow(_READ)
    finally:
        await connection.close()
    assert row is not None
    return PostgresCounters(int(row["next_xid"]), int(row["wal_position"]))
