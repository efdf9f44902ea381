"""The Kafka broker's jars, fetched by Maven from the pom in deploy/kafka and cached.

The cache is stamped with the pom's hash: editing the pom (a new Kafka version) fetches
again, anything else reuses the jars.
"""

import hashlib
import re
import shutil
import time
from pathlib import Path

from .commands import require_tool, run
from .console import step
from .paths import KAFKA_LIBS_DIR, KAFKA_POM

_STAMP_NAME = ".pom-sha256"


def kafka_version() -> str:
    # Only for progress messages: a pattern is enough, no XML parsing of the pom needed.
    found = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", KAFKA_POM.read_text())
    return found.group(1) if found else "?"


def _pom_hash() -> str:
    return hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()


def jars_are_current() -> bool:
    stamp = KAFKA_LIBS_DIR / _STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == _pom_hash()


def require_maven_if_needed() -> None:
    if not jars_are_current():
        require_tool("mvn", "install Maven (Debian/Ubuntu: `apt-get install -y maven`)")


def ensure_jars() -> Path:
    if jars_are_current():
        return KAFKA_LIBS_DIR
    maven = require_tool("mvn", "install Maven (Debian/Ubuntu: `apt-get install -y maven`)")
    step(f"downloading Kafka {kafka_version()} jars from Maven Central (first run only)…")
    # Fetch beside the cache and swap in at the end: an interrupted download never
    # leaves a half-filled cache stamped as good.
    staging = KAFKA_LIBS_DIR.with_name("libs.partial")
    shutil.rmtree(staging, ignore_errors=True)
    started = time.monotonic()
    run(
        [
            maven,
            "--quiet",
            "--batch-mode",
            f"--file={KAFKA_POM}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ],
        what="downloading the Kafka jars with Maven",
    )
    (staging / _STAMP_NAME).write_text(_pom_hash() + "\n")
    shutil.rmtree(KAFKA_LIBS_DIR, ignore_errors=True)
    staging.rename(KAFKA_LIBS_DIR)
    jar_count = len(list(KAFKA_LIBS_DIR.glob("*.jar")))
    step(f"cached {jar_count} jars in {KAFKA_LIBS_DIR} ({time.monotonic() - started:.0f}s)")
    return KAFKA_LIBS_DIR
