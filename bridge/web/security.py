"""Sessions, CSRF tokens and the login throttle: pure, given a secret and a
clock, so each rule is tested without a server.

A session is a signed cookie (HMAC-SHA256 over owner, expiry and a random
id): nothing to store, nothing to lose on a restart. Logging out forgets
the id until it would have expired anyway. The CSRF token is derived from
the session id, so a page from another site cannot know it; the login form,
before any session, is tied to a random cookie of its own the same way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import secrets
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

SESSION_COOKIE = "textback_session"
LOGIN_COOKIE = "textback_login"
SECRET_FILE_SUFFIX = ".web-secret"  # noqa: S105 -- a file name, not a secret


def secret_path(store_path: Path) -> Path:
    """Beside the store, in the state directory only the bridge's user reads."""
    return store_path.with_name(store_path.stem + SECRET_FILE_SUFFIX)


def load_or_make_secret(path: Path) -> bytes:
    """The signing secret kept at ``path``, made (0600) on the first start."""
    try:
        found = path.read_bytes().strip()
    except FileNotFoundError:
        found = b""
    if len(found) >= 32:
        return found
    made = secrets.token_urlsafe(48).encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(made + b"\n")
    os.chmod(path, 0o600)  # an older file's mode, too
    return made


@dataclass(frozen=True, slots=True)
class Session:
    owner_id: str
    expires: int  # unix seconds
    sid: str


class Signer:
    def __init__(self, secret: bytes):
        self._key = hashlib.sha256(b"textback web: " + secret).digest()

    def _mac(self, *parts: str) -> str:
        digest = hmac.new(self._key, "\x1f".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def session_cookie(self, owner_id: str, now: datetime, lifetime: timedelta) -> str:
        expires = str(int((now + lifetime).timestamp()))
        sid = secrets.token_urlsafe(16)
        return ".".join((owner_id, expires, sid, self._mac("session", owner_id, expires, sid)))

    def session(self, cookie: str | None, now: datetime) -> Session | None:
        """The session a cookie carries, if it is ours, whole and not expired."""
        if not cookie or len(cookie) > 300:
            return None
        pieces = cookie.split(".")
        if len(pieces) != 4:
            return None
        owner_id, expires, sid, mac = pieces
        if not hmac.compare_digest(mac, self._mac("session", owner_id, expires, sid)):
            return None
        if not expires.isdigit() or int(expires) <= now.timestamp():
            return None
        return Session(owner_id, int(expires), sid)

    def csrf_token(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token, self.csrf_token(sid))


class Throttle:
    """At most ``limit`` wrong passwords per key (an owner, a client address)
    within ``window``; after that, wait until the oldest leaves the window."""

    def __init__(self, limit: int = 5, window: timedelta = timedelta(minutes=15)):
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[datetime]] = {}

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        found = self._failures.get(key)
        if found is None:
            return deque()
        while found and found[0] <= now - self.window:
            found.popleft()
        if not found:
            del self._failures[key]
        return found

    def retry_after(self, keys: tuple[str, ...], now: datetime) -> int:
        """Seconds until any of ``keys`` may try again; 0: now."""
        waits = [
            (recent[0] + self.window - now).total_seconds()
            for key in keys
            if len(recent := self._recent(key, now)) >= self.limit
        ]
        return max(1, math.ceil(max(waits))) if waits else 0

    def failed(self, keys: tuple[str, ...], now: datetime) -> None:
        if len(self._failures) > 10_000:  # many addresses: keep only what still counts
            for key in list(self._failures):
                self._recent(key, now)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)
            recent = self._failures[key]
            while len(recent) > self.limit:
                recent.popleft()  # only the newest `limit` count: memory stays bounded

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)
