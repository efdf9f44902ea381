"""Read what the services expose on ``/metrics``: counters, gauges and histogram buckets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.stats import histogram_quantile


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def parse_samples(exposition: str) -> list[Sample]:
    return [
        Sample(sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    ]


async def scrape(client: httpx.AsyncClient, base_url: str) -> list[Sample]:
    response = await client.get(f"{base_url}/metrics")
    response.raise_for_status()
    return parse_samples(response.text)


def _matches(sample: Sample, name: str, labels: Mapping[str, str]) -> bool:
    return sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())


def total(
    samples: Sequence[Sample], name: str, labels: Mapping[str, str] | None = None
) -> float | None:
    """The sum of every sample of ``name`` with these labels; None when none is exposed."""
    matching = [s.value for s in samples if _matches(s, name, labels or {})]
    return sum(matching) if matching else None


def histogram_buckets(
    samples: Sequence[Sample], histogram: str, labels: Mapping[str, str] | None = None
) -> list[tuple[float, float]]:
    """Cumulative ``(upper_bound, count)`` pairs of ``histogram``, summed over other labels."""
    counts: dict[float, float] = {}
    for sample in samples:
        if _matches(sample, f"{histogram}_bucket", labels or {}):
            bound = float(sample.labels["le"])
            counts[bound] = counts.get(bound, 0.0) + sample.value
    return sorted(counts.items())


def bucket_delta(
    before: Sequence[tuple[float, float]], after: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """What a histogram observed between two scrapes (buckets only ever grow)."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


def window_quantiles(
    before: Sequence[Sample],
    after: Sequence[Sample],
    histogram: str,
    quantiles: Sequence[float],
    labels: Mapping[str, str] | None = None,
) -> dict[str, float | None] | None:
    """Quantiles of what ``histogram`` observed between two scrapes, keyed ``p50``, ``p99``…

    None when the service does not expose that histogram at all.
    """
    buckets_after = histogram_buckets(after, histogram, labels)
    if not buckets_after:
        return None
    window = bucket_delta(histogram_buckets(before, histogram, labels), buckets_after)
    return {f"p{round(q * 100):d}": histogram_quantile(q, window) for q in quantiles}
