"""The report's per-day and per-series charts of a monitor (anomwatch/report.py draws them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select

from anomwatch.durations import parse_time, utcnow
from anomwatch.report import TOP_SERIES, bar_chart_png
from anomwatch.store.runs import known_monitors
from anomwatch.store.schema import anomalies
from anomwatch.web.routes.common import not_found, store_of
from anomwatch.web.templating import render

router = APIRouter()


def _window(request: Request, name: str) -> tuple[datetime, datetime]:
    if name not in known_monitors(store_of(request)):
        raise not_found(f"monitor {name!r}")
    try:
        since = parse_time(request.query_params.get("since") or "7d")
        until = (
            parse_time(request.query_params["until"])
            if request.query_params.get("until")
            else utcnow()
        )
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if until < since:
        raise HTTPException(400, "until is before since")
    return since, until


def _counts(request: Request, name: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Anomalies per day and per series, counted by the database (not fetched row by row)."""
    window = [anomalies.c.monitor == name, anomalies.c.ts >= since, anomalies.c.ts <= until]
    day = func.date(anomalies.c.ts)
    with store_of(request).begin() as conn:
        per_day = [
            (str(d), int(n))
            for d, n in conn.execute(
                select(day, func.count()).where(*window).group_by(day).order_by(day)
            )
        ]
        per_series = [
            (s, int(n))
            for s, n in conn.execute(
                select(anomalies.c.series, func.count().label("n"))
                .where(*window)
                .group_by(anomalies.c.series)
                .order_by(func.count().desc(), anomalies.c.series)
            )
        ]
    return {"per_day": per_day, "per_series": per_series}


@router.get("/monitors/{name}/report", response_class=HTMLResponse)
def report_page(request: Request, name: str) -> HTMLResponse:
    since, until = _window(request, name)
    counts = _counts(request, name, since, until)
    query = request.url.query
    return render(
        request,
        "report.html",
        monitor=name,
        since=since,
        until=until,
        total=sum(n for _, n in counts["per_day"]),
        query=query,
        since_text=request.query_params.get("since") or "7d",
        until_text=request.query_params.get("until") or "",
        **counts,
    )


def _chart(request: Request, name: str, kind: str) -> Response:
    since, until = _window(request, name)
    counts = _counts(request, name, since, until)
    if kind == "per-day":
        rows, horizontal = counts["per_day"], False
    else:
        rows, horizontal = counts["per_series"][:TOP_SERIES], True
    png = bar_chart_png([r[0] for r in rows], [r[1] for r in rows], horizontal)
    return Response(png, media_type="image/png")


@router.get("/monitors/{name}/report/{kind}.png")
async def report_chart(request: Request, name: str, kind: str) -> Response:
    if kind not in ("per-day", "per-series"):
        raise not_found(f"chart {kind!r}")
    return await run_in_threadpool(_chart, request, name, kind)
