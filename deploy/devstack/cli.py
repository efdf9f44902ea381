"""The commands behind the Makefile targets."""

import argparse
import os
import shlex
import shutil
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from . import postgres, stack
from .commands import require_tool
from .console import DevstackError, fail, step
from .locks import holding_stack_lock
from .paths import DEVSTACK_DIR, KAFKA_LIBS_DIR, TOOLS_DIR, venv_tool
from .profiles import PROFILE_NAMES, Profile, load_profile
from .python_env import sync_workspace
from .stack_runner import run_against_stack
from .status import print_status

Handler = Callable[[argparse.Namespace], int]

KEEP_TEST_STACK_SETTING = "AFTERCARE_KEEP_TEST_STACK"
KEEP_BENCH_STACK_SETTING = "AFTERCARE_KEEP_BENCH_STACK"


def _up(options: argparse.Namespace) -> int:
    profile = load_profile(options.profile)
    with_services = not options.infra_only
    with holding_stack_lock(profile):
        settings = stack.up(profile, with_services=with_services)
    stack.print_summary(profile, settings, with_services=with_services)
    return 0


def _down(options: argparse.Namespace) -> int:
    profile = load_profile(options.profile)
    with holding_stack_lock(profile):
        stack.down(profile)
    for other in _all_profiles():
        if other.name != profile.name and stack.is_anything_running(other):
            target = "down" if other.name == "dev" else f"{other.name}-down"
            step(f"the {other.name} stack still runs: `make {target}` stops it")
    return 0


def _status(_options: argparse.Namespace) -> int:
    print_status(_all_profiles())
    return 0


def _logs(options: argparse.Namespace) -> int:
    profile = load_profile(options.profile)
    logs = sorted(profile.logs_dir.glob("*.log"))
    if not logs:
        raise DevstackError(f"no logs yet in {profile.logs_dir}: `make up` first")
    tail = require_tool("tail", "it comes with coreutils")
    # Replace this process: Ctrl-C then ends tail without a Python traceback.
    os.execv(tail, [tail, "-n", "20", "-F", *map(str, logs)])  # noqa: S606 - fixed argv


# Tests that start a Kafka of their own (the chaos suite, the failover cluster, a broker
# outage) spend most of their minutes waiting on those brokers and on paced loads. The full
# suite runs them in a second pytest process beside the rest, which overlaps that waiting
# with the other tests' work; a run given arguments is left as asked.
OWN_KAFKA_MARKER = "own_kafka"


def _test(options: argparse.Namespace) -> int:
    profile = load_profile("test")
    pytest_args = [*shlex.split(os.environ.get("PYTEST_ARGS", "")), *options.args]
    # The stack's start-up syncs .venv first, so the tool may not exist yet here.
    pytest = str(venv_tool("pytest"))
    with holding_stack_lock(profile):
        if pytest_args:
            return run_against_stack(profile, [pytest, *pytest_args], KEEP_TEST_STACK_SETTING)
        return run_against_stack(
            profile,
            [pytest, "-m", f"not {OWN_KAFKA_MARKER}"],
            KEEP_TEST_STACK_SETTING,
            beside=[pytest, "-m", OWN_KAFKA_MARKER, "-p", "no:cacheprovider"],
        )


def _bench(options: argparse.Namespace) -> int:
    profile = load_profile("bench")
    bench_args = [*shlex.split(os.environ.get("BENCH_ARGS", "")), *options.args]
    command = [str(venv_tool("python")), "bench/run.py", *bench_args]
    with holding_stack_lock(profile):
        return run_against_stack(profile, command, KEEP_BENCH_STACK_SETTING)


def _sync(_options: argparse.Namespace) -> int:
    sync_workspace()
    return 0


def _clean(_options: argparse.Namespace) -> int:
    profiles = _all_profiles()
    with ExitStack() as locks:
        for profile in profiles:
            locks.enter_context(holding_stack_lock(profile))
        for profile in profiles:
            stack.down(profile)
        _wipe_state()
        for profile in profiles:
            postgres.remove_outside_checkout(profile)
    step(f"removed the stacks' state; kept {TOOLS_DIR.name}/ and the Kafka jar cache")
    return 0


def _wipe_state() -> None:
    # The uv bootstrap and the Kafka jars are slow to fetch again and hold no state.
    kept = {TOOLS_DIR, KAFKA_LIBS_DIR, DEVSTACK_DIR / ".lock"}
    for entry in DEVSTACK_DIR.iterdir():
        if entry in kept:
            continue
        if entry == KAFKA_LIBS_DIR.parent:
            for inner in entry.iterdir():
                if inner not in kept:
                    _remove(inner)
            continue
        _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _all_profiles() -> list[Profile]:
    return [load_profile(name) for name in PROFILE_NAMES]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.set_defaults(handler=handler)
        return sub

    up = command("up", _up, "start the stack (what already runs is left alone)")
    up.add_argument("--profile", choices=PROFILE_NAMES, default="dev")
    up.add_argument("--infra-only", action="store_true", help="Postgres and Kafka only")
    down = command("down", _down, "stop the stack")
    down.add_argument("--profile", choices=PROFILE_NAMES, default="dev")
    command("status", _status, "show what every stack runs")
    logs = command("logs", _logs, "follow a stack's logs")
    logs.add_argument("--profile", choices=PROFILE_NAMES, default="dev")
    test = command("test", _test, "run pytest against a test stack of its own")
    test.add_argument("args", nargs=argparse.REMAINDER)
    bench = command("bench", _bench, "run bench/run.py against a bench stack of its own")
    bench.add_argument("args", nargs=argparse.REMAINDER)
    command("sync", _sync, "uv sync --frozen (bootstrapping uv when missing)")
    command("clean", _clean, "stop every stack and delete their state (keeps the jar cache)")
    return parser


def run(argv: list[str]) -> int:
    options = _parser().parse_args(argv)
    try:
        exit_code: int = options.handler(options)
    except DevstackError as error:
        fail(str(error))
        return 1
    except KeyboardInterrupt:
        fail("interrupted")
        return 130
    except BrokenPipeError:
        # `make status | head`: the reader left; not worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        return 0
    return exit_code
