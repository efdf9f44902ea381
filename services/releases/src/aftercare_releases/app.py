"""The releases service's app factory: ``uvicorn --factory aftercare_releases.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from aftercare_releases.api import releases, tickets
from aftercare_releases.models import client_api_keys
from aftercare_releases.settings import SERVICE_NAME, ReleasesSettings
from aftercare_releases.workers import build_workers
from aftercare_shared.client_keys import read_model_key_lookup
from aftercare_shared.service import ServiceSpec, create_service_app

DESCRIPTION = """\
Releases of the products the agency maintains, the tickets each one fixes, and their
changelogs. Publishing a release emits `release.published` on `aftercare.releases`
(once, whatever the retries), which resolves the fixed tickets in intake.
"""


def create_app(settings: ReleasesSettings | None = None) -> FastAPI:
    """Build the app; settings default to the ``RELEASES_*`` / ``AFTERCARE_*`` environment."""
    settings = settings or ReleasesSettings()
    spec = ServiceSpec(
        service=SERVICE_NAME,
        title="Aftercare releases",
        description=DESCRIPTION,
        routers=[releases.router, tickets.router],
        api_key_lookup=read_model_key_lookup(client_api_keys),
        workers=lambda context: build_workers(context, settings),
    )
    app = create_service_app(spec, settings.common)
    app.state.releases_settings = settings
    return app
