"""``python -m aftercare_shared.migrate [service …]``: bring schemas to head.

Reads ``AFTERCARE_DATABASE_URL``; with no service named, migrates all four.
"""

from __future__ import annotations

import os
import sys

from aftercare_shared.migrations import upgrade
from aftercare_shared.topics import SERVICES


def main(argv: list[str]) -> int:
    services = argv or list(SERVICES)
    unknown = [name for name in services if name not in SERVICES]
    if unknown:
        print(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(SERVICES)}")
        return 2
    database_url = os.environ.get("AFTERCARE_DATABASE_URL")
    if not database_url:
        print("AFTERCARE_DATABASE_URL is not set")
        return 2
    for service in services:
        upgrade(service, database_url)
        print(f"migrated {service} to head")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
