"""Is a port free, does it answer, and if someone else holds it, who."""

import os
import socket
from pathlib import Path

from .console import DevstackError

LOOPBACK = "127.0.0.1"
_TCP_LISTEN_STATE = "0A"


def is_free(port: int) -> bool:
    # SO_REUSEADDR: a port left in TIME_WAIT by a server we just stopped is free to the
    # next server (they all set it too); only a live listener makes the bind fail.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def answers(port: int, timeout_seconds: float = 1.0) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout_seconds):
            return True
    except OSError:
        return False


def require_free(port: int, purpose: str, setting: str) -> None:
    if is_free(port):
        return
    holder = _listener_description(port)
    held_by = f" by {holder}" if holder else " by another program"
    raise DevstackError(
        f"port {port} ({purpose}) on {LOOPBACK} is already in use{held_by}, not by this "
        f"stack. Stop that program or pick another port, e.g. `{setting}={port + 1000} make ...`"
    )


def _listener_description(port: int) -> str | None:
    """Best effort via /proc (Linux): another user's processes are hidden unless root."""
    inodes = _listening_socket_inodes(port)
    if not inodes:
        return None
    for process_dir in Path("/proc").glob("[0-9]*"):
        try:
            for fd in (process_dir / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    raw = (process_dir / "cmdline").read_bytes()
                    command = raw.replace(b"\0", b" ").decode(errors="replace").strip()
                    return f"pid {process_dir.name} ({command[:120]})"
        except OSError:
            continue
    return None


def _listening_socket_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == _TCP_LISTEN_STATE:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes
