"""Who may see the pages: basic-auth users or one bearer token, both stored hashed.

Every route depends on `require_user` (set on the app, so no page or endpoint can
forget it). scrypt is slow on purpose; a credential that passed once is remembered
by its SHA-256 so each page does not pay ~50 ms of hashing again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass, field
from functools import cache

from fastapi import HTTPException, Request, status
from fastapi.responses import PlainTextResponse

from anomwatch.errors import ConfigError
from anomwatch.settings import Settings
from anomwatch.web.passwords import hash_password, is_hash, verify_password

REALM = 'Basic realm="anomwatch", charset="UTF-8"'


@cache
def _dummy() -> str:
    return hash_password("not a password anyone has")


@dataclass
class Credentials:
    """The configured logins; empty means nobody can log in (see `open_access`)."""

    users: dict[str, str] = field(default_factory=dict)  # user -> hash
    token_hash: str | None = None
    open_access: bool = False  # `anomwatch web --no-auth` on a loopback address
    _passed: dict[bytes, str] = field(default_factory=dict, repr=False)

    @property
    def configured(self) -> bool:
        return bool(self.users) or self.token_hash is not None

    def check_basic(self, user: str, password: str) -> bool:
        stored = self.users.get(user)
        return self._remembered(f"basic:{user}:{password}", password, stored, user)

    def check_token(self, token: str) -> bool:
        return self._remembered(f"token:{token}", token, self.token_hash, "token")

    def _remembered(self, key: str, secret: str, stored: str | None, who: str) -> bool:
        digest = hashlib.sha256(key.encode()).digest()
        known = self._passed.get(digest)
        if known is not None:
            return hmac.compare_digest(known, who)
        if stored is None:
            verify_password(secret, _dummy())  # same time as a wrong password: no user probing
            return False
        if not verify_password(secret, stored):
            return False
        self._passed[digest] = who
        return True


def credentials_from(settings: Settings) -> Credentials:
    """Parse ANOMWATCH_WEB_USERS (user:HASH,...) and ANOMWATCH_WEB_TOKEN_HASH."""
    users: dict[str, str] = {}
    for item in (settings.web_users or "").split(","):
        if not item.strip():
            continue
        user, sep, hashed = item.strip().partition(":")
        if not sep or not user or not is_hash(hashed):
            raise ConfigError(
                f"ANOMWATCH_WEB_USERS: entry for {user or '?'!r} is not user:HASH with a hash "
                "from `anomwatch web hash-password`"
            )
        users[user] = hashed
    token = settings.web_token_hash
    if token is not None and not is_hash(token):
        raise ConfigError(
            "ANOMWATCH_WEB_TOKEN_HASH is not a hash from `anomwatch web hash-password`"
        )
    return Credentials(users=users, token_hash=token)


def _unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "log in with a configured user or token",
        headers={"WWW-Authenticate": REALM},
    )


def authenticate(credentials: Credentials, header: str | None) -> str | None:
    """The user an Authorization header proves, or None."""
    if credentials.open_access:
        return "local"
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() == "bearer" and value:
        return "token" if credentials.check_token(value.strip()) else None
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return user if sep and credentials.check_basic(user, password) else None
    return None


def login(request: Request) -> str | None:
    """The request's user (checked once per request, remembered on its state)."""
    user: str | None = getattr(request.state, "user", None)
    if user is None:
        user = authenticate(request.app.state.credentials, request.headers.get("authorization"))
        request.state.user = user
    return user


def require_user(request: Request) -> str:
    """FastAPI dependency of every route: the logged-in user, or 401."""
    user = login(request)
    if user is None:
        raise _unauthorized()
    return user


def unauthorized_response() -> PlainTextResponse:
    exc = _unauthorized()
    return PlainTextResponse(str(exc.detail), exc.status_code, headers=exc.headers)
