"""CSRF tokens for the feedback forms.

Browsers resend basic-auth credentials on their own, so a page elsewhere could post a
label in the user's name; each form carries an HMAC of the user under a per-server
secret, checked in constant time before anything is written.
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request, status


def csrf_token(secret: bytes, user: str) -> str:
    return hmac.new(secret, f"csrf:{user}".encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, user: str, token: str | None) -> None:
    expected = csrf_token(request.app.state.csrf_secret, user)
    if not token or not hmac.compare_digest(expected, token):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
