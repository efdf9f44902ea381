"""Calls to the services' own APIs with a staff credential; problems become CLI errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aftercare_cli.output import CommandFailedError

if TYPE_CHECKING:
    import httpx

_TIMEOUT_SECONDS = 15.0


def call(
    method: str,
    url: str,
    token: str,
    *,
    json_body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """The JSON answer (``None`` for 204), or :class:`CommandFailedError` naming the problem."""
    import httpx  # here, not at start-up: only the commands that call an API pay for it

    try:
        response = httpx.request(
            method,
            url,
            headers={"Authorization": f"Bearer {token}"},
            json=json_body,
            params={k: v for k, v in (params or {}).items() if v is not None},
            timeout=_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as error:
        raise CommandFailedError(f"{method} {url} failed: {error}") from error
    if response.status_code >= 400:
        raise CommandFailedError(_problem_text(method, url, response))
    if response.status_code == 204 or not response.content:
        return None
    return response.json()


def _problem_text(method: str, url: str, response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"{method} {url} answered {response.status_code}: {response.text[:200]}"
    title = problem.get("title", "") if isinstance(problem, dict) else ""
    detail = problem.get("detail", "") if isinstance(problem, dict) else ""
    return f"{method} {url} answered {response.status_code} {title}: {detail}".rstrip(": ")
