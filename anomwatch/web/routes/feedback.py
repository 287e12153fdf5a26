"""The buttons: real / false positive / acknowledge, written as `anomalies label/ack` does."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from anomwatch.store.feedback import acknowledge, label
from anomwatch.store.schema import anomalies
from anomwatch.web.auth import require_user
from anomwatch.web.csrf import check_csrf
from anomwatch.web.queries import one_event
from anomwatch.web.routes.common import not_found, store_of

router = APIRouter()
ACTIONS = ("real", "false_positive", "acknowledge")
User = Annotated[str, Depends(require_user)]


def _apply(request: Request, user: str, ids: list[int], action: str, csrf: str) -> int:
    check_csrf(request, user, csrf)
    if action not in ACTIONS:
        raise HTTPException(400, f"action must be one of {', '.join(ACTIONS)}")
    store = store_of(request)
    who = f"web:{user}"
    if action == "acknowledge":
        return acknowledge(store, ids, who)
    return label(store, ids, "true_positive" if action == "real" else "false_positive", who)


@router.post("/anomalies/{anomaly_id}/feedback")
def anomaly_feedback(
    request: Request,
    anomaly_id: int,
    user: User,
    action: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    with store_of(request).begin() as conn:
        found = conn.execute(select(anomalies.c.id).where(anomalies.c.id == anomaly_id)).first()
    if found is None:
        raise not_found(f"anomaly {anomaly_id}")
    count = _apply(request, user, [anomaly_id], action, csrf)
    return RedirectResponse(f"/anomalies/{anomaly_id}?done={action}&n={count}", 303)


@router.post("/events/{event_id}/feedback")
def event_feedback(
    request: Request,
    event_id: int,
    user: User,
    action: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
) -> RedirectResponse:
    """The label goes to every point of the event (the classifier learns from points)."""
    store = store_of(request)
    if one_event(store, event_id) is None:
        raise not_found(f"event {event_id}")
    with store.begin() as conn:
        ids = list(
            conn.execute(select(anomalies.c.id).where(anomalies.c.event_id == event_id)).scalars()
        )
    count = _apply(request, user, ids, action, csrf)
    return RedirectResponse(f"/events/{event_id}?done={action}&n={count}", 303)
