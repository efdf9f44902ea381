"""The stack's own Postgres cluster: initdb once, start with pg_ctl, create the database.

Postgres will not run as root, so when devstack runs as root (CI, containers) the cluster
belongs to the `postgres` system user, lives where that user can reach it (see
pg_location) and its tools run through runuser.
"""

import os
import pwd
import re
import shutil
import stat
from contextlib import suppress
from pathlib import Path

from . import pg_location, ports
from .commands import as_user, run
from .console import DevstackError, step, tail, warn
from .pg_location import ClusterLocation
from .profiles import Profile

POSTGRES_OS_USER = "postgres"
DATABASE_SUPERUSER = "postgres"
PG_BIN_SETTING = "AFTERCARE_PG_BIN"
_SERVER_TOOLS = ("initdb", "pg_ctl", "psql", "createdb")
# The postgres user's tools run from here: the checkout may be a folder it cannot enter.
_NEUTRAL_CWD = Path("/")
# Appended to postgresql.conf once initdb succeeded; its absence marks an unfinished initdb.
_INCLUDE_LINE = "include 'devstack.conf'"


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


def data_dir(profile: Profile) -> Path:
    """Where this profile's cluster is, or would be made by the next start."""
    return pg_location.resolve(profile).data_dir


def log_file(profile: Profile) -> Path:
    return profile.logs_dir / "postgres.log"


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
    return pg_location.resolve(profile).running_port()


def ensure_running(profile: Profile) -> None:
    place = pg_location.resolve(profile)
    port_in_use = place.running_port()
    if port_in_use is not None:
        _refuse_moved_port(profile, port_in_use)
        step(f"Postgres already running on 127.0.0.1:{port_in_use}")
        return
    ports.require_free(profile.pg_port, "Postgres", profile.setting_name("PG_PORT"))
    bin_dir = find_bin_dir()
    user = _os_user()
    _prepare_folders(profile, place, user)
    _remove_unfinished_cluster(place)
    if not place.holds_cluster():
        _initdb(profile, place, bin_dir, user)
    _refuse_other_major_version(place, bin_dir)
    _write_settings(profile, place)
    step(f"starting Postgres on 127.0.0.1:{profile.pg_port} (data in {place.data_dir})…")
    start = as_user(
        user,
        [
            str(bin_dir / "pg_ctl"),
            "start",
            "--wait",
            "--timeout=60",
            "--silent",
            f"--pgdata={place.data_dir}",
        ],
    )
    # No --log: pg_ctl would open that path as the postgres user, who may not reach the
    # checkout. The server inherits a descriptor of .devstack/logs/postgres.log instead.
    server_log = log_file(profile)
    try:
        run(start, what="starting Postgres", cwd=_NEUTRAL_CWD, output_file=server_log)
    except DevstackError as failure:
        last_lines = tail(server_log.read_text(errors="replace"))
        raise DevstackError(
            f"{failure}\n--- last lines of {server_log} ---\n{last_lines}"
        ) from failure


def _refuse_moved_port(profile: Profile, port_in_use: int) -> None:
    if port_in_use != profile.pg_port:
        raise DevstackError(
            f"this stack's Postgres already runs on port {port_in_use}, but "
            f"{profile.setting_name('PG_PORT')} asks for {profile.pg_port}: "
            f"stop it first (`make down`)"
        )


