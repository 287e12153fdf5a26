"""Password and token hashes for `anomwatch web` (scrypt, stdlib only).

Settings hold only hashes (`scrypt$n$r$p$salt$hash`, base64 parts), so a leaked .env
does not leak a login; checks compare in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

N, R, P = 2**14, 8, 1
PREFIX = "scrypt"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"{PREFIX}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def is_hash(text: str) -> bool:
    parts = text.split("$")
    return len(parts) == 6 and parts[0] == PREFIX and all(parts[1:4]) and parts[1].isdigit()


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored` (a hash_password result); False on a bad hash."""
    if not is_hash(stored):
        return False
    _, n, r, p, salt, expected = stored.split("$")
    try:
        digest = hashlib.scrypt(
            password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(digest, _unb64(expected))
    except ValueError:
        return False
