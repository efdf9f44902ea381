"""sla's HTTP schemas stay in step with the event catalog (no I/O)."""

from __future__ import annotations

from aftercare_shared.events.catalog import PRIORITIES
from aftercare_sla.api.schemas import PlanTargets


def test_a_plan_has_targets_for_exactly_the_catalog_priorities() -> None:
    assert tuple(PlanTargets.model_fields) == PRIORITIES
