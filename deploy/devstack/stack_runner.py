"""`make test` and `make bench`: an infra-only stack of their own, a command run against it
with its settings exported, then the stack stopped again."""

import os
from collections.abc import Sequence

from .commands import run
from .console import step
from .profiles import SERVICE_DEFAULT_PORTS, Profile
from .stack import down, up

# A shell that sourced .devstack/env would otherwise point tests at the dev services.
_DEV_SERVICE_URLS = {
    f"{service.upper()}_{suffix}" for service in SERVICE_DEFAULT_PORTS for suffix in ("URL", "URLS")
}


def run_against_stack(profile: Profile, command: Sequence[str], keep_setting: str) -> int:
    try:
        settings = up(profile, with_services=False)
        step(f"running {' '.join(command)} against the {profile.name} stack…")
        inherited = {k: v for k, v in os.environ.items() if k not in _DEV_SERVICE_URLS}
        completed = run(
            command, what=command[0], env={**inherited, **settings}, capture=False, check=False
        )
        return completed.returncode
    finally:
        # Also after a failed start-up or Ctrl-C: CI must not leave servers behind.
        if os.environ.get(keep_setting, "").strip() == "1":
            step(f"{keep_setting}=1: leaving the {profile.name} stack running")
        else:
            down(profile)
