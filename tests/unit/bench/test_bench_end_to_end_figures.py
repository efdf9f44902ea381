"""The end-to-end figures beyond latency: how far each consumer's group fell behind (even
if it caught up by the end), and when that makes the run OVER CAPACITY; per-report CPU of
every service."""

from __future__ import annotations

from aiokafka import TopicPartition

from bench.consumer_lag import records_behind
from bench.end_to_end import EndToEndResults
from bench.paced_load import PacedLoadOutcome
from bench.report import end_to_end_rows


def test_records_behind_sums_every_partition_and_counts_an_uncommitted_one_whole() -> None:
    first, second, third = (TopicPartition("aftercare.tickets", p) for p in range(3))
    ends = {first: 120, second: 80, third: 7}

    assert records_behind(ends, {first: 100, second: 80}) == 20 + 0 + 7
    assert records_behind(ends, {first: 120, second: 80, third: -1}) == 7
    assert records_behind(ends, {first: 130, second: 80, third: 7}) == 0


def _results(
    lag: dict[str, int], *, webhooks: int = 400, bench_cpu_seconds: float | None = None
) -> EndToEndResults:
    titles = [f"t{n}" for n in range(400)]
    load = PacedLoadOutcome(
        sent_at=dict.fromkeys(titles, 0.0),
        acknowledged=set(titles),
        answer_ms=[5.0] * 400,
        elapsed_seconds=2.0,
    )
    return EndToEndResults(
        rate_per_second=200.0,
        seconds=2.0,
        load=load,
        latencies_ms=[50.0] * webhooks,
        duplicates=0,
        rejected_signatures=0,
        outbox_lag_gauge_max_ms=None,
        outbox_claim_lag_ms={},
        fanout_lag_ms=None,
        delivery_latency_ms=None,
        intake_capacity_per_second=1000.0,
        webhooks_per_second=200.0,
        cpu_seconds={"intake": 2.0, "sla": 0.4, "releases": 0.2, "notify": 1.0},
        ticket_events_applied={"sla": 400.0, "releases": 400.0, "notify": 400.0},
        consumer_lag_largest=lag,
        consumer_lag_at_end=dict.fromkeys(lag, 0),
        bench_cpu_seconds=bench_cpu_seconds,
        window_seconds=2.5,
    )


def test_a_consumer_that_fell_more_than_a_second_behind_makes_the_run_over_capacity() -> None:
    kept_up = _results({"sla": 3, "releases": 0, "notify": 200})
    behind = _results({"sla": 201, "releases": 0, "notify": 0})

    assert kept_up.consumers_behind == []
    assert not kept_up.over_capacity
    assert behind.consumers_behind == ["sla"]
    assert behind.over_capacity
    assert any("OVER CAPACITY" in row.figure for row in end_to_end_rows(behind))
    lag_row = next(row for row in end_to_end_rows(behind) if "consumer lag" in row.figure)
    assert lag_row.aftercare == "201 → 0 · 0 → 0 · 0 → 0 (BEHIND: sla)"


def test_every_service_cpu_is_reported_per_acknowledged_report() -> None:
    results = _results({"sla": 0, "releases": 0, "notify": 0})

    assert results.cpu_ms_per_report("intake") == 5.0
    assert results.cpu_ms_per_report("sla") == 1.0
    assert results.cpu_ms_per_report("notify") == 2.5
    assert results.as_json()["cpu_ms_per_acknowledged_report"] == {
        "intake": 5.0,
        "sla": 1.0,
        "releases": 0.5,
        "notify": 2.5,
    }


def test_a_saturated_bench_process_makes_the_run_over_capacity() -> None:
    """The bench sends the reports and receives the webhooks on one event loop: busy past
    0.8 of its core, its own queue shows up as the pipeline's latency."""
    quiet = _results({"sla": 0}, bench_cpu_seconds=1.0)  # 0.4 cores over 2.5 s
    saturated = _results({"sla": 0}, bench_cpu_seconds=2.4)  # 0.96 cores

    assert quiet.bench_busy_cores == 0.4
    assert not quiet.over_capacity
    assert saturated.bench_saturated
    assert saturated.over_capacity
    assert saturated.as_json()["bench_process_saturated"] is True
    assert any("SATURATED" in row.aftercare for row in end_to_end_rows(saturated))
    assert not any("SATURATED" in row.aftercare for row in end_to_end_rows(quiet))
