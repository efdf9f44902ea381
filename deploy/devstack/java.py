"""Finding a Java runtime new enough for the pinned Kafka broker."""

import re

from .commands import require_tool, run
from .console import DevstackError

MINIMUM_JAVA = 17
_INSTALL_HINT = "install Java 17+ (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`)"


def require_java() -> str:
    java = require_tool("java", _INSTALL_HINT)
    # `java -version` prints to stderr: `openjdk version "17.0.15"` or `"1.8.0_392"`.
    banner = run([java, "-version"], what="java -version").stderr
    match = re.search(r'version "(?:1\.)?(\d+)', banner)
    if match is None:
        raise DevstackError(f"cannot tell the Java version from: {banner.strip()[:200]}")
    major = int(match.group(1))
    if major < MINIMUM_JAVA:
        raise DevstackError(
            f"{java} is Java {major}; Kafka needs Java {MINIMUM_JAVA}+: {_INSTALL_HINT}"
        )
    return java
