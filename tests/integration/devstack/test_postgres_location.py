"""Where devstack keeps a stack's Postgres cluster, and that it runs there.

As root, Postgres runs as the `postgres` OS user, which cannot enter a checkout under a
0700 folder (a clone in /root, under `mktemp -d`). The cluster then lives in a per-checkout,
per-profile folder under /var/lib/aftercare-devstack owned by `postgres`, mode 0700; the
last test makes a real cluster there for a checkout under such a folder, on a free port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.devstack import pg_location, postgres, status
from deploy.devstack.console import DevstackError
from deploy.devstack.profiles import Profile

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


def _profile(state_dir: Path, name: str = "test", pg_port: int = 54330) -> Profile:
    return Profile(
        name=name,
        env_prefix="AFTERCARE_TEST_",
        state_dir=state_dir,
        pg_port=pg_port,
        kafka_port=19192,
        kafka_controller_port=19193,
        database_name="aftercare_location_check",
        external_database_url=None,
        external_kafka_bootstrap=None,
        admin_token_override=None,
        services=(),
        durable_postgres=False,
    )


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Resolution as root would do it, with the outside folder's base under tmp_path."""
    base = tmp_path / "var-lib"
    monkeypatch.setattr(pg_location, "EXTERNAL_BASE", base)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    return base


def test_as_root_a_new_cluster_goes_outside_the_checkout(as_root: Path, tmp_path: Path) -> None:
    dev = _profile(tmp_path / "clone" / ".devstack", name="dev")
    test = _profile(tmp_path / "clone" / ".devstack" / "test", name="test")
    other_clone = _profile(tmp_path / "other" / ".devstack", name="dev")

    place = pg_location.resolve(dev)

    assert place.external
    assert place.root.parent == as_root
    assert place.root.name.startswith("dev-")
    assert place.data_dir == place.root / "data"
    assert place.socket_dir == place.root / "run"
    # Stable for one checkout and profile, distinct across profiles and checkouts.
    assert pg_location.resolve(_profile(dev.state_dir, name="dev")) == place
    roots = {pg_location.resolve(p).root for p in (dev, test, other_clone)}
    assert len(roots) == 3


def test_an_existing_cluster_in_the_checkout_stays_there(as_root: Path, tmp_path: Path) -> None:
    profile = _profile(tmp_path / "clone" / ".devstack")
    legacy = pg_location.in_checkout(profile)
    legacy.data_dir.mkdir(parents=True)
    (legacy.data_dir / "PG_VERSION").write_text("15\n")

    assert pg_location.resolve(profile) == legacy


def test_without_root_the_cluster_stays_in_the_checkout(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(pg_location, "EXTERNAL_BASE", tmp_path / "var-lib")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    profile = _profile(tmp_path / "clone" / ".devstack")

    place = pg_location.resolve(profile)

    assert not place.external
    assert place.data_dir == profile.state_dir / "pg" / "data"


def _server_tools_or_skip() -> Path:
    if os.geteuid() != 0:
        pytest.skip("runs as root only: the case is Postgres run by the `postgres` user")
    try:
        pwd.getpwnam(postgres.POSTGRES_OS_USER)
        return postgres.find_bin_dir()
    except (KeyError, DevstackError) as missing:
        pytest.skip(f"no PostgreSQL server tools or `postgres` user: {missing}")


def _as_postgres(*argv: str) -> int:
    runuser = shutil.which("runuser") or "runuser"
    command = [runuser, "-u", postgres.POSTGRES_OS_USER, "--", *argv]
    return subprocess.run(command, cwd="/", check=False, capture_output=True).returncode  # noqa: S603


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _dead_pid() -> int:
    process = subprocess.Popen(["/bin/true"])
    process.wait()
    return process.pid


def _postgres_processes_on(data_dir: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(data_dir) in command:
            found.append(command)
    return found


@pytest.fixture
def unreachable_checkout() -> Iterator[Path]:
    """A checkout under a root-only 0700 folder, as `mktemp -d` makes one."""
    parent = Path(tempfile.mkdtemp(prefix="aftercare-clone-"))
    checkout = parent / "aftercare"
    checkout.mkdir()
    try:
        yield checkout
    finally:
        shutil.rmtree(parent)


def test_cluster_of_an_unreachable_checkout_runs_outside_it(unreachable_checkout: Path) -> None:
    bin_dir = _server_tools_or_skip()
    state_dir = unreachable_checkout / ".devstack" / "test"
    profile = _profile(state_dir, pg_port=_free_port())
    assert stat.S_IMODE(unreachable_checkout.parent.stat().st_mode) == 0o700
    assert _as_postgres("test", "-x", str(unreachable_checkout)) != 0, "premise: unreachable"
    place = pg_location.resolve(profile)
    assert place.external
    assert place.root.parent == pg_location.EXTERNAL_BASE
    postgres_user = pwd.getpwnam(postgres.POSTGRES_OS_USER)
    try:
        postgres.ensure_running(profile)

        folder = place.root.lstat()
        assert stat.S_ISDIR(folder.st_mode)
        assert (folder.st_uid, stat.S_IMODE(folder.st_mode)) == (postgres_user.pw_uid, 0o700)
        assert _as_postgres("test", "-w", str(place.data_dir)) == 0
        assert postgres.running_port(profile) == profile.pg_port
        postgres.ensure_database(profile)
        answer = subprocess.run(  # noqa: S603
            [
                str(bin_dir / "psql"),
                "--no-psqlrc",
                "--host=127.0.0.1",
                f"--port={profile.pg_port}",
                "--username=postgres",
                f"--dbname={profile.database_name}",
                "--tuples-only",
                "--no-align",
                "--command=SHOW data_directory",
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        assert answer.stdout.strip() == str(place.data_dir)
        shown = status.describe(profile)
        assert "running" in shown
        assert str(place.data_dir) in shown
        # The server, run as `postgres`, still logs where the user looks: the state folder.
        assert "ready to accept connections" in postgres.log_file(profile).read_text()
        pid_file = (place.data_dir / "postmaster.pid").read_text().splitlines()

        postgres.stop(profile)
        assert postgres.running_port(profile) is None
        assert _postgres_processes_on(place.data_dir) == []

        # A killed run left postmaster.pid behind, then the checkout was deleted and cloned
        # again at the same path: the next start reuses the cluster outside it.
        stale = place.data_dir / "postmaster.pid"
        stale.write_text("\n".join([str(_dead_pid()), *pid_file[1:]]) + "\n")
        os.chown(stale, postgres_user.pw_uid, postgres_user.pw_gid)
        shutil.rmtree(unreachable_checkout / ".devstack")
        postgres.ensure_running(profile)
        assert pg_location.resolve(profile) == place
        assert postgres.running_port(profile) == profile.pg_port
        postgres.stop(profile)
        assert _postgres_processes_on(place.data_dir) == []
    finally:
        postgres.stop(profile)
        postgres.remove_outside_checkout(profile)
    assert not place.root.exists()
