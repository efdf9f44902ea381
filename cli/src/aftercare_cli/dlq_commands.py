"""``aftercare dlq list|show|replay``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from aftercare_cli.guard import (
    config_or_exit,
    failures_exit,
    parse_since,
    run_async,
    services_named,
)
from aftercare_cli.output import JSON_OPTION_HELP, CommandFailedError, emit_json, progress, table
from aftercare_shared.names import ServiceName

if TYPE_CHECKING:
    from aftercare_cli.config import OpsConfig
    from aftercare_cli.dead_letters import DeadLetter, DeadLetterFilter

# Kafka and Postgres clients (via dead_letters and database) are imported inside the
# commands: `aftercare dlq --help` starts without them.

app = typer.Typer(help="Dead letters: list them, look at one, put them back.", no_args_is_help=True)

ServiceOption = Annotated[
    list[str] | None,
    typer.Option("--service", "-s", help="only this service's DLQ (repeatable); default: all"),
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="only dead letters since this time (ISO 8601) or age (15m, 2h, 3d)"),
]
TypeOption = Annotated[
    str | None,
    typer.Option("--type", help="only this event type (ticket.created or its full name)"),
]
GroupOption = Annotated[
    str | None, typer.Option("--group", help="only dead letters of this consumer group")
]
JsonOption = Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)]


def _read(
    config: OpsConfig,
    services: list[ServiceName],
    selection: DeadLetterFilter,
    *,
    quiet: bool,
) -> list[DeadLetter]:
    from aftercare_cli.dead_letters import read_dead_letters

    with progress("reading dead letters", total=None, quiet=quiet) as advance:
        state: dict[str, Any] = {}

        def on_total(total: int) -> None:
            state["total"] = total

        return run_async(
            lambda: read_dead_letters(
                config.common.kafka_bootstrap_servers,
                services,
                selection,
                on_total=on_total,
                on_read=advance,
            )
        )


@app.command("list")
def list_dead_letters(
    service: ServiceOption = None,
    since: SinceOption = None,
    event_type: TypeOption = None,
    group: GroupOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show dead letters with the error that sent each one there."""
    from aftercare_cli.dead_letters import DeadLetterFilter

    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        selection = DeadLetterFilter(parse_since(since), event_type, group)
        letters = _read(config, services_named(service), selection, quiet=as_json)
        if as_json:
            emit_json({"dead_letters": [letter.summary() for letter in letters]})
            return
        table(
            f"{len(letters)} dead letter(s)",
            ["position", "at", "type", "subject", "group", "error", "tries", "replays"],
            [
                [
                    letter.position,
                    letter.dead_lettered_at.strftime("%Y-%m-%d %H:%M:%S"),
                    letter.event_type,
                    letter.subject,
                    letter.consumer_group,
                    _short_error(s["error_class"], s["error_message"]),
                    s["attempts"],
                    letter.replay_count,
                ]
                for letter in letters
                for s in [letter.summary()]
            ],
        )


@app.command("show")
def show_dead_letter(
    position: Annotated[
        str, typer.Argument(help="<dlq topic>/<partition>/<offset>, as `dlq list` prints it")
    ],
    as_json: JsonOption = False,
) -> None:
    """Show one dead letter: every header and the event itself."""
    from aftercare_cli.dead_letters import DeadLetterFilter

    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        topic, partition, offset = _parse_position(position)
        service = ServiceName(topic.split(".")[1])
        letters = _read(config, [service], DeadLetterFilter(), quiet=True)
        found = [
            letter
            for letter in letters
            if letter.dlq_topic == topic
            and letter.partition == partition
            and letter.offset == offset
        ]
        if not found:
            raise CommandFailedError(f"no dead letter at {position}")
        detail = found[0].detail()
        if as_json:
            emit_json(detail)
            return
        table(
            position,
            ["field", "value"],
            [[name, value] for name, value in detail.items() if name not in ("headers", "value")]
            + [[f"header {name}", value] for name, value in detail["headers"].items()]
            + [["value", detail["value"]]],
        )


