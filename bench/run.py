"""Entry point of ``make bench``: ``python bench/run.py [--quick] [--duration S] …``.

``make bench`` starts Postgres and Kafka for the bench and exports their addresses
(``AFTERCARE_DATABASE_URL``, ``AFTERCARE_KAFKA_BOOTSTRAP_SERVERS``, ``AFTERCARE_ADMIN_TOKEN``);
run by hand, it uses the developer's dev servers. ``--help`` lists the options.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def _main() -> int:
    # Run as a script, only bench/ is on sys.path; the bench imports `bench.*` and the
    # tests' support helpers from the repository root.
    sys.path.insert(0, str(REPO_ROOT))
    from bench.cli import main

    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(_main())
