"""What the figures were measured on: they mean little without it."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

import asyncpg


def _first_value(path: Path, key: str) -> str | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        return None
    return None


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _wrk_version(wrk: str) -> str:
    completed = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False)
    # wrk prints "wrk <version> [epoll] Copyright …" first (and exits 1 after the usage).
    first_line = (completed.stdout or completed.stderr).splitlines()[0]
    return " ".join(first_line.split()[:2])


def describe_machine(wrk: str) -> dict[str, Any]:
    memory_kib = _first_value(Path("/proc/meminfo"), "MemTotal")
    memory_gib = int(memory_kib.split()[0]) / 1024 / 1024 if memory_kib else None
    return {
        "cpu_model": _first_value(Path("/proc/cpuinfo"), "model name") or platform.processor(),
        "logical_cpus": os.cpu_count(),
        "memory_gib": None if memory_gib is None else round(memory_gib, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": _wrk_version(wrk),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
    }


async def describe_postgres(libpq_url: str) -> dict[str, Any]:
    """Version and durability settings: ``fsync = off`` would flatter every write figure."""
    connection = await asyncpg.connect(libpq_url)
    try:
        return {
            "version": await connection.fetchval("SHOW server_version"),
            "fsync": await connection.fetchval("SHOW fsync"),
            "synchronous_commit": await connection.fetchval("SHOW synchronous_commit"),
            "shared_buffers": await connection.fetchval("SHOW shared_buffers"),
        }
    finally:
        await connection.close()
