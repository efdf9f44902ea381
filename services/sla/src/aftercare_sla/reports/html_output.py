"""The monthly report as one self-contained, printable HTML page (A4, no JavaScript).

Jinja2 with autoescaping on: every string a client supplied (ticket titles, comments,
monitor names) is escaped. Charts are inline SVG drawn from :mod:`charts`; styles are
inline, so the page needs no other request.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aftercare_sla.reports.charts import compliance_chart, trend_chart

NOTHING = "\u2013"  # an en dash: no figure to show

_environment = Environment(
    loader=PackageLoader("aftercare_sla.reports", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html", "j2"), default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _duration(seconds: float | None) -> str:
    """``3 h 20 min``, ``2 d 4 h``, ``45 min``; a dash when there is nothing to show."""
    if seconds is None:
        return NOTHING
    minutes = round(seconds / 60)
    days, rest = divmod(minutes, 1440)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _when(iso: str | None, timezone: str = "UTC") -> str:
    """The moment in the client's time zone, to the minute."""
    if iso is None:
        return NOTHING
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def _number(value: float | None, suffix: str = "") -> str:
    return NOTHING if value is None else f"{value:g}{suffix}"


_environment.filters["duration"] = _duration
_environment.filters["when"] = _when
_environment.filters["number"] = _number


def render_monthly_html(report: dict[str, Any]) -> str:
    template = _environment.get_template("monthly.html.j2")
    return template.render(
        report=report,
        compliance=compliance_chart(report["sla"]),
        flow=trend_chart(report["trend"]),
    )
