"""Reports as CSV: each table of the JSON answer, one after another.

Every table starts with a header row whose first cell is ``table``; its rows carry the
table's name in that first column, and a blank line separates tables. So a spreadsheet
shows them one under the other and a program picks a table by its first column.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Table = tuple[str, Sequence[Mapping[str, Any]]]


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if isinstance(value, dict):
        return " ".join(f"{key}={item}" for key, item in value.items())
    return "" if value is None else value


def tables_csv(tables: Iterable[Table]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    first = True
    for name, rows in tables:
        if not rows:
            continue
        if not first:
            writer.writerow([])
        first = False
        columns = list(rows[0])
        writer.writerow(["table", *columns])
        for row in rows:
            writer.writerow([name, *(_cell(row.get(column)) for column in columns)])
    return out.getvalue()


def sla_tables(report: Mapping[str, Any]) -> list[Table]:
    return [
        ("totals", [report["totals"]]),
        ("metrics", report["metrics"]),
        ("mttr", report["mttr"]),
        ("breaches", report["breaches"]),
    ]


def monthly_tables(report: Mapping[str, Any]) -> list[Table]:
    tickets = report["tickets"]
    return [
        ("trend", report["trend"]),
        (
            "backlog",
            [
                {
                    "opened": tickets["opened_total"],
                    "resolved": tickets["resolved_total"],
                    "backlog_start": tickets["backlog_start"],
                    "backlog_end": tickets["backlog_end"],
                    "oldest_open_ticket_id": (tickets["oldest_open"] or {}).get("ticket_id"),
                    "oldest_open_age_days": (tickets["oldest_open"] or {}).get("age_days"),
                }
            ],
        ),
        ("tickets_opened", tickets["opened"]),
        ("tickets_resolved", tickets["resolved"]),
        *[(f"sla_{name}", rows) for name, rows in sla_tables(report["sla"])],
        ("deployments", report["releases"]["deployments"]),
        ("advisories", report["releases"]["advisories"]),
        ("monitors", report["monitoring"]["monitors"]),
        ("incidents", report["monitoring"]["incidents"]),
        (
            "satisfaction",
            [
                {
                    "responses": report["satisfaction"]["responses"],
                    "average": report["satisfaction"]["average"],
                    **{f"rated_{k}": v for k, v in report["satisfaction"]["ratings"].items()},
                }
            ],
        ),
        ("comments", report["satisfaction"]["comments"]),
    ]
