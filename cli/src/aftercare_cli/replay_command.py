"""``aftercare replay --topic T (--from-offset N | --since TIME) --to-service S``.

Rewinds the service's consumer group on the topic (see :mod:`aftercare_cli.group_replay`
for the design and its guarantees). Kafka and Postgres clients are imported inside the
command, so `aftercare --help` does not load them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aftercare_cli.guard import config_or_exit, failures_exit, parse_since, run_async
from aftercare_cli.output import JSON_OPTION_HELP, CommandFailedError, emit_json, progress, table
from aftercare_shared.names import SERVICE_NAMES, ServiceName

app = typer.Typer()

# Kafka's states for a group nobody consumes in: its offsets may be moved.
_IDLE_GROUP_STATES = ("Empty", "Dead")


@app.command(no_args_is_help=True)
def replay(
    topic: Annotated[str, typer.Option("--topic", help="the topic to read again")],
    to_service: Annotated[
        str,
        typer.Option(
            "--to-service",
            help="the service whose consumer group reads it again: "
            + ", ".join(s.value for s in SERVICE_NAMES),
        ),
    ],
    from_offset: Annotated[
        int | None,
        typer.Option("--from-offset", min=0, help="from this offset in every partition"),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="from the first record at this time (ISO 8601) or age (15m, 2h)"),
    ] = None,
    reapply: Annotated[
        bool,
        typer.Option(
            "--reapply",
            help="forget the group's inbox rows for these events first, so events it already "
            "applied are applied once more (rebuilding a read model a handler now fills "
            "differently); without it only events missing from the inbox are applied",
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="show what would be re-delivered; change nothing")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)] = False,
) -> None:
    """Re-deliver a topic's records to one service by rewinding its consumer group.

    Stop the service first (every replica): Kafka moves only an idle group's offsets. No
    record is copied and no other service sees anything again. On start-up the service
    reads the range in order; its inbox skips what it already applied, so running a replay
    twice applies nothing twice. Offsets only move back, never past unapplied records.
    """
    from aftercare_cli.database import applied_event_ids, forget_applied
    from aftercare_cli.group_replay import (
        ReplayStart,
        event_ids_in_range,
        group_members,
        plan_replay,
        rewind,
    )

    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        if (from_offset is None) == (since is None):
            raise CommandFailedError("give exactly one of --from-offset and --since")
        try:
            service = ServiceName(to_service)
        except ValueError:
            known = ", ".join(s.value for s in SERVICE_NAMES)
            raise CommandFailedError(f"unknown service {to_service!r} (one of {known})") from None
        start = ReplayStart(offset=from_offset, since=parse_since(since))
        bootstrap = config.common.kafka_bootstrap_servers
        database = config.common.sync_database_url
        group = config.consumer_group(service)

        state, members = run_async(lambda: group_members(bootstrap, group))
        if state not in _IDLE_GROUP_STATES and not dry_run:
            raise CommandFailedError(
                f"consumer group {group} is {state} with {members} member(s): stop every "
                f"{service.value} replica first (Kafka moves only an idle group's offsets)"
            )
        plan = run_async(lambda: plan_replay(bootstrap, topic, group, start))
        with progress(f"reading {topic}", total=plan.records, quiet=as_json) as advance:
            event_ids = run_async(lambda: event_ids_in_range(bootstrap, plan, on_read=advance))
        applied = run_async(lambda: applied_event_ids(database, service, group, event_ids))
        forgotten = 0
        if not dry_run:
            if reapply:
                forgotten = run_async(lambda: forget_applied(database, service, group, event_ids))
            run_async(lambda: rewind(bootstrap, plan))
        distinct = set(event_ids)
        result: dict[str, Any] = {
            "dry_run": dry_run,
            "topic": topic,
            "service": service.value,
            "group": group,
            "group_state": state,
            "from": start.describe(),
            "reapply": reapply,
            "records": plan.records,
            "events": len(distinct),
            "already_applied": len(applied),
            "to_apply": len(distinct) if reapply else len(distinct - applied),
            "inbox_rows_forgotten": forgotten,
            "partitions": [p.as_dict() for p in plan.partitions],
        }
        if as_json:
            emit_json(result)
            return
        table(
            f"{'would rewind' if dry_run else 'rewound'} {group} on {topic} ({start.describe()})",
            ["partition", "committed", "new offset", "end", "records again"],
            [[p.partition, p.committed, p.new_offset, p.end, p.records] for p in plan.partitions],
        )
        typer.echo(
            f"{plan.records} record(s), {len(distinct)} event(s): {len(applied)} already "
            f"applied, {result['to_apply']} to apply when {service.value} starts"
            + (f"; {forgotten} inbox row(s) forgotten" if reapply and not dry_run else "")
        )
