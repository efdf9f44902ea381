"""Map local wall-clock readings to UTC instants, and instants to exact integers.

Business hours are written in local wall time, but a wall reading can be missing (the
spring-forward gap) or happen twice (the fall-back fold). One rule settles both: a wall
reading stands for the *first instant at which the local clock shows that reading or a
later one*. In a gap that is the instant the gap ends; in a fold it is the first pass
(``fold=0``). The rule is monotonic - a later wall reading never maps to an earlier
instant - so business intervals that do not overlap in wall time never overlap in UTC.

Instants are carried as integer microseconds since the Unix epoch: that is the resolution
of ``datetime`` itself, so the arithmetic is exact and cheaper than ``datetime`` objects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)
_ONE_SECOND_US = 1_000_000


def require_aware(moment: datetime, name: str) -> None:
    """Refuse naive datetimes: a naive value has no defined instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


def to_microseconds(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact)."""
    return (moment - _EPOCH) // _ONE_MICROSECOND


def from_microseconds(microseconds: int) -> datetime:
    """The UTC datetime for microseconds since the Unix epoch."""
    return _EPOCH + timedelta(microseconds=microseconds)


def resolve_wall_time(wall: datetime, zone: ZoneInfo) -> int:
    """The instant (epoch microseconds) a naive local wall reading stands for in ``zone``.

    The first instant at which the local clock reads ``wall`` or later: the first pass
    through a repeated hour, the end of the gap for a reading that is skipped.
    """
    first_pass = to_microseconds(wall.replace(tzinfo=zone, fold=0))
    if from_microseconds(first_pass).astimezone(zone).replace(tzinfo=None) == wall:
        return first_pass
    # The reading falls in a gap. PEP 495 resolves fold=0 with the offset from before the
    # transition and fold=1 with the offset from after it, which brackets the transition:
    # with_later_offset < transition <= first_pass. zoneinfo does not expose transition
    # instants, so find the first instant carrying the later offset by bisection; tz data
    # transitions fall on whole seconds and gaps are hours long, so this takes ~14 steps
    # and runs only for the few wall times that land in a gap.
    with_later_offset = to_microseconds(wall.replace(tzinfo=zone, fold=1))
    later_offset = from_microseconds(first_pass).astimezone(zone).utcoffset()
    before = with_later_offset // _ONE_SECOND_US
    after = -(-first_pass // _ONE_SECOND_US)
    while after - before > 1:
        middle = (before + after) // 2
        if from_microseconds(middle * _ONE_SECOND_US).astimezone(zone).utcoffset() == later_offset:
            after = middle
        else:
            before = middle
    return after * _ONE_SECOND_US
