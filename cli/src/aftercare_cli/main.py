"""The ``aftercare`` command: one Typer app with a sub-command per concern.

Sub-command groups are imported only when they run: their modules pull in Kafka, Postgres
and HTTP clients, and `aftercare --help` (or one light command) must not pay for all of
them. Inside each group module the heavy libraries are imported by the commands that use
them, for the same reason.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup
from typer.main import get_command, get_group

# name → (module, Typer attribute, the one-line help `aftercare --help` shows without
# importing the module).
_GROUPS: dict[str, tuple[str, str, str]] = {
    "dlq": (
        "aftercare_cli.dlq_commands",
        "app",
        "Dead letters: list them, look at one, put them back.",
    ),
    "replay": (
        "aftercare_cli.replay_command",
        "app",
        "Re-deliver a topic's records to one service's consumer (rebuild a read model).",
    ),
    "outbox": ("aftercare_cli.ops_commands", "outbox_app", "The services' transactional outboxes."),
    "consumers": (
        "aftercare_cli.ops_commands",
        "consumers_app",
        "The services' Kafka consumer groups.",
    ),
    "keys": ("aftercare_cli.access_commands", "keys_app", "Client API keys (intake)."),
    "staff-tokens": (
        "aftercare_cli.access_commands",
        "staff_tokens_app",
        "Signed staff tokens (intake; admin only).",
    ),
    "stack": ("aftercare_cli.ops_commands", "stack_app", "The running system as a whole."),
}

_SINGLE_COMMANDS = frozenset({"replay"})


class _LazyGroups(TyperGroup):
    """Lists every group from :data:`_GROUPS`; imports one only to run it or show its help."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *_GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in _GROUPS:
            return super().get_command(ctx, cmd_name)
        module_name, attribute, short_help = _GROUPS[cmd_name]
        if self._listing:
            # The top-level help needs a name and one line, not the command itself.
            return typer.core.TyperCommand(name=cmd_name, help=short_help)
        typer_app = getattr(importlib.import_module(module_name), attribute)
        # `aftercare replay` is one command; the others are groups even with one command.
        command = get_command(typer_app) if cmd_name in _SINGLE_COMMANDS else get_group(typer_app)
        command.name = cmd_name
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="aftercare",
    cls=_LazyGroups,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def aftercare() -> None:
    """Operate Aftercare: dead letters, replays, outboxes, consumer lag, keys, staff tokens,
    the stack. Reads the services' settings (AFTERCARE_*, <SERVICE>_URL) from the
    environment, then from .devstack/env. Every command takes --json and exits 1 on failure.
    """


def run() -> None:
    app()
