"""The dotenv file a stack leaves behind for other tools: `set -a; . .devstack/env`."""

import os
import re
from collections.abc import Mapping
from pathlib import Path

_BARE_VALUE = re.compile(r"[A-Za-z0-9_.,:/@+=%-]*")


def _quoted(value: str) -> str:
    if _BARE_VALUE.fullmatch(value):
        return value
    if "'" not in value:
        return f"'{value}'"
    escaped = re.sub(r'(["\\$`])', r"\\\1", value)
    return f'"{escaped}"'


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    write_private_file(
        path, "".join(f"{name}={_quoted(value)}\n" for name, value in values.items())
    )


def write_private_file(path: Path, text: str) -> None:
    """Owner-only from the first byte (these files hold the admin token), and replaced
    whole so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".partial")
    staging.unlink(missing_ok=True)
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as private_file:
        private_file.write(text)
    staging.replace(path)
