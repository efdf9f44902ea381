"""Sample intake with py-spy while it is under load (``--profile``).

py-spy runs through ``uv tool run``, so it never enters the project's lockfile. The
profiled run is extra and unmeasured: sampling costs the server some CPU.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from bench.profile_summary import ProfileSummary, parse_collapsed, summarise

SAMPLING_RATE_PER_SECOND = 200


class ProfilerUnavailableError(RuntimeError):
    pass


# Where `make` installs uv when the machine has none (deploy/devstack/python_env.py).
_DEVSTACK_UV = Path(__file__).resolve().parents[1] / ".devstack" / "tools" / "bin" / "uv"


def py_spy_command(pid: int, *, seconds: float, output: Path) -> list[str]:
    uv = shutil.which("uv") or (str(_DEVSTACK_UV) if _DEVSTACK_UV.exists() else None)
    if uv is None:
        raise ProfilerUnavailableError(
            f"uv is neither on PATH nor at {_DEVSTACK_UV} (needed for `uv tool run py-spy`)"
        )
    return [
        uv,
        "tool",
        "run",
        "py-spy",
        "record",
        f"--pid={pid}",
        f"--duration={max(1, round(seconds))}",
        f"--rate={SAMPLING_RATE_PER_SECOND}",
        "--format=raw",
        f"--output={output}",
        # Without it py-spy pauses the process for every sample.
        "--nonblocking",
    ]


async def record_profile(pid: int, *, seconds: float, output: Path) -> ProfileSummary:
    process = await asyncio.create_subprocess_exec(
        *py_spy_command(pid, seconds=seconds, output=output),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    summary = await asyncio.to_thread(_summarise_file, output)
    if process.returncode != 0 or summary is None:
        raise ProfilerUnavailableError(
            f"py-spy failed ({process.returncode}): {stderr.decode(errors='replace')[-2000:]}"
        )
    return summary


def _summarise_file(output: Path) -> ProfileSummary | None:
    if not output.exists():
        return None
    with output.open() as lines:
        return summarise(parse_collapsed(lines))
