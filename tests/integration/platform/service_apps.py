"""Each of the four services' apps, built the same way, for tests of what the platform
gives all of them (outage answers, hostile input)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from aftercare_intake.app import create_app as create_intake
from aftercare_intake.settings import IntakeSettings
from aftercare_notify.app import create_app as create_notify
from aftercare_notify.settings import NotifySettings
from aftercare_releases.app import create_app as create_releases
from aftercare_releases.settings import ReleasesSettings
from aftercare_shared.names import ServiceName
from aftercare_sla.app import create_app as create_sla
from aftercare_sla.settings import SlaSettings
from tests.conftest import common_settings_for


def _group(service: ServiceName) -> str:
    # Our own consumer group: other test runs and the dev stack keep their offsets.
    return f"test-{service}-platform-{secrets.token_hex(4)}"


def build_app(service: ServiceName, database_url: str, **common: Any) -> FastAPI:
    settings = common_settings_for(database_url, **common)
    builders: dict[ServiceName, Callable[[], FastAPI]] = {
        ServiceName.INTAKE: lambda: create_intake(
            IntakeSettings(common=settings, consumer_group=_group(service))
        ),
        ServiceName.SLA: lambda: create_sla(
            SlaSettings(common=settings, consumer_group=_group(service))
        ),
        ServiceName.RELEASES: lambda: create_releases(
            ReleasesSettings(common=settings, consumer_group=_group(service))
        ),
        ServiceName.NOTIFY: lambda: create_notify(
            NotifySettings(common=settings, consumer_group=_group(service))
        ),
    }
    return builders[service]()


def first_v1_get(app: FastAPI) -> str:
    """A GET route under /v1 with its path parameters filled in."""
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/v1/") and "get" in operations:
            return str(path).replace("{", "").replace("}", "")
    raise AssertionError("no GET route under /v1")
