"""Deployment rules, free of frameworks: statuses, how they move, environment names.

A deployment is reported ``in_progress`` (or straight away with its outcome) and moves on
with PATCH. Only a ``succeeded`` deployment counts as what the environment runs; rolling
it back (``rolled_back``) hands the environment back to the deployment before it.
"""

from __future__ import annotations

import re
from typing import Final, Literal, get_args

from aftercare_releases.domain import ReleaseRuleError
from aftercare_releases.errors import DeploymentTransitionError

DeploymentStatus = Literal["in_progress", "succeeded", "failed", "rolled_back"]
DEPLOYMENT_STATUSES: Final[tuple[DeploymentStatus, ...]] = get_args(DeploymentStatus)

# Statuses whose deployment reached the environment at some point (carry succeeded_at).
REACHED_STATUSES: Final[frozenset[DeploymentStatus]] = frozenset({"succeeded", "rolled_back"})

_NEXT: Final[dict[DeploymentStatus, frozenset[DeploymentStatus]]] = {
    "in_progress": frozenset({"succeeded", "failed"}),
    "succeeded": frozenset({"rolled_back"}),
    "failed": frozenset(),
    "rolled_back": frozenset(),
}

ENVIRONMENT_MAX_LENGTH: Final = 64
# Lower-case names as pipelines write them: production, staging, eu-west-1, qa_2.
_ENVIRONMENT_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


def normalize_environment(raw: str) -> str:
    environment = raw.strip().lower()
    if not environment:
        raise ReleaseRuleError("environment must not be empty")
    if len(environment) > ENVIRONMENT_MAX_LENGTH:
        raise ReleaseRuleError(f"environment must be at most {ENVIRONMENT_MAX_LENGTH} characters")
    if not _ENVIRONMENT_PATTERN.fullmatch(environment):
        raise ReleaseRuleError(
            "environment must start with a letter or digit and contain only letters, "
            "digits and . _ - (for example production or eu-west-1)"
        )
    return environment


def ensure_deployment_transition(current: DeploymentStatus, wanted: DeploymentStatus) -> bool:
    """Whether the move changes anything; refuse one that is not allowed."""
    if current == wanted:
        return False
    if wanted not in _NEXT[current]:
        raise DeploymentTransitionError(f"A {current} deployment cannot become {wanted}.")
    return True
