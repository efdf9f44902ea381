"""Schemathesis against each service's own OpenAPI document, over real HTTP, as staff and as
a client key: no 5xx, every answer conforms to the documented status codes, content types
and schemas, and every error is ``application/problem+json``.

The four services run as uvicorn processes on real Postgres and Kafka (``live_stack``).
Each operation gets ``AFTERCARE_FUZZ_EXAMPLES`` valid and as many invalid examples
(Hypothesis, derandomized: the same run every time, no example database, no shrinking), so
the run is bounded; raise the number for a deeper run (README, "Fuzzing the APIs").
A client key is fuzzed on the routes it may call (``route_access.MATRIX``), with its own
client's id for ``client_id`` path parameters, so its calls reach the handlers rather than
stopping at 403 or 404.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from aftercare_shared.names import SERVICE_NAMES, ServiceName
from aftercare_shared.problems import PROBLEM_CONTENT_TYPE
from tests.integration.platform.live_stack import STAFF, LiveStack
from tests.integration.platform.route_access import MATRIX, Access

# The first test also starts the live stack (up to START_SECONDS on a busy machine).
pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(600)]

EXAMPLES = int(os.environ.get("AFTERCARE_FUZZ_EXAMPLES", "3"))
"""Valid examples per operation, and as many invalid ones; per principal."""
REQUEST_TIMEOUT_SECONDS = 15.0

# An endless text/event-stream: a request never completes, so it cannot be fuzzed this way
# (its parameters are checked by notify's stream tests).
NOT_FUZZED = {("notify", "GET /v1/stream")}
# A client key is fuzzed only where it may call: staff-only routes answer it 403 before
# reading anything (the isolation matrix checks each), and some routes take no client key.
CLIENT_SKIPS = {Access.STAFF_ONLY, Access.NO_CLIENT_KEY}


@schemathesis.serializer("application/x-sentry-envelope")
def sentry_envelope(ctx: schemathesis.SerializationContext, value: Any) -> bytes:
    """intake's Sentry envelope route documents its body as a string: send it as bytes."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def problem_json_errors(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """Every 4xx/5xx answer is an RFC 9457 problem."""
    if response.status_code >= 400:
        content_type = response.headers.get("content-type", [""])[0]
        assert content_type.split(";")[0] == PROBLEM_CONTENT_TYPE, (
            f"{response.status_code} answered as {content_type!r}, not {PROBLEM_CONTENT_TYPE}"
        )
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    problem_json_errors,
]


def _fuzz_operation(
    operation: Any, base_url: str, headers: dict[str, str], client_id: str | None
) -> list[str]:
    """Run the operation's examples; return what failed (one line per distinct failure)."""
    failures: dict[str, str] = {}
    parameters = {param.name for param in operation.path_parameters}
    fixed = {"client_id": client_id} if client_id and "client_id" in parameters else None
    strategy = st.one_of(
        [
            operation.as_strategy(generation_mode=mode, path_parameters=fixed)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    )
    session = requests.Session()

    @settings(
        max_examples=2 * EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Case[Any]) -> None:
        try:
            response = case.call(
                base_url=base_url,
                session=session,
                headers=headers,
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (Exception, BaseExceptionGroup) as error:  # every failure collected, then reported
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            key = f"{type(error).__name__}: {first_line}"
            failures.setdefault(key, str(error)[:1500])

    run()
    session.close()
    return [f"{operation.label}: {key}\n{detail}" for key, detail in failures.items()]


@pytest.mark.parametrize("principal", ["staff", "client"])
@pytest.mark.parametrize("service", SERVICE_NAMES, ids=str)
async def test_the_api_answers_fuzzed_requests_as_documented(
    live: LiveStack, service: ServiceName, principal: str
) -> None:
    document = await live.openapi(service)
    schema = schemathesis.openapi.from_dict(document)
    tenant = live.tenants[0]
    headers = STAFF if principal == "staff" else tenant.headers
    client_id = tenant.client_id if principal == "client" else None
    started = time.monotonic()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"{service}'s OpenAPI document: {result.err()}")
        operation = result.ok()
        if (str(service), operation.label) in NOT_FUZZED:
            continue
        entry = MATRIX[service].get(operation.label)
        if principal == "client" and entry is not None and entry.access in CLIENT_SKIPS:
            continue
        operations += 1
        failures += _fuzz_operation(operation, live.url(service), headers, client_id)
    elapsed = time.monotonic() - started
    print(f"fuzz {service} as {principal}: {operations} operations in {elapsed:.1f} s")
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("service", SERVICE_NAMES, ids=str)
async def test_oversize_headers_get_a_431_problem_from_the_real_server(
    live: LiveStack, service: ServiceName
) -> None:
    # Through uvicorn's own HTTP parser (httptools), not only the ASGI app in process.
    async with httpx.AsyncClient(timeout=10.0) as http:
        answer = await http.get(live.url(service) + "/healthz", headers={"X-Filler": "x" * 100_000})
    assert answer.status_code == 431, answer.text
    assert answer.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert answer.json()["status"] == 431
