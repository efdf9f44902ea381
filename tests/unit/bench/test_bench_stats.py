"""The arithmetic behind every bench figure: percentiles, histogram quantiles, ratios."""

from __future__ import annotations

import math

import pytest

from bench.stats import histogram_quantile, percentile, ratio

INF = math.inf


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]
    assert percentile(values, 0) == 15.0
    assert percentile(values, 100) == 50.0
    assert percentile(values, 50) == 35.0
    assert percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile gives 29.0
    assert percentile(values, 99) == pytest.approx(49.6)


def test_percentile_ignores_input_order_and_handles_one_value() -> None:
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_missing_not_zero() -> None:
    assert percentile([], 50) is None


def test_percentile_refuses_a_fraction_where_a_percentage_is_meant() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    # 10 observations <= 0.1 s, 10 more in (0.1, 0.5]: the median is the top of the first.
    buckets = [(0.1, 10.0), (0.5, 20.0), (INF, 20.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.75, buckets) == pytest.approx(0.3)
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.05)  # lowest bucket starts at 0


def test_histogram_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    buckets = [(0.1, 1.0), (1.0, 2.0), (INF, 10.0)]
    assert histogram_quantile(0.99, buckets) == 1.0


def test_histogram_quantile_is_missing_without_observations_or_inf_bucket() -> None:
    assert histogram_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None
    assert histogram_quantile(0.5, [(0.1, 3.0)]) is None
    assert histogram_quantile(0.5, []) is None


def test_histogram_quantile_sorts_buckets_itself() -> None:
    assert histogram_quantile(0.5, [(INF, 4.0), (1.0, 4.0), (0.5, 2.0)]) == pytest.approx(0.5)


def test_ratio_is_missing_when_a_side_is_missing_or_the_baseline_is_zero() -> None:
    assert ratio(50.0, 200.0) == 0.25
    assert ratio(None, 2.0) is None
    assert ratio(1.0, None) is None
    assert ratio(1.0, 0.0) is None
