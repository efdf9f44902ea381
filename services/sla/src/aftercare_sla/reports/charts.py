"""Chart geometry for the HTML report: numbers only, drawn as inline SVG by the template.

Labels are passed through to the template, which escapes them (autoescape); this module
never builds markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BAR_AREA_WIDTH = 300.0


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    shown: str
    width: float
    y: float
    tone: str


def horizontal_bars(
    items: list[tuple[str, float | None, str]], *, maximum: float | None = None, row: float = 22.0
) -> dict[str, Any]:
    """Bars for ``(label, value, tone)``: width proportional to the value (None: no bar)."""
    values = [value for _, value, _ in items if value is not None]
    top = maximum if maximum is not None else max(values, default=0.0)
    bars = [
        Bar(
            label=label,
            value=value,
            shown="n/a" if value is None else f"{value:g}",
            width=0.0 if value is None or top <= 0 else BAR_AREA_WIDTH * value / top,
            y=index * row,
            tone=tone,
        )
        for index, (label, value, tone) in enumerate(items)
    ]
    return {"bars": bars, "height": max(len(bars), 1) * row, "row": row}


def compliance_chart(sla: dict[str, Any]) -> dict[str, Any]:
    """SLA met % per metric and priority (rows with finished clocks only)."""
    items: list[tuple[str, float | None, str]] = []
    for row in sla["metrics"]:
        if row["met"] + row["breached"] == 0:
            continue
        value = row["met_percent"]
        tone = "good" if value is not None and value >= 90 else "bad"
        items.append((f"{row['metric'].replace('_', ' ')} {row['priority']}", value, tone))
    return horizontal_bars(items, maximum=100.0)


def trend_chart(trend: list[dict[str, Any]]) -> dict[str, Any]:
    """Ticket flow this period against the previous one."""
    items: list[tuple[str, float | None, str]] = []
    for figure in trend:
        if figure["figure"] in {"tickets_opened", "tickets_resolved", "backlog_end"}:
            items.append((f"{figure['label']} (now)", figure["current"], "now"))
            items.append((f"{figure['label']} (before)", figure["previous"], "before"))
    return horizontal_bars(items)
