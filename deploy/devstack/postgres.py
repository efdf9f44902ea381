"""The stack's own Postgres cluster: initdb once, start with pg_ctl, create the database.

Postgres will not run as root, so when devstack runs as root (CI, containers) the cluster
belongs to the `postgres` system user and its tools run through runuser.
"""

import hashlib
import os
import pwd
import re
import tempfile
from pathlib import Path

from . import ports
from .commands import as_user, run
from .console import DevstackError, step, tail
from .processes import is_running
from .profiles import Profile

POSTGRES_OS_USER = "postgres"
DATABASE_SUPERUSER = "postgres"
PG_BIN_SETTING = "AFTERCARE_PG_BIN"
_SERVER_TOOLS = ("initdb", "pg_ctl", "psql", "createdb")
# sockaddr_un.sun_path holds 108 bytes on Linux, including the trailing NUL.
_MAX_SOCKET_PATH = 107


def find_bin_dir() -> Path:
    override = os.environ.get(PG_BIN_SETTING, "").strip()
    candidates = [Path(override)] if override else _default_bin_dirs()
    for candidate in candidates:
        if all((candidate / tool).is_file() for tool in _SERVER_TOOLS):
            return candidate
    where = override or "PATH, /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin"
    raise DevstackError(
        f"PostgreSQL server tools ({', '.join(_SERVER_TOOLS)}) not found in {where}. Install "
        f"them (Debian/Ubuntu: `apt-get install -y postgresql`) or set {PG_BIN_SETTING} to "
        f"their folder."
    )


def _default_bin_dirs() -> list[Path]:
    on_path = [Path(entry) for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
    # Debian keeps the server tools off PATH, one folder per major version: newest first.
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0,
        reverse=True,
    )
    return [*on_path, *debian, Path("/usr/local/pgsql/bin")]


def _data_dir(profile: Profile) -> Path:
    return profile.postgres_dir / "data"


def _log_file(profile: Profile) -> Path:
    return profile.logs_dir / "postgres.log"


