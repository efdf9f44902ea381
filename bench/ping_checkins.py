"""Check-ins per second through the ping URL: wrk against intake's ``/ping/{key}``.

``MONITORS`` heartbeat monitors of one client, pinged in turn (a check-in locks its
monitor's row, so one monitor pinged by every connection would measure that lock, not
intake). Each ping records a check-in, judges it and moves the monitor's timer, in one
transaction. Reported: check-ins/s, p99 and intake's CPU per check-in.
"""

from __future__ import annotations

import httpx

from bench.load_runs import LoadRun, load_server, warm_up
from bench.options import BenchOptions
from bench.report import TableRow, number
from bench.stack import BenchStack

MONITORS = 200
SCRIPT = "pings.lua"


async def _ping_keys(stack: BenchStack, client_id: str) -> list[str]:
    assert stack.intake is not None
    keys: list[str] = []
    async with httpx.AsyncClient(base_url=stack.intake.url, timeout=10.0) as http:
        for index in range(MONITORS):
            created = await http.post(
                "/v1/monitors",
                json={
                    "client_id": client_id,
                    "name": f"bench job {index}",
                    "slug": f"bench-{stack.run_tag}-{index}",
                    "kind": "heartbeat",
                    "schedule": {"type": "interval", "value": 1, "unit": "minute"},
                },
                headers=stack.admin_headers,
            )
            created.raise_for_status()
            keys.append(created.json()["ping_url"].rsplit("/ping/", 1)[1])
    return keys


async def measure_ping_checkins(
    stack: BenchStack, *, wrk: str, client_id: str, options: BenchOptions
) -> LoadRun:
    assert stack.intake is not None
    keys = await _ping_keys(stack, client_id)
    script_args = [stack.run_tag, *keys]
    await warm_up(wrk, stack.intake, script=SCRIPT, script_args=script_args, options=options)
    return await load_server(
        wrk,
        stack.intake,
        target="intake GET /ping/{key}",
        script=SCRIPT,
        script_args=script_args,
        options=options,
    )


def ping_rows(run: LoadRun) -> list[TableRow]:
    name = "11 routine checks"
    return [
        TableRow(
            name,
            f"check-ins/s through the ping URL ({MONITORS} monitors)",
            number(run.wrk.acknowledged_per_second),
        ),
        TableRow(name, "ping URL latency p99 ms", number(run.wrk.latency_p99_ms, 1)),
        TableRow(
            name,
            "intake CPU ms per check-in",
            number(run.server_cpu_ms_per_request, 3),
        ),
    ]
