"""One event, one anomaly, and the plot of an anomaly's series read from the source."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from anomwatch.errors import AnomwatchError
from anomwatch.store.feedback import anomaly_detail
from anomwatch.web.queries import event_anomalies, event_digest_ids, one_event, sent_messages
from anomwatch.web.routes.common import monitor_config, not_found, store_of
from anomwatch.web.templating import render

router = APIRouter()


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, event_id: int) -> HTMLResponse:
    store = store_of(request)
    event = one_event(store, event_id)
    if event is None:
        raise not_found(f"event {event_id}")
    points = event_anomalies(store, event_id)
    peak = max(points, key=lambda p: (p["score"], -p["id"])) if points else None
    return render(
        request,
        "event.html",
        event=event,
        points=points,
        peak=peak,
        sent=sent_messages(store, event_digest_ids(event, points)),
    )


@router.get("/anomalies/{anomaly_id}", response_class=HTMLResponse)
def anomaly_page(request: Request, anomaly_id: int) -> HTMLResponse:
    store = store_of(request)
    detail = anomaly_detail(store, anomaly_id)
    if detail is None:
        raise not_found(f"anomaly {anomaly_id}")
    sent = sent_messages(store, [detail["digest_id"]] if detail["digest_id"] else [])
    return render(request, "anomaly.html", a=detail, sent=sent)


def _no_plot_svg(reason: str) -> Response:
    """A small image saying why there is no plot (escaped: it may quote the source)."""
    text = html.escape(f"No plot: {reason}")[:400]
    body = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="800" height="60">'
        '<rect width="100%" height="100%" fill="#f6f6f6"/>'
        f'<text x="10" y="35" font-family="sans-serif" font-size="13">{text}</text></svg>'
    )
    return Response(body, media_type="image/svg+xml", headers={"X-No-Plot": "1"})


def _plot(request: Request, anomaly_id: int) -> Response:
    from anomwatch.anomaly_plot import NoPlot, anomaly_plot
    from anomwatch.report import png_bytes

    store = store_of(request)
    detail = anomaly_detail(store, anomaly_id)
    if detail is None:
        raise not_found(f"anomaly {anomaly_id}")
    config = monitor_config(request, detail["monitor"])
    if isinstance(config, str):
        return _no_plot_svg(f"the source cannot be read ({config})")
    try:
        plot = anomaly_plot(store, config, detail)
    except (NoPlot, AnomwatchError) as exc:
        return _no_plot_svg(str(exc))
    return Response(png_bytes(plot.figure), media_type="image/png")


@router.get("/anomalies/{anomaly_id}/plot.png")
async def anomaly_plot_png(request: Request, anomaly_id: int) -> Response:
    """The series around the anomaly with its expected band (matplotlib, as `anomalies
    show` draws it); served apart from the page so a slow source never delays the page."""
    return await run_in_threadpool(_plot, request, anomaly_id)
