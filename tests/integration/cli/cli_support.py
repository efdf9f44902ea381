"""Run the real ``aftercare`` console script against a stack the test started."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
AFTERCARE = Path(sys.executable).parent / "aftercare"
CLI_TIMEOUT_SECONDS = 90


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class AftercareCli:
    """The installed console script, with the settings of one test stack."""

    env: dict[str, str]
    calls: list[list[str]] = field(default_factory=list)

    async def __call__(self, *args: str) -> CliResult:
        self.calls.append(list(args))
        completed = await asyncio.to_thread(
            subprocess.run,  # the real command, as an operator runs it
            [str(AFTERCARE), *args],
            cwd=REPO_ROOT,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
            check=False,
        )
        return CliResult(completed.returncode, completed.stdout, completed.stderr)

    async def ok_json(self, *args: str) -> Any:
        result = await self(*args, "--json")
        assert result.exit_code == 0, f"aftercare {' '.join(args)} failed: {result}"
        return result.json
