"""``aftercare outbox status``, ``aftercare consumers lag``, ``aftercare stack status``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aftercare_cli.guard import config_or_exit, failures_exit, run_async, services_named
from aftercare_cli.output import JSON_OPTION_HELP, emit_json, table
from aftercare_shared.names import SERVICE_NAMES

if TYPE_CHECKING:
    from aftercare_cli.config import OpsConfig
    from aftercare_cli.database import OutboxStatus

# The Kafka, Postgres and HTTP clients are imported inside the commands that use them:
# each command then starts without loading the others' clients.

JsonOption = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]
ServiceOption = Annotated[
    list[str] | None,
    typer.Option("--service", "-s", help="only this service (repeatable); default: all"),
]

outbox_app = typer.Typer(help="The services' transactional outboxes.", no_args_is_help=True)
consumers_app = typer.Typer(help="The services' Kafka consumer groups.", no_args_is_help=True)
stack_app = typer.Typer(help="The running system as a whole.", no_args_is_help=True)


@outbox_app.command("status")
def outbox_status_command(service: ServiceOption = None, as_json: JsonOption = False) -> None:
    """Backlog, oldest unpublished event and relay leader, per service."""
    from aftercare_cli.database import outbox_status

    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        url = config.common.sync_database_url
        chosen = services_named(service)

        async def all_statuses() -> list[OutboxStatus]:
            return [await outbox_status(url, s) for s in chosen]

        statuses = run_async(all_statuses)
        if as_json:
            emit_json({"outboxes": [status.as_dict() for status in statuses]})
            return
        table(
            "outbox per service",
            ["service", "backlog", "oldest unpublished", "age s", "published", "relay leader"],
            [
                [
                    s.service.value,
                    s.backlog,
                    s.oldest_unpublished_at,
                    f"{s.oldest_unpublished_age_seconds:.1f}"
                    if s.oldest_unpublished_age_seconds is not None
                    else "",
                    s.published_total,
                    f"pid {s.relay_leader_pid} {s.relay_leader_application or ''}"
                    if s.relay_leader_pid
                    else "none",
                ]
                for s in statuses
            ],
        )


@consumers_app.command("lag")
def consumers_lag(
    service: ServiceOption = None,
    group: Annotated[
        list[str] | None,
        typer.Option("--group", help="this consumer group instead (repeatable)"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Committed offset, log end and lag per group, topic and partition."""
    from aftercare_cli.lag import group_lag

    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        groups = group or [config.consumer_group(s) for s in services_named(service)]
        lags = run_async(lambda: group_lag(config.common.kafka_bootstrap_servers, groups))
        totals = {g: sum(lag.lag for lag in lags if lag.group == g) for g in groups}
        if as_json:
            emit_json({"partitions": [lag.as_dict() for lag in lags], "total_lag": totals})
            return
        table(
            "consumer lag",
            ["group", "topic", "partition", "committed", "end", "lag"],
            [[x.group, x.topic, x.partition, x.committed, x.end, x.lag] for x in lags],
        )
        for name, total in totals.items():
            typer.echo(f"{name}: total lag {total}")


async def _stack_state(config: OpsConfig) -> dict[str, Any]:
    import httpx
    from aiokafka.admin import AIOKafkaAdminClient

    from aftercare_cli.database import connection

    services: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=3.0) as client:
        for service in SERVICE_NAMES:
            for replica, url in enumerate(config.service_urls(service), start=1):
                try:
                    answer = await client.get(f"{url}/readyz")
                    state = (
                        "ready"
                        if answer.status_code == 200
                        else f"not ready ({answer.status_code})"
                    )
                except httpx.HTTPError as error:
                    state = f"down ({type(error).__name__})"
                services.append(
                    {"service": service.value, "replica": replica, "url": url, "state": state}
                )
    kafka: dict[str, Any] = {"bootstrap_servers": config.common.kafka_bootstrap_servers}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.common.kafka_bootstrap_servers, request_timeout_ms=5000
    )
    try:
        await asyncio.wait_for(admin.start(), 10)
        cluster = await admin.describe_cluster()
        kafka["state"] = "up"
        kafka["brokers"] = _brokers(config.common.kafka_bootstrap_servers, cluster["brokers"])
        kafka["controller_id"] = cluster.get("controller_id")
    except Exception as error:  # any failure to reach Kafka is what the status reports
        kafka["state"] = f"down ({type(error).__name__}: {error})"
    finally:
        await admin.close()
    postgres: dict[str, Any] = {}
    try:
        async with connection(config.common.sync_database_url) as db:
            postgres["state"] = "up"
            postgres["version"] = await db.fetchval("SHOW server_version")
    except Exception as error:  # reported, not raised: this is a status
        postgres["state"] = f"down ({type(error).__name__}: {error})"
    return {"services": services, "kafka": kafka, "postgres": postgres}


def _brokers(bootstrap_servers: str, live: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The cluster's live brokers, and every configured bootstrap address that is not among
    them (a broker that is down drops out of the cluster's metadata)."""
    brokers = [
        {"node_id": b["node_id"], "address": f"{b['host']}:{b['port']}", "state": "up"}
        for b in sorted(live, key=lambda b: b["node_id"])
    ]
    seen = {b["address"] for b in brokers}
    for address in (a.strip() for a in bootstrap_servers.split(",")):
        if address and address not in seen:
            brokers.append({"node_id": None, "address": address, "state": "down"})
    return brokers


@stack_app.command("status")
def stack_status(as_json: JsonOption = False) -> None:
    """Every replica's /readyz, the Kafka brokers and Postgres; exits 1 when any is down."""
    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        state = run_async(lambda: _stack_state(config))
        healthy = (
            bool(state["services"])
            and all(s["state"] == "ready" for s in state["services"])
            and state["kafka"]["state"] == "up"
            and all(b["state"] == "up" for b in state["kafka"].get("brokers", []))
            and state["postgres"]["state"] == "up"
        )
        state["healthy"] = healthy
        if as_json:
            emit_json(state)
        else:
            rows = [
                [f"{s['service']} #{s['replica']}", s["state"], s["url"]] for s in state["services"]
            ]
            brokers = state["kafka"].get("brokers", [])
            if not brokers:
                rows.append(["kafka", state["kafka"]["state"], state["kafka"]["bootstrap_servers"]])
            controller = state["kafka"].get("controller_id")
            for broker in brokers:
                node = broker["node_id"]
                role = " (controller)" if node is not None and node == controller else ""
                name = f"kafka #{node}" if node is not None else "kafka"
                rows.append([name, broker["state"], broker["address"] + role])
            rows.append(["postgres", state["postgres"]["state"], state["postgres"].get("version")])
            table("stack", ["part", "state", "where"], rows)
        if not healthy:
            raise typer.Exit(1)
