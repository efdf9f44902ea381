"""One way to answer: a rich table for people, ``--json`` for scripts, and errors that
exit non-zero in both."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
errors = Console(stderr=True)

JSON_OPTION_HELP = "print JSON for scripts instead of a table"


class CommandFailedError(Exception):
    """A command could not do what it was asked; its message is shown and it exits 1."""


def fail(message: str, *, as_json: bool, details: dict[str, Any] | None = None) -> NoReturn:
    if as_json:
        print(json.dumps({"error": message, **(details or {})}, default=str))
    else:
        errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(1)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    shown = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        # The first column names the row (a position, a service): never wrapped.
        shown.add_column(column, overflow="fold", no_wrap=index == 0)
    for row in rows:
        shown.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(shown)


@contextmanager
def progress(what: str, *, total: int | None, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr for long work; ``advance(n)`` moves it. Silent with --json."""
    if quiet:
        yield lambda _n: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )
    with bar:
        task = bar.add_task(what, total=total)
        yield lambda n: bar.advance(task, n)
