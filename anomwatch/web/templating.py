"""Jinja2 templates (autoescaped: series names and values render as text) and filters."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from anomwatch.durations import format_duration
from anomwatch.notify.digest import score_text
from anomwatch.web.csrf import csrf_token

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _lag(value: timedelta | None) -> str:
    return "no rows scored yet" if value is None else format_duration(value)


def _components(text: str | None) -> list[tuple[str, float]]:
    try:
        parts = json.loads(text or "{}")
    except ValueError:
        return []
    return sorted((str(k), float(v)) for k, v in parts.items())


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    assert env.autoescape  # Starlette turns it on for .html; the pages rely on it
    env.filters.update(
        when=_when,
        number=_number,
        score=lambda v: "" if v is None else score_text(float(v)),
        lag=_lag,
        components=_components,
    )
    return templates


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with the user and the CSRF token its forms need."""
    user = getattr(request.state, "user", "")
    context.update(user=user, csrf=csrf_token(request.app.state.csrf_secret, user))
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status_code)
