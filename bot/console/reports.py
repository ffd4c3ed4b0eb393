"""The report button: the post-crisis report of the period on screen.

    GET /report?day=2026-11-28&format=pdf&language=fr
    GET /report?period=24h&format=html

Same report as `relais report` (bot/insights/report.py), for every role.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.console import accounts
from bot.console.overview import EVERYONE, window
from bot.console.security import Viewer, requires, settings_of
from bot.corrections.figures import report_part
from bot.db import get_session_factory
from bot.insights.report import ReportError, make

TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


@requires(EVERYONE)
async def report(request: Request, viewer: Viewer) -> Response:
    settings = settings_of(request)
    params = {
        k: request.query_params[k]
        for k in ("period", "day")
        if request.query_params.get(k)
    }
    fmt = request.query_params.get("format", "pdf")
    language = request.query_params.get("language", "fr")
    if fmt not in TYPES or language not in ("fr", "en"):
        raise HTTPException(400, "format is pdf or html; language is fr or en.")
    start, end, _ = window(settings, params)

    def made() -> bytes:
        with get_session_factory(settings.database_url).begin() as session:
            names = accounts.display_names(session=session)
        return make(settings, start, end, language, fmt, [report_part], names)

    try:
        content = await run_in_threadpool(made)
    except ReportError as error:
        raise HTTPException(503, str(error)) from None
    name = f"relais-report-{start.astimezone(settings.timezone):%Y%m%d-%H%M}.{fmt}"
    return Response(
        content,
        media_type=TYPES[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


routes = [Route("/report", report)]
