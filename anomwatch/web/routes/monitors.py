"""The monitors page (anomwatch status for each) and one monitor's events and anomalies."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from anomwatch.status import gather
from anomwatch.store.runs import known_monitors
from anomwatch.web.filters import BadFilter, make_key, page_key, parse_filters
from anomwatch.web.overview import overview
from anomwatch.web.queries import page_of_anomalies, page_of_events
from anomwatch.web.routes.common import monitors_file, not_found, store_of
from anomwatch.web.templating import TEMPLATES, render

router = APIRouter()


@router.get("/style.css")
def style() -> FileResponse:
    return FileResponse(TEMPLATES / "style.css", media_type="text/css")


@router.get("/", response_class=HTMLResponse)
def monitors_page(request: Request) -> HTMLResponse:
    parsed = monitors_file(request)
    configured = [] if isinstance(parsed, str) else [m.name for m in parsed.monitors]
    return render(
        request,
        "monitors.html",
        rows=overview(store_of(request), configured),
        config_error=parsed if isinstance(parsed, str) else None,
    )


@router.get("/monitors/{name}", response_class=HTMLResponse)
def monitor_page(request: Request, name: str) -> HTMLResponse:
    store = store_of(request)
    parsed = monitors_file(request)
    config = (
        None
        if isinstance(parsed, str)
        else next((m for m in parsed.monitors if m.name == name), None)
    )
    if config is None and name not in known_monitors(store):
        raise not_found(f"monitor {name!r}")
    status = gather(store, config) if config is not None else None
    params = dict(request.query_params)
    try:
        filters = parse_filters(params)
        events, more_events = page_of_events(store, name, filters, page_key(params.get("eafter")))
        points, more_points = page_of_anomalies(store, name, filters, page_key(params.get("after")))
    except BadFilter as exc:
        raise HTTPException(400, str(exc)) from None
    next_events = (
        filters.query(eafter=make_key(events[-1]["started_at"], events[-1]["id"]))
        if more_events
        else None
    )
    next_points = (
        filters.query(after=make_key(points[-1]["ts"], points[-1]["id"])) if more_points else None
    )
    return render(
        request,
        "monitor.html",
        monitor=name,
        status=status,
        filters=filters,
        events=events,
        points=points,
        next_events=next_events,
        next_points=next_points,
        first_page=filters.query(),
        paged=bool(params.get("after") or params.get("eafter")),
    )
