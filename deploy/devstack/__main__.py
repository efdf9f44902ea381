"""Entry point. Kept free of newer syntax so an old python3 gets a clear message, not a
SyntaxError from a module it could not parse."""

import sys

MINIMUM_PYTHON = (3, 11)


def main() -> int:
    if sys.version_info < MINIMUM_PYTHON:
        found = ".".join(str(part) for part in sys.version_info[:3])
        sys.stderr.write(
            "devstack: Python 3.11 or newer is needed, but python3 is " + found + ".\n"
            "Install Python 3.11+ or run `make PYTHON=/path/to/python3.11 ...`.\n"
        )
        return 1
    from .cli import run

    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
