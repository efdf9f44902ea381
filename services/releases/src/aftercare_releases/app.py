"""The releases service's app factory: ``uvicorn --factory aftercare_releases.app:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from aftercare_releases.api import advisories, clients, deployments, products, releases, tickets
from aftercare_releases.consumers import handlers
from aftercare_releases.errors import PROBLEM_TYPES
from aftercare_releases.jobs import scheduled_publish_job
from aftercare_releases.models import client_api_keys, staff_token_copies
from aftercare_releases.settings import ReleasesSettings
from aftercare_shared.client_keys import read_model_key_lookup
from aftercare_shared.names import ServiceName
from aftercare_shared.service import (
    READ_MODEL_LINGER_SECONDS,
    ConsumerSpec,
    ServiceSpec,
    create_service_app,
)
from aftercare_shared.staff_token_registry import read_model_staff_token_check
from aftercare_shared.topics import CLIENTS, TICKETS

DESCRIPTION = """\
Patch management: the products the agency maintains, their releases (SemVer, scheduled,
rolled back) and Keep a Changelog changelogs, what each client environment runs
(deployments and CycloneDX SBOMs), and OSV security advisories matched against it.
Publishing a release emits `release.published` (once, whatever the retries), which
resolves the fixed tickets in intake; `advisory.matched` opens security tickets there.
"""


def create_app(settings: ReleasesSettings | None = None) -> FastAPI:
    """Build the app; settings default to the ``RELEASES_*`` / ``AFTERCARE_*`` environment."""
    settings = settings or ReleasesSettings()
    spec = ServiceSpec(
        service=ServiceName.RELEASES,
        title="Aftercare releases",
        description=DESCRIPTION,
        routers=[
            products.router,
            releases.router,
            tickets.router,
            deployments.router,
            clients.router,
            advisories.router,
        ],
        api_key_lookup=read_model_key_lookup(client_api_keys),
        staff_token_revoked=read_model_staff_token_check(staff_token_copies),
        problem_types=PROBLEM_TYPES,
        # Client keys (to authenticate client systems) and tickets (to know whose
        # ticket a release fixes, and its title for changelogs).
        consumer=ConsumerSpec(
            group_id=settings.consumer_group,
            topics=[CLIENTS, TICKETS],
            handlers=handlers,
            linger_seconds=READ_MODEL_LINGER_SECONDS,
        ),
        periodic_jobs=[scheduled_publish_job(settings)],
        provides=[settings],
    )
    return create_service_app(spec, settings.common)
