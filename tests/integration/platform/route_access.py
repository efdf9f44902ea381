"""What every route of every service answers a client API key: the tenant-isolation matrix.

Each route in a service's OpenAPI document must have an entry here (the matrix test checks
the document's route list against this table, so a new route without an answer fails):

- ``STAFF_ONLY``: a client key gets 403.
- ``OTHER_TENANT``: called with another client's key on this client's ids, 404 (a
  resource the caller may not see does not exist for it); ``FORBIDDEN_OTHER_TENANT`` where
  the document says 403 instead (the other client is named in the body).
- ``OWN_DATA``: names no other client's id; answers only the caller's own data (the
  answer must not mention the other client or its resources).
- ``NO_CLIENT_KEY``: takes no client API key (health, or a credential in the URL: a DSN
  key or a monitor's ping key).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from aftercare_shared.names import ServiceName


class Access(Enum):
    STAFF_ONLY = "403 to a client key"
    OTHER_TENANT = "404 to another client's key"
    FORBIDDEN_OTHER_TENANT = "403 to another client's key"
    OWN_DATA = "only the caller's own data"
    NO_CLIENT_KEY = "takes no client key"


@dataclass(frozen=True)
class Entry:
    access: Access
    body: Any = None
    """A valid body (so the answer is about access, not validation)."""
    content_type: str = "application/json"
    query: str = ""
    """Required query parameters, appended to the path."""


STAFF = Entry(Access.STAFF_ONLY)
OTHER = Entry(Access.OTHER_TENANT)
OWN = Entry(Access.OWN_DATA)
NONE = Entry(Access.NO_CLIENT_KEY)

# {client_id}, {ticket_id}, … in a body are replaced by the other client's ids.
MATRIX: dict[ServiceName, dict[str, Entry]] = {
    ServiceName.INTAKE: {
        "GET /healthz": NONE,
        "GET /readyz": NONE,
        "POST /v1/clients": STAFF,
        "GET /v1/clients": STAFF,
        "GET /v1/clients/{client_id}": STAFF,
        "PATCH /v1/clients/{client_id}": STAFF,
        "POST /v1/clients/{client_id}/projects": STAFF,
        "GET /v1/clients/{client_id}/projects": STAFF,
        "PATCH /v1/projects/{project_id}": STAFF,
        "POST /v1/clients/{client_id}/api-keys": STAFF,
        "GET /v1/clients/{client_id}/api-keys": STAFF,
        "DELETE /v1/api-keys/{api_key_id}": STAFF,
        "POST /v1/staff-tokens": STAFF,
        "GET /v1/staff-tokens": STAFF,
        "DELETE /v1/staff-tokens/{token_id}": STAFF,
        "POST /v1/reports": Entry(Access.OWN_DATA, {"title": "isolation", "severity": "low"}),
        "GET /v1/tickets/{ticket_id}": OTHER,
        "GET /v1/tickets": OWN,
        "POST /v1/tickets": Entry(
            Access.FORBIDDEN_OTHER_TENANT, {"title": "isolation", "client_id": "{client_id}"}
        ),
        "PATCH /v1/tickets/{ticket_id}": STAFF,
        "POST /v1/tickets/{ticket_id}/merge": STAFF,
        "POST /v1/tickets/{ticket_id}/unmerge": STAFF,
        "GET /v1/tickets/{ticket_id}/occurrences": OTHER,
        "GET /v1/tickets/{ticket_id}/history": OTHER,
        "POST /v1/tickets/{ticket_id}/comments": Entry(Access.OTHER_TENANT, {"body": "hi"}),
        "GET /v1/tickets/{ticket_id}/comments": OTHER,
        "POST /v1/tickets/{ticket_id}/feedback": Entry(Access.OTHER_TENANT, {"rating": 5}),
        "GET /v1/tickets/{ticket_id}/feedback": OTHER,
        "GET /v1/clients/{client_id}/feedback": OTHER,
        "POST /api/{project_id}/envelope/": NONE,
        "POST /api/{project_id}/store/": NONE,
        "GET /api/{project_id}/cron/{monitor_slug}/{sentry_key}/": NONE,
        "POST /api/{project_id}/cron/{monitor_slug}/{sentry_key}/": NONE,
        "OPTIONS /api/{project_id}/envelope/": NONE,
        "OPTIONS /api/{project_id}/store/": NONE,
        "POST /v1/monitors": STAFF,
        "GET /v1/monitors": OWN,
        "GET /v1/monitors/{monitor_id}": OTHER,
        "PATCH /v1/monitors/{monitor_id}": STAFF,
        "DELETE /v1/monitors/{monitor_id}": STAFF,
        "POST /v1/monitors/{monitor_id}/ping-key": STAFF,
        "POST /v1/monitors/{monitor_id}/check-ins": Entry(Access.OTHER_TENANT, {"status": "ok"}),
        "GET /v1/monitors/{monitor_id}/check-ins": OTHER,
        "GET /v1/monitors/{monitor_id}/probes": OTHER,
        "GET /v1/monitors/{monitor_id}/uptime": Entry(
            Access.OTHER_TENANT, query="?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z"
        ),
        "GET /ping/{ping_key}": NONE,
        "GET /ping/{ping_key}/{action}": NONE,
        "HEAD /ping/{ping_key}": NONE,
        "HEAD /ping/{ping_key}/{action}": NONE,
        "POST /ping/{ping_key}": NONE,
        "POST /ping/{ping_key}/{action}": NONE,
    },
    ServiceName.SLA: {
        "GET /healthz": NONE,
        "GET /readyz": NONE,
        "POST /v1/plans": STAFF,
        "GET /v1/plans": STAFF,
        "GET /v1/plans/{plan_id}": STAFF,
        "PATCH /v1/plans/{plan_id}": STAFF,
        "GET /v1/plans/{plan_id}/versions": STAFF,
        "PUT /v1/clients/{client_id}/plan": STAFF,
        "DELETE /v1/clients/{client_id}/plan": STAFF,
        "GET /v1/clients/{client_id}/plan": OTHER,
        "GET /v1/tickets/{ticket_id}/sla": OTHER,
        "GET /v1/reports/sla": Entry(Access.OWN_DATA, query="?from=2026-11-01&to=2026-12-01"),
        "GET /v1/clients/{client_id}/reports/{period}": OTHER,
    },
    ServiceName.RELEASES: {
        "GET /healthz": NONE,
        "GET /readyz": NONE,
        "POST /v1/products": STAFF,
        "GET /v1/products": STAFF,
        "GET /v1/products/{name}": STAFF,
        "GET /v1/products/{name}/changelog": STAFF,
        "POST /v1/releases": STAFF,
        "GET /v1/releases": OWN,
        "GET /v1/releases/{release_id}": OTHER,
        "PATCH /v1/releases/{release_id}": STAFF,
        "POST /v1/releases/{release_id}/publish": STAFF,
        "POST /v1/releases/{release_id}/schedule": STAFF,
        "POST /v1/releases/{release_id}/cancel": STAFF,
        "POST /v1/releases/{release_id}/rollback": STAFF,
        "GET /v1/releases/{release_id}/changelog": OTHER,
        "GET /v1/tickets/{ticket_id}/releases": OTHER,
        "POST /v1/deployments": Entry(
            Access.OTHER_TENANT,
            {
                "client_id": "{client_id}",
                "environment": "production",
                "product": "{product}",
                "version": "1.0.1",
            },
        ),
        "GET /v1/deployments/{deployment_id}": OTHER,
        "PATCH /v1/deployments/{deployment_id}": Entry(
            Access.OTHER_TENANT, {"status": "succeeded"}
        ),
        "PUT /v1/deployments/{deployment_id}/sbom": Entry(
            Access.OTHER_TENANT,
            {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": []},
            "application/vnd.cyclonedx+json",
        ),
        "GET /v1/clients/{client_id}/deployments": OTHER,
        "GET /v1/clients/{client_id}/exposure": OTHER,
        "GET /v1/clients/{client_id}/changelog": OTHER,
        "POST /v1/advisories": STAFF,
        "POST /v1/advisories/import": STAFF,
        "GET /v1/advisories/{advisory_id}": STAFF,
    },
    ServiceName.NOTIFY: {
        "GET /healthz": NONE,
        "GET /readyz": NONE,
        "POST /v1/endpoints": STAFF,
        "GET /v1/endpoints": OWN,
        "GET /v1/endpoints/{endpoint_id}": OTHER,
        "PATCH /v1/endpoints/{endpoint_id}": STAFF,
        "DELETE /v1/endpoints/{endpoint_id}": STAFF,
        "GET /v1/endpoints/{endpoint_id}/secret": STAFF,
        "POST /v1/endpoints/{endpoint_id}/rotate-secret": STAFF,
        "GET /v1/endpoints/{endpoint_id}/deliveries": OTHER,
        "POST /v1/endpoints/{endpoint_id}/replay": STAFF,
        "GET /v1/deliveries/{delivery_id}": OTHER,
        "POST /v1/deliveries/{delivery_id}/retry": STAFF,
        # An endless stream; a client key's filter is checked by notify's stream tests.
        "GET /v1/stream": OWN,
    },
}


def documented_routes(document: dict[str, Any]) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
