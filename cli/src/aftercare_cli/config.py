"""Where the CLI finds the system: the same settings the services read.

Values come from the environment first, then from the dotenv file a stack leaves behind
(``.devstack/env`` in this checkout or a parent folder, or the file named by
``AFTERCARE_ENV_FILE``), so ``aftercare …`` works right after ``make up`` without sourcing
anything, and in a container or pod from the same variables the services get.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aftercare_shared.names import SERVICE_NAMES, ServiceName

if TYPE_CHECKING:
    # Pydantic settings take a second to import: only commands that load the config pay.
    from aftercare_shared.settings import CommonSettings

ENV_FILE_SETTING = "AFTERCARE_ENV_FILE"
STAFF_TOKEN_SETTING = "AFTERCARE_STAFF_TOKEN"  # noqa: S105 - a variable name, not a secret
_STACK_ENV_FILE = Path(".devstack") / "env"


class ConfigError(Exception):
    """The CLI cannot tell where the system is, or with which credential to call it."""


def find_env_file(start: Path | None = None) -> Path | None:
    given = os.environ.get(ENV_FILE_SETTING, "").strip()
    if given:
        path = Path(given)
        if not path.is_file():
            raise ConfigError(f"{ENV_FILE_SETTING}={given} is not a file")
        return path
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / _STACK_ENV_FILE).is_file():
            return candidate / _STACK_ENV_FILE
    return None


def parse_env_file(text: str) -> dict[str, str]:
    """The ``NAME=value`` lines of a dotenv file as devstack writes them (shell quoting)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, raw = line.partition("=")
        words = shlex.split(raw) if raw else [""]
        values[name.strip()] = words[0] if words else ""
    return values


def load_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment the CLI reads: the process's, filled in from the stack's env file."""
    environment = dict(os.environ if environ is None else environ)
    env_file = find_env_file()
    if env_file is not None:
        for name, value in parse_env_file(env_file.read_text()).items():
            environment.setdefault(name, value)
    return environment


@dataclass(frozen=True)
class OpsConfig:
    common: CommonSettings
    environment: Mapping[str, str]

    @property
    def staff_token(self) -> str:
        token = self.environment.get(STAFF_TOKEN_SETTING, "").strip()
        return token or self.common.admin_token.get_secret_value()

    @property
    def admin_token(self) -> str:
        return self.common.admin_token.get_secret_value()

    def service_urls(self, service: ServiceName) -> list[str]:
        """Every replica's base URL: ``<SERVICE>_URLS`` (comma-separated) or ``<SERVICE>_URL``."""
        prefix = service.value.upper()
        many = self.environment.get(f"{prefix}_URLS", "").strip()
        if many:
            return [url.strip().rstrip("/") for url in many.split(",") if url.strip()]
        one = self.environment.get(f"{prefix}_URL", "").strip()
        return [one.rstrip("/")] if one else []

    def service_url(self, service: ServiceName) -> str:
        urls = self.service_urls(service)
        if not urls:
            prefix = service.value.upper()
            raise ConfigError(f"{prefix}_URL is not set (run `make up` or export it)")
        return urls[0]

    def consumer_group(self, service: ServiceName) -> str:
        return consumer_groups(self.environment)[service]


def consumer_groups(environment: Mapping[str, str]) -> dict[ServiceName, str]:
    """Each service's consumer group, as the service reads it (``<SERVICE>_CONSUMER_GROUP``)."""
    return {
        service: environment.get(f"{service.value.upper()}_CONSUMER_GROUP", "").strip()
        or f"aftercare-{service.value}"
        for service in SERVICE_NAMES
    }


def load_config() -> OpsConfig:
    from aftercare_shared.settings import CommonSettings

    environment = load_environment()
    try:
        common = CommonSettings(
            **{  # type: ignore[arg-type]
                field: environment[f"AFTERCARE_{field.upper()}"]
                for field in CommonSettings.model_fields
                if f"AFTERCARE_{field.upper()}" in environment
            }
        )
    except ValueError as error:
        raise ConfigError(f"invalid AFTERCARE_* settings: {error}") from error
    return OpsConfig(common=common, environment=environment)
