"""/metrics on the web server: the exporter's scrape, behind the same logins as the pages
(Prometheus sends them with `basic_auth` or `authorization` in its scrape config)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from anomwatch.exporter import CONTENT_TYPE, render_metrics
from anomwatch.web.routes.common import store_of

router = APIRouter()


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    body = await run_in_threadpool(render_metrics, store_of(request))
    return Response(body, media_type=CONTENT_TYPE)