def _prepare_folders(profile: Profile, place: ClusterLocation, user: str | None) -> None:
    server_log = log_file(profile)
    server_log.parent.mkdir(parents=True, exist_ok=True)
    server_log.touch()
    if place.external:
        _prepare_external_root(place, user)
    else:
        place.root.mkdir(parents=True, exist_ok=True)
    place.socket_dir.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    owner = pwd.getpwnam(user)
    for path in (place.root, place.socket_dir):
        os.chown(path, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    if place.external:
        return
    reachable = run(
        as_user(user, ["test", "-w", str(place.root)]),
        what="checking folder permissions",
        check=False,
        cwd=_NEUTRAL_CWD,
    )
    if reachable.returncode != 0:
        # Only a cluster made in the checkout before clusters of root moved out lands here.
        raise DevstackError(
            f"the `{user}` user cannot write to {place.root}, which holds this stack's "
            f"Postgres cluster. Postgres refuses root, so it runs as `{user}`, which needs "
            f"search (x) permission on every parent folder of the checkout: `chmod o+x` "
            f"them, or `make clean` to drop that cluster; the next start makes a new one "
            f"in {pg_location.EXTERNAL_BASE}/, which `{user}` can reach."
        )


def _prepare_external_root(place: ClusterLocation, user: str | None) -> None:
    """The per-checkout folder outside the checkout: a real folder (not a symlink), owned
    by the user that runs the cluster, mode 0700. Its parent is root's and 0755, so only
    root can have put anything at these names, and `user` can reach its own folder."""
    me = os.geteuid()
    place.root.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    _require_real_folder(place.root.parent, 0, me)
    place.root.mkdir(mode=0o700, exist_ok=True)
    if user is None:
        _require_real_folder(place.root, me)
    else:
        owner = pwd.getpwnam(user)
        found = _require_real_folder(place.root, me, owner.pw_uid)
        if found.st_uid != owner.pw_uid:
            # Just made by root (or left half-made by a killed run): hand it over.
            os.chown(place.root, owner.pw_uid, owner.pw_gid, follow_symlinks=False)
    os.chmod(place.root, 0o700)


def _require_real_folder(path: Path, *allowed_owners: int) -> os.stat_result:
    found = path.lstat()
    if not stat.S_ISDIR(found.st_mode) or found.st_uid not in allowed_owners:
        owners = ", ".join(_user_name(uid) for uid in sorted(set(allowed_owners)))
        raise DevstackError(
            f"{path} is not a folder owned by {owners} (it belongs to "
            f"{_user_name(found.st_uid)}): devstack will not keep a Postgres cluster there. "
            f"Remove it (`rm -rf {path}`) and start again."
        )
    return found


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _remove_unfinished_cluster(place: ClusterLocation) -> None:
    """An initdb killed half-way (SIGKILL, a full disk) leaves a data folder that neither
    starts nor lets initdb run again; devstack appends its include only after initdb."""
    if not place.data_dir.exists():
        return
    try:
        finished = _INCLUDE_LINE in (place.data_dir / "postgresql.conf").read_text()
    except OSError:
        finished = False
    if not finished:
        warn(f"removing an unfinished Postgres cluster in {place.data_dir}")
        shutil.rmtree(place.data_dir)


def _initdb(profile: Profile, place: ClusterLocation, bin_dir: Path, user: str | None) -> None:
    step(f"creating a Postgres cluster in {place.data_dir} (first run only)…")
    # Trust on loopback only: the server listens on 127.0.0.1 and a local socket in
    # a folder of its own; this is a throwaway development cluster.
    initdb = [
        str(bin_dir / "initdb"),
        f"--pgdata={place.data_dir}",
        f"--username={DATABASE_SUPERUSER}",
        "--auth=trust",
        "--encoding=UTF8",
        "--no-locale",
        "--no-instructions",
    ]
    if not profile.durable_postgres:
        initdb.append("--no-sync")
    run(as_user(user, initdb), what="initdb", cwd=_NEUTRAL_CWD)
    config = place.data_dir / "postgresql.conf"
    with config.open("a") as appended:
        appended.write(f"\n{_INCLUDE_LINE}\n")


def _refuse_other_major_version(place: ClusterLocation, bin_dir: Path) -> None:
    cluster_version = (place.data_dir / "PG_VERSION").read_text().strip()
    reported = run([bin_dir / "pg_ctl", "--version"], what="pg_ctl --version").stdout
    match = re.search(r"(\d+)", reported)
    if match and match.group(1) != cluster_version:
        raise DevstackError(
            f"the cluster in {place.data_dir} was made by PostgreSQL {cluster_version} "
            f"but {bin_dir} is {match.group(1)}: remove it with `make clean`"
        )


def _write_settings(profile: Profile, place: ClusterLocation) -> None:
    # Rewritten at each start so a changed port or profile setting takes effect.
    settings = [
        f"port = {profile.pg_port}",
        "listen_addresses = '127.0.0.1'",
        f"unix_socket_directories = '{place.socket_dir}'",
        "max_connections = 300",
    ]
    if not profile.durable_postgres:
        # Test data is thrown away; skipping fsync makes schema-per-test setups fast.
        settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
    settings_file = place.data_dir / "devstack.conf"
    settings_file.write_text("\n".join(settings) + "\n")
    owner = place.data_dir.stat()
    os.chown(settings_file, owner.st_uid, owner.st_gid)


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
    """Stops this profile's cluster wherever it runs (in the checkout or outside it)."""
    for place in pg_location.candidates(profile):
        port = place.running_port()
        if port is None:
            continue
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
                    f"--pgdata={place.data_dir}",
                ],
            ),
            what="stopping Postgres",
            cwd=_NEUTRAL_CWD,
        )


def remove_outside_checkout(profile: Profile) -> None:
    """`make clean`: the cluster folder outside the checkout, once stopped (the one in the
    checkout goes with .devstack/). Never follows a symlink planted at that name."""
    place = pg_location.outside_checkout(profile)
    if place.running_port() is not None:
        raise DevstackError(f"Postgres still runs on {place.data_dir}: `make down` first")
    try:
        if not stat.S_ISDIR(place.root.lstat().st_mode):
            place.root.unlink()
        else:
            shutil.rmtree(place.root)
    except FileNotFoundError:
        return
    except OSError as error:
        warn(f"could not remove {place.root}: {error} (it needs root)")
        return
    step(f"removed {place.root}")
    # Fails, as it should, while other checkouts' clusters are still in there.
    with suppress(OSError):
        place.root.parent.rmdir()