def _short_error(error_class: str | None, message: str | None) -> str:
    """One line for the table; `dlq show` has the whole message."""
    name = (error_class or "?").rsplit(".", 1)[-1]
    first_line = (message or "").strip().splitlines()[0] if message else ""
    return f"{name}: {first_line[:_ERROR_CHARS_SHOWN]}"


_ERROR_CHARS_SHOWN = 90


def _parse_position(position: str) -> tuple[str, int, int]:
    topic, _, rest = position.partition("/")
    partition, _, offset = rest.partition("/")
    if not (topic.endswith(".dlq") and partition.isdigit() and offset.isdigit()):
        raise CommandFailedError(
            f"{position!r} is not <dlq topic>/<partition>/<offset> (e.g. aftercare.sla.dlq/0/12)"
        )
    return topic, int(partition), int(offset)


@app.command("replay")
def replay_dead_letters(
    service: ServiceOption = None,
    since: SinceOption = None,
    event_type: TypeOption = None,
    group: GroupOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="say what would be replayed; send nothing")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Put dead letters back on their source topic, once each, marked as replays.

    Events the failing consumer group has applied since (its inbox has them) are skipped;
    a record dead-lettered several times is sent once. A replay that fails again goes back
    to the DLQ, never round in a loop.
    """
    from aftercare_cli.dead_letters import DeadLetterFilter, latest_per_event, republish

    config = config_or_exit(as_json)
    with failures_exit(as_json=as_json):
        selection = DeadLetterFilter(parse_since(since), event_type, group)
        letters = latest_per_event(_read(config, services_named(service), selection, quiet=as_json))
        to_send, skipped = _split_applied(config, letters)
        if not dry_run and to_send:
            with progress("replaying", total=len(to_send), quiet=as_json) as advance:
                run_async(
                    lambda: republish(
                        config.common.kafka_bootstrap_servers, to_send, on_sent=advance
                    )
                )
        result = {
            "dry_run": dry_run,
            "replayed" if not dry_run else "would_replay": [letter.summary() for letter in to_send],
            "skipped": skipped,
        }
        if as_json:
            emit_json(result)
            return
        verb = "would replay" if dry_run else "replayed"
        table(
            f"{verb} {len(to_send)} dead letter(s); skipped {len(skipped)}",
            ["position", "type", "subject", "to topic", "outcome"],
            [[x.position, x.event_type, x.subject, x.source_topic, verb] for x in to_send]
            + [[s["position"], s["event_type"], s["subject"], "", s["reason"]] for s in skipped],
        )


def _split_applied(
    config: OpsConfig, letters: list[DeadLetter]
) -> tuple[list[DeadLetter], list[dict[str, Any]]]:
    """Letters still worth sending, and the rest with the reason they are not."""
    to_send: list[DeadLetter] = []
    skipped: list[dict[str, Any]] = []
    applied: dict[tuple[str, str], set[str]] = {}
    for letter in letters:
        if letter.event_id is None or letter.source_topic is None:
            reason = "not a CloudEvent: fix the producer; replaying cannot help"
            skipped.append({**letter.summary(), "reason": reason})
            continue
        service, group = letter.service, letter.consumer_group
        if service is None or group is None:
            skipped.append({**letter.summary(), "reason": "no dlq-service/dlq-consumer-group"})
            continue
        key = (service, group)
        if key not in applied:
            ids = [
                x.event_id
                for x in letters
                if (x.service, x.consumer_group) == key and x.event_id is not None
            ]
            applied[key] = _applied(config, ServiceName(service), group, ids)
        if letter.event_id in applied[key]:
            skipped.append({**letter.summary(), "reason": "already applied (in the inbox)"})
        else:
            to_send.append(letter)
    return to_send, skipped


def _applied(config: OpsConfig, service: ServiceName, group: str, event_ids: list[str]) -> set[str]:
    from aftercare_cli.database import applied_event_ids

    url = config.common.sync_database_url
    return run_async(lambda: applied_event_ids(url, service, group, event_ids))
