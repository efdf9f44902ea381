"""Where things live. Everything the stack writes stays under the repository's .devstack/,
except, when run as root, the Postgres clusters: see pg_location."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEVSTACK_DIR = REPO_ROOT / ".devstack"
VENV_DIR = REPO_ROOT / ".venv"

# Shared by every profile and kept by `make clean`: both are slow to rebuild.
TOOLS_DIR = DEVSTACK_DIR / "tools"
KAFKA_LIBS_DIR = DEVSTACK_DIR / "kafka" / "libs"

KAFKA_POM = REPO_ROOT / "deploy" / "kafka" / "pom.xml"
KAFKA_LOG4J_CONFIG = REPO_ROOT / "deploy" / "kafka" / "log4j.properties"


def venv_tool(name: str) -> Path:
    return VENV_DIR / "bin" / name
