"""Where a stack's Postgres cluster lives: its data folder and its socket folder.

Postgres refuses root, so as root its cluster belongs to the `postgres` OS user, which must
be able to reach it. A checkout often is not reachable by that user: a clone in /root, or
under a `mktemp -d` folder (mode 0700). So as root a new cluster goes to

    /var/lib/aftercare-devstack/<profile>-<digest of the stack's state folder>/
        data/   the cluster          run/   its socket folder

owned by `postgres`, mode 0700: one folder per checkout and profile, `make clean` removes it.
As root this is the place for every new cluster, reachable checkout or not: deciding by
reachability would make the location depend on the permissions of every parent folder at
the time of the first start, and a later chmod (or make run by someone else) would then
look for the cluster in the other place and start a second, empty one. /var/lib rather than
/var/tmp: only root may create entries in it, so no other local user can plant a folder or
a symlink at the predictable name, and no tmpfiles cleaner ages a dev database out.

Without root the user's own account runs Postgres and can reach the checkout: the cluster
stays in `<state>/pg/` as before. A cluster that already exists keeps being used where it
is (a running one first), so a cluster made in `<state>/pg/` before this rule keeps its data.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .processes import is_running
from .profiles import Profile

EXTERNAL_BASE = Path("/var/lib/aftercare-devstack")
# sockaddr_un.sun_path holds 108 bytes on Linux, including the trailing NUL.
_MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class ClusterLocation:
    root: Path
    socket_dir: Path
    # True: the per-checkout folder outside the checkout, which devstack creates and owns.
    external: bool

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def running_port(self) -> int | None:
        """The port of the postmaster running on this data folder, if one runs."""
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (OSError, ValueError, IndexError):
            return None
        # A crash leaves postmaster.pid behind; its pid may since belong to something else.
        return port if is_running(pid, "postgres") else None

    def holds_cluster(self) -> bool:
        try:
            return (self.data_dir / "PG_VERSION").is_file()
        except OSError:
            # Another user's 0700 folder: not ours to use.
            return False


def in_checkout(profile: Profile) -> ClusterLocation:
    root = profile.postgres_dir
    preferred = root / "run"
    if len(str(preferred / f".s.PGSQL.{profile.pg_port}")) <= _MAX_SOCKET_PATH:
        return ClusterLocation(root, preferred, external=False)
    # A deep checkout would overflow the socket path; a short, stable folder stands in.
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:10]
    return ClusterLocation(root, Path(tempfile.gettempdir()) / f"aftercare-pg-{digest}", False)


def outside_checkout(profile: Profile) -> ClusterLocation:
    # The state folder names the checkout and the profile (.devstack, .devstack/test, …).
    state = str(profile.state_dir.resolve())
    digest = hashlib.sha256(state.encode()).hexdigest()[:12]
    root = EXTERNAL_BASE / f"{profile.name}-{digest}"
    return ClusterLocation(root, root / "run", external=True)


def candidates(profile: Profile) -> list[ClusterLocation]:
    return [in_checkout(profile), outside_checkout(profile)]


def resolve(profile: Profile) -> ClusterLocation:
    """A running cluster, else an existing one, else where a new one goes (see above)."""
    places = candidates(profile)
    for place in places:
        if place.running_port() is not None:
            return place
    for place in places:
        if place.holds_cluster():
            return place
    return outside_checkout(profile) if os.geteuid() == 0 else in_checkout(profile)
