"""The workspace's virtualenv: find or bootstrap uv, then `uv sync --frozen`."""

import os
import shutil

from .commands import run
from .console import DevstackError, step
from .paths import TOOLS_DIR, venv_tool

UV_VERSION = "0.13.9"


def find_uv() -> str:
    on_path = shutil.which("uv")
    if on_path is not None:
        return on_path
    bootstrapped = TOOLS_DIR / "bin" / "uv"
    if bootstrapped.is_file():
        return str(bootstrapped)
    return _bootstrap_uv()


def _bootstrap_uv() -> str:
    python = shutil.which("python3") or "python3"
    step(f"uv not on PATH: installing uv {UV_VERSION} into {TOOLS_DIR} (first run only)…")
    venv = run(
        [python, "-m", "venv", "--clear", TOOLS_DIR], what="creating a venv for uv", check=False
    )
    if venv.returncode != 0:
        raise DevstackError(
            f"`{python} -m venv` failed; on Debian/Ubuntu install python3-venv "
            f"(`apt-get install -y python3-venv`).\n{venv.stderr.strip()}"
        )
    run(
        [
            TOOLS_DIR / "bin" / "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"uv=={UV_VERSION}",
        ],
        what=f"installing uv {UV_VERSION} from PyPI",
    )
    return str(TOOLS_DIR / "bin" / "uv")


def sync_workspace() -> None:
    uv = find_uv()
    step("installing the Python workspace into .venv (uv sync --frozen)…")
    env = dict(os.environ)
    # Never fetch an interpreter from the internet: use a Python 3.11+ already here.
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    run([uv, "sync", "--frozen"], what="uv sync --frozen", env=env, capture=False)


def require_venv_tool(name: str) -> str:
    tool = venv_tool(name)
    if not tool.is_file():
        raise DevstackError(f"{tool} is missing: run `make sync` (uv sync --frozen) first")
    return str(tool)
