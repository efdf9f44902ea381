"""Reading what wrk, pgbench, /proc and /metrics say, without running any of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.footprint import parse_cpu_ticks, parse_rss_kib, read_footprint
from bench.paced_load import send_offsets
from bench.pgbench_runner import (
    PgbenchOutputError,
    parse_pgbench_summary,
    parse_transaction_log,
)
from bench.prometheus_scrape import (
    bucket_delta,
    histogram_buckets,
    parse_samples,
    total,
    window_quantiles,
)
from bench.wrk_runner import SCRIPTS_DIR, WrkOutputError, parse_wrk_output, wrk_command

WRK_OUTPUT = """\
Running 15s test @ http://127.0.0.1:8001
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.20ms   18.94ms 157.07ms   92.03%
  2605 requests in 3.03s, 463.00KB read
  Non-2xx or 3xx responses: 5
Requests/sec:    860.92
BENCH_WRK_SUMMARY {"requests":2605,"duration_us":3025836,"bytes":474110,\
"acknowledged":2600,"refused":5,"errors":{"connect":1,"read":2,"write":0,"status":5,\
"timeout":3},"latency_us":{"mean":21198.5,"max":157069,"p50":16714,"p90":33692,\
"p99":122619,"p99_9":156513}}
"""


def test_wrk_summary_line_gives_rates_latencies_and_every_kind_of_error() -> None:
    result = parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 2605
    assert result.duration_seconds == pytest.approx(3.025836)
    assert result.requests_per_second == pytest.approx(2605 / 3.025836)
    assert result.acknowledged_per_second == pytest.approx(2600 / 3.025836)
    assert result.latency_p50_ms == pytest.approx(16.714)
    assert result.latency_p99_ms == pytest.approx(122.619)
    assert result.latency_max_ms == pytest.approx(157.069)
    # "status" (answers >= 400) is already in "refused": counted once, not twice.
    assert result.socket_errors == 1 + 2 + 0 + 3
    assert result.errors == 5 + 6


def test_wrk_output_without_the_summary_line_is_an_error() -> None:
    with pytest.raises(WrkOutputError, match="BENCH_WRK_SUMMARY"):
        parse_wrk_output("Requests/sec: 10\n")
    with pytest.raises(WrkOutputError, match="unreadable"):
        parse_wrk_output('BENCH_WRK_SUMMARY {"requests": 1}\n')


def test_wrk_command_never_has_more_threads_than_connections() -> None:
    command = wrk_command(
        "/usr/bin/wrk",
        url="http://127.0.0.1:1",
        script="ping.lua",
        connections=1,
        threads=2,
        duration_seconds=14.6,
        script_args=["tag", "key"],
    )
    assert "--threads=1" in command
    assert "--duration=15s" in command
    assert f"--script={SCRIPTS_DIR / 'ping.lua'}" in command
    assert command[-3:] == ["--", "tag", "key"]


def test_every_wrk_script_the_bench_names_exists() -> None:
    for script in ("unique_reports.lua", "dedup_storm.lua", "ping.lua", "common.lua"):
        assert (SCRIPTS_DIR / script).is_file()


PGBENCH_OUTPUT = """\
pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: /tmp/one_row_insert.sql
scaling factor: 1
query mode: prepared
number of clients: 32
number of threads: 2
maximum number of tries: 1
duration: 15 s
number of transactions actually processed: 38120
number of failed transactions: 3 (0.008%)
latency average = 1.219 ms
initial connection time = 21.305 ms
tps = 13116.527547 (without initial connection time)
"""


def test_pgbench_summary_gives_tps_transactions_and_failures() -> None:
    assert parse_pgbench_summary(PGBENCH_OUTPUT) == (13116.527547, 38120, 3)


def test_pgbench_summary_before_postgres_15_has_no_failure_line() -> None:
    older = PGBENCH_OUTPUT.replace("number of failed transactions: 3 (0.008%)\n", "")
    assert parse_pgbench_summary(older) == (13116.527547, 38120, 0)


def test_pgbench_without_a_tps_line_is_an_error() -> None:
    with pytest.raises(PgbenchOutputError):
        parse_pgbench_summary("connection to server failed\n")


def test_pgbench_transaction_log_gives_latencies_in_ms_and_skips_failures() -> None:
    lines = [
        "0 0 345 0 1795795000 123456\n",
        "1 0 1200 0 1795795000 123999\n",
        "1 1 failed 0 1795795001 100\n",
        "\n",
    ]
    assert parse_transaction_log(lines) == [0.345, 1.2]


PROC_STATUS = "Name:\tpython\nVmPeak:\t  300000 kB\nVmRSS:\t  103424 kB\nThreads:\t4\n"
# A command name with spaces and parentheses must not shift the fields.
PROC_STAT = "4242 (python (bench) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 75 0 0 20 0 4 0 1"


def test_proc_status_and_stat_give_rss_and_cpu_ticks() -> None:
    assert parse_rss_kib(PROC_STATUS) == 103424
    assert parse_cpu_ticks(PROC_STAT) == 250 + 75


def test_a_process_without_rss_is_reported_as_such() -> None:
    with pytest.raises(ValueError, match="VmRSS"):
        parse_rss_kib("Name:\tkworker\n")


def test_read_footprint_reads_a_proc_tree(tmp_path: Path) -> None:
    (tmp_path / "4242").mkdir()
    (tmp_path / "4242" / "status").write_text(PROC_STATUS)
    (tmp_path / "4242" / "stat").write_text(PROC_STAT)
    footprint = read_footprint(4242, proc=tmp_path)
    assert footprint.rss_mib == pytest.approx(101.0)
    assert footprint.cpu_seconds > 0


METRICS_BEFORE = """\
# TYPE aftercare_notify_fanout_lag_seconds histogram
aftercare_notify_fanout_lag_seconds_bucket{le="0.1"} 5.0
aftercare_notify_fanout_lag_seconds_bucket{le="0.5"} 5.0
aftercare_notify_fanout_lag_seconds_bucket{le="+Inf"} 5.0
aftercare_notify_fanout_lag_seconds_count 5.0
aftercare_notify_fanout_lag_seconds_sum 0.2
# TYPE aftercare_http_requests_total counter
aftercare_http_requests_total{method="POST",route="/v1/reports",status="201"} 7.0
aftercare_http_requests_total{method="POST",route="/v1/reports",status="200"} 3.0
aftercare_http_requests_total{method="GET",route="/metrics",status="200"} 9.0
"""
METRICS_AFTER = METRICS_BEFORE.replace('le="0.5"} 5.0', 'le="0.5"} 15.0').replace(
    'le="+Inf"} 5.0', 'le="+Inf"} 15.0'
)


def test_counters_sum_over_the_labels_not_asked_for() -> None:
    samples = parse_samples(METRICS_BEFORE)
    assert total(samples, "aftercare_http_requests_total", {"method": "POST"}) == 10.0
    assert total(samples, "aftercare_http_requests_total", {"status": "200"}) == 12.0
    assert total(samples, "aftercare_not_exposed_total") is None


def test_window_quantiles_see_only_what_happened_between_two_scrapes() -> None:
    before, after = parse_samples(METRICS_BEFORE), parse_samples(METRICS_AFTER)
    histogram = "aftercare_notify_fanout_lag_seconds"
    window = bucket_delta(histogram_buckets(before, histogram), histogram_buckets(after, histogram))
    assert window == [(0.1, 0.0), (0.5, 10.0), (float("inf"), 10.0)]
    quantiles = window_quantiles(before, after, histogram, (0.5, 0.99))
    assert quantiles is not None
    assert quantiles["p50"] == pytest.approx(0.3)  # all ten observed in (0.1, 0.5]
    assert window_quantiles(before, after, "aftercare_missing_seconds", (0.5,)) is None


def test_paced_load_spaces_reports_evenly() -> None:
    offsets = send_offsets(200.0, 0.05)
    assert offsets == pytest.approx(
        [0.0, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.045]
    )


def test_summary_json_is_what_common_lua_prints() -> None:
    # The format string in common.lua and this parser must agree on every key.
    lua = (SCRIPTS_DIR / "common.lua").read_text()
    line = WRK_OUTPUT.splitlines()[-1].removeprefix("BENCH_WRK_SUMMARY ")
    for key in json.loads(line):
        assert f'"{key}"' in lua
