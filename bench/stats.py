"""Percentiles and ratios, free of I/O so the arithmetic behind every figure is testable."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 to 100) by linear interpolation between closest ranks.

    The same definition as ``numpy.percentile``'s default, so figures can be checked
    with any spreadsheet. None for an empty sample: a missing figure, not a zero.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    lower = math.floor(rank)
    upper = math.ceil(rank)
    if lower == upper:
        return ordered[lower]
    weight = rank - lower
    return ordered[lower] * (1.0 - weight) + ordered[upper] * weight


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Estimate a quantile (0 to 1) from cumulative Prometheus buckets ``(upper_bound, count)``.

    Mirrors PromQL's ``histogram_quantile``: linear interpolation inside the bucket the
    rank falls in, the lowest bucket starting at 0, and an answer in the ``+Inf`` bucket
    clamped to the highest finite bound (the histogram knows nothing beyond it).
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within 0..1, got {q}")
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return None
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for upper_bound, cumulative in ordered:
        if cumulative >= rank:
            if math.isinf(upper_bound):
                return previous_bound
            in_bucket = cumulative - previous_count
            if in_bucket <= 0:
                return upper_bound
            return previous_bound + (upper_bound - previous_bound) * (
                (rank - previous_count) / in_bucket
            )
        previous_bound, previous_count = upper_bound, cumulative
    return previous_bound


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, or None when either is missing or the baseline is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