def _socket_dir(profile: Profile) -> Path:
    preferred = profile.postgres_dir / "run"
    if len(str(preferred / f".s.PGSQL.{profile.pg_port}")) <= _MAX_SOCKET_PATH:
        return preferred
    # A deep checkout would overflow the socket path; a short, stable folder stands in.
    digest = hashlib.sha256(str(profile.postgres_dir).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"aftercare-pg-{digest}"


def _os_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        raise DevstackError(
            "running as root, but there is no `postgres` system user to run Postgres as "
            "(Postgres refuses root). Install the postgresql package, which creates it, or "
            "run make as an ordinary user."
        ) from None
    return POSTGRES_OS_USER


def running_port(profile: Profile) -> int | None:
    """The port this profile's cluster listens on, or None when it is not running."""
    try:
        lines = (_data_dir(profile) / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return None
    # A crash leaves postmaster.pid behind; its pid may since belong to something else.
    return port if is_running(pid, "postgres") else None


def ensure_running(profile: Profile) -> None:
    port_in_use = running_port(profile)
    if port_in_use is not None:
        _refuse_moved_port(profile, port_in_use)
        step(f"Postgres already running on 127.0.0.1:{port_in_use}")
        return
    ports.require_free(profile.pg_port, "Postgres", profile.setting_name("PG_PORT"))
    bin_dir = find_bin_dir()
    user = _os_user()
    _prepare_folders(profile, user)
    if not (_data_dir(profile) / "PG_VERSION").exists():
        _initdb(profile, bin_dir, user)
    _refuse_other_major_version(profile, bin_dir)
    _write_settings(profile)
    step(f"starting Postgres on 127.0.0.1:{profile.pg_port}…")
    start = as_user(
        user,
        [
            str(bin_dir / "pg_ctl"),
            "start",
            "--wait",
            "--timeout=60",
            "--silent",
            f"--pgdata={_data_dir(profile)}",
            f"--log={_log_file(profile)}",
        ],
    )
    try:
        run(start, what="starting Postgres")
    except DevstackError as failure:
        server_log = tail(_log_file(profile).read_text(errors="replace"))
        raise DevstackError(
            f"{failure}\n--- last lines of {_log_file(profile)} ---\n{server_log}"
        ) from failure


def _refuse_moved_port(profile: Profile, port_in_use: int) -> None:
    if port_in_use != profile.pg_port:
        raise DevstackError(
            f"this stack's Postgres already runs on port {port_in_use}, but "
            f"{profile.setting_name('PG_PORT')} asks for {profile.pg_port}: "
            f"stop it first (`make down`)"
        )


def _prepare_folders(profile: Profile, user: str | None) -> None:
    log_file = _log_file(profile)
    for folder in (profile.postgres_dir, _socket_dir(profile), log_file.parent):
        folder.mkdir(parents=True, exist_ok=True)
    log_file.touch()
    if user is None:
        return
    owner = pwd.getpwnam(user)
    for path in (profile.postgres_dir, _socket_dir(profile), log_file):
        os.chown(path, owner.pw_uid, owner.pw_gid)
    reachable = run(
        as_user(user, ["test", "-w", str(profile.postgres_dir)]),
        what="checking folder permissions",
        check=False,
    )
    if reachable.returncode != 0:
        raise DevstackError(
            f"the `{user}` user cannot write to {profile.postgres_dir}. Postgres refuses "
            f"root, so it runs as `{user}`, which needs search (x) permission on every "
            f"parent folder of the checkout: e.g. `chmod o+x` them, or clone elsewhere."
        )


def _initdb(profile: Profile, bin_dir: Path, user: str | None) -> None:
    step(f"creating a Postgres cluster in {_data_dir(profile)} (first run only)…")
    # Trust on loopback only: the server listens on 127.0.0.1 and a local socket in
    # the state folder; this is a throwaway development cluster.
    run(
        as_user(
            user,
            [
                str(bin_dir / "initdb"),
                f"--pgdata={_data_dir(profile)}",
                f"--username={DATABASE_SUPERUSER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-instructions",
            ],
        ),
        what="initdb",
    )
    config = _data_dir(profile) / "postgresql.conf"
    with config.open("a") as appended:
        appended.write("\ninclude 'devstack.conf'\n")


def _refuse_other_major_version(profile: Profile, bin_dir: Path) -> None:
    cluster_version = (_data_dir(profile) / "PG_VERSION").read_text().strip()
    reported = run([bin_dir / "pg_ctl", "--version"], what="pg_ctl --version").stdout
    match = re.search(r"(\d+)", reported)
    if match and match.group(1) != cluster_version:
        raise DevstackError(
            f"the cluster in {_data_dir(profile)} was made by PostgreSQL {cluster_version} "
            f"but {bin_dir} is {match.group(1)}: remove it with `make clean`"
        )


def _write_settings(profile: Profile) -> None:
    # Rewritten at each start so a changed port or profile setting takes effect.
    settings = [
        f"port = {profile.pg_port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{_socket_dir(profile)}'",
        "max_connections = 300",
    ]
    if not profile.durable_postgres:
        # Test data is thrown away; skipping fsync makes schema-per-test setups fast.
        settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    settings_file = _data_dir(profile) / "devstack.conf"
    settings_file.write_text("\n".join(settings) + "\n")
    os.chown(settings_file, *_data_dir_owner(profile))


def _data_dir_owner(profile: Profile) -> tuple[int, int]:
    status = _data_dir(profile).stat()
    return status.st_uid, status.st_gid


def ensure_database(profile: Profile) -> None:
    bin_dir = find_bin_dir()
    server = [
        "--host=127.0.0.1",
        f"--port={profile.pg_port}",
        f"--username={DATABASE_SUPERUSER}",
    ]
    listing = run(
        [bin_dir / "psql", "--no-psqlrc", *server, "--list", "--tuples-only", "--no-align"],
        what="listing databases",
    )
    names = {line.split("|", 1)[0] for line in listing.stdout.splitlines()}
    if profile.database_name in names:
        step(f"database {profile.database_name} exists")
        return
    step(f"creating database {profile.database_name}…")
    run(
        [bin_dir / "createdb", *server, profile.database_name],
        what=f"creating database {profile.database_name}",
    )


def stop(profile: Profile) -> None:
    port = running_port(profile)
    if port is None:
        return
    step(f"stopping Postgres on 127.0.0.1:{port}…")
    run(
        as_user(
            _os_user(),
            [
                str(find_bin_dir() / "pg_ctl"),
                "stop",
                "--wait",
                "--timeout=60",
                "--silent",
                "--mode=fast",
                f"--pgdata={_data_dir(profile)}",
            ],
        ),
        what="stopping Postgres",
    )
