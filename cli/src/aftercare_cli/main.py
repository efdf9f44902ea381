"""The ``aftercare`` command: one Typer app with a sub-command per concern."""

from __future__ import annotations

import typer

from aftercare_cli.access_commands import keys_app, staff_tokens_app
from aftercare_cli.dlq_commands import app as dlq_app
from aftercare_cli.ops_commands import consumers_app, outbox_app, stack_app

app = typer.Typer(
    name="aftercare",
    help="Operate Aftercare: dead letters, outboxes, consumer lag, keys, staff tokens, the "
    "stack. Reads the services' settings (AFTERCARE_*, <SERVICE>_URL) from the environment, "
    "then from .devstack/env. Every command takes --json and exits 1 on failure.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(outbox_app, name="outbox")
app.add_typer(consumers_app, name="consumers")
app.add_typer(keys_app, name="keys")
app.add_typer(staff_tokens_app, name="staff-tokens")
app.add_typer(stack_app, name="stack")


def run() -> None:
    app()
