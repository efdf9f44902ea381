"""The timer job's schedule comes from the settings (the rounds are integration-tested)."""

from __future__ import annotations

from pydantic import SecretStr

from aftercare_shared.settings import CommonSettings
from aftercare_sla.jobs import timer_job
from aftercare_sla.settings import SlaSettings


def test_the_timer_job_polls_and_batches_as_configured() -> None:
    settings = SlaSettings(
        common=CommonSettings(admin_token=SecretStr("t" * 32)),
        timer_poll_seconds=0.25,
        timer_batch_size=7,
    )

    job = timer_job(settings)

    assert (job.name, job.interval_seconds, job.batch_size) == ("sla-timers", 0.25, 7)
