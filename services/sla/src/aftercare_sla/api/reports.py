"""Client reports: SLA compliance over a window, and the monthly maintenance report.

JSON by default; CSV with ``Accept: text/csv`` or ``?format=csv``; the monthly report
also as a printable HTML page with ``Accept: text/html`` or ``?format=html``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from aftercare_shared.auth.dependencies import CurrentPrincipal
from aftercare_shared.problems import problem_responses
from aftercare_shared.sessions import SessionDep
from aftercare_sla.reports import use_cases
from aftercare_sla.reports.csv_output import monthly_tables, sla_tables, tables_csv
from aftercare_sla.reports.html_output import render_monthly_html

router = APIRouter(
    tags=["reports"],
    responses=problem_responses(
        {
            401: "No or unknown credentials.",
            404: "No reports for that client, or it is not the caller's client.",
            422: "A bad period, window or query parameter.",
            429: "Too many calls with this client key; see Retry-After.",
        }
    ),
)

OutputFormat = Literal["json", "csv", "html"]
FormatQuery = Annotated[
    OutputFormat | None,
    Query(alias="format", description="Overrides the Accept header: json, csv or html."),
]
AcceptHeader = Annotated[str | None, Header(include_in_schema=False)]


def chosen_format(explicit: OutputFormat | None, accept: str | None) -> OutputFormat:
    if explicit is not None:
        return explicit
    accept = (accept or "").lower()
    if "text/csv" in accept:
        return "csv"
    if "text/html" in accept:
        return "html"
    return "json"


def _csv(body: str, filename: str) -> Response:
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/v1/reports/sla",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
async def sla_report(
    session: SessionDep,
    principal: CurrentPrincipal,
    first_day: Annotated[date, Query(alias="from", description="First day (client's zone).")],
    day_after: Annotated[date, Query(alias="to", description="Day after the last (exclusive).")],
    client_id: Annotated[str | None, Query(max_length=200)] = None,
    plan_id: Annotated[str | None, Query(max_length=200)] = None,
    output: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Any:
    """SLA compliance per metric and priority, MTTR per priority, and the breaches."""
    report = await use_cases.sla_report(
        session,
        viewer=principal,
        client_id=client_id,
        plan_id=plan_id,
        first_day=first_day,
        day_after=day_after,
    )
    if chosen_format(output, accept) == "csv":
        return _csv(tables_csv(sla_tables(report)), f"sla-{first_day}-{day_after}.csv")
    return JSONResponse(report)


@router.get(
    "/v1/clients/{client_id}/reports/{period}",
    responses={200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}},
)
async def client_report(
    client_id: str,
    period: Annotated[str, Path(description="A month (2026-11) or a quarter (2026-Q4).")],
    session: SessionDep,
    principal: CurrentPrincipal,
    output: FormatQuery = None,
    accept: AcceptHeader = None,
) -> Any:
    """The monthly (or quarterly) maintenance report, with the trend on the period before."""
    report = await use_cases.client_report(
        session, viewer=principal, client_id=client_id, period=period
    )
    match chosen_format(output, accept):
        case "csv":
            return _csv(tables_csv(monthly_tables(report)), f"report-{client_id}-{period}.csv")
        case "html":
            return HTMLResponse(render_monthly_html(report))
        case _:
            return JSONResponse(report)
