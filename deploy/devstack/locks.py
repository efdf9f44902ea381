"""One devstack command per stack at a time: two `make up`s racing would both start Kafka."""

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from .console import step
from .profiles import Profile


@contextmanager
def holding_stack_lock(profile: Profile) -> Iterator[None]:
    profile.state_dir.mkdir(parents=True, exist_ok=True)
    with (profile.state_dir / ".lock").open("w") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            step(f"waiting for another devstack command on the {profile.name} stack…")
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        yield
