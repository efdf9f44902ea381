"""The monthly report's HTML in headless Chromium: it renders without console errors, prints
to A4 PDF with the expected pages and text (pdftotext), and needs nothing from outside.

Needs Debian's ``chromium`` and ``poppler-utils`` (``.ci/run`` installs them). With
``AFTERCARE_REPORT_SCREENSHOT=<path.png>`` the test also saves a screenshot there (the one
in docs/ was made so).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.sla.report_history import september
from tests.integration.sla.sla_support import STAFF, apply_events

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-logging=stderr",
    "--v=0",
    "--no-first-run",
    "--disable-extensions",
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is missing: install Debian's chromium and poppler-utils (.ci/run does)"
        )
    return path


async def _run(*command: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, output.decode(errors="replace")


async def test_html_report_prints_in_chromium(
    api: httpx.AsyncClient, app_sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    chromium, pdftotext = _tool("chromium"), _tool("pdftotext")
    client_id = f"c-{uuid.uuid4().hex[:8]}"
    await apply_events(app_sessions, *september(client_id, plan_id=f"plan-{client_id}"))

    answer = await api.get(
        f"/v1/clients/{client_id}/reports/2026-09", headers={**STAFF, "Accept": "text/html"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    # Self-contained: no script, no stylesheet or image fetched from anywhere.
    assert "<script" not in html.replace("&lt;script", "")
    assert not re.search(r"""(src|href)\s*=""", html)
    assert "<svg" in html
    # Client-supplied strings are escaped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Acme &lt;GmbH&gt;" in html

    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    status, log = await _run(
        chromium,
        *CHROMIUM_FLAGS,
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        page.as_uri(),
    )
    assert status == 0, log
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert pdf.stat().st_size > 0

    status, info = await _run("pdfinfo", str(pdf))
    assert status == 0, info
    # Summary and tickets; SLA compliance; releases, routine checks and satisfaction.
    assert re.search(r"^Pages:\s+3$", info, re.MULTILINE), info
    assert re.search(r"^Page size:\s+59[45]\.\d+ x 84[12]\.\d+ pts \(A4\)", info, re.MULTILINE), (
        info
    )
    status, text = await _run(pdftotext, "-layout", str(pdf), "-")
    assert status == 0, text
    pages = text.split("\f")
    assert "Maintenance report: Acme <GmbH>" in pages[0]
    assert "Opened by kind and priority" in pages[0]
    assert "SLA compliance" in pages[1]
    assert "18 h 0 min" in pages[1]  # how late the P2 first response was
    assert "Releases and patches" in pages[2]
    assert "Routine checks" in pages[2]
    assert "Good, but <script>alert(1)</script> slow" in pages[2]
    for figure in ("99.306", "80%", "Checkout <heartbeat>", "1.2.0", "GHSA-"):
        assert figure in text, figure

    if screenshot := os.environ.get("AFTERCARE_REPORT_SCREENSHOT"):
        status, log = await _run(
            chromium,
            *CHROMIUM_FLAGS,
            "--hide-scrollbars",
            "--window-size=900,1500",
            f"--screenshot={screenshot}",
            page.as_uri(),
        )
        assert status == 0, log
