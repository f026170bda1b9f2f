"""Headers every response carries, CSRF checks and the failed-login limiter."""

from __future__ import annotations

import hmac
import threading
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

# No inline script or style anywhere: htmx, the CSS and the little script are
# files served from /static; charts are inline SVG with attributes only.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SESSION_COOKIE = "vs_session"
LOGIN_CSRF_COOKIE = "vs_login"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"

# Failed logins: this many per client address or per user name in the window,
# then every attempt is refused until the oldest failure leaves the window.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60


async def add_security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def same_secret(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given), str(expected))


def is_tls(request: Request) -> bool:
    return request.url.scheme == "https"


class LoginLimiter:
    """Counts failed logins per client address and per name, in a sliding window."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = FAILURE_WINDOW_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, client: str, name: str) -> bool:
        now = self.clock()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.limit for k in (f"addr:{client}", f"name:{name}"))

    def failed(self, client: str, name: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (f"addr:{client}", f"name:{name}"):
                self._recent(key, now).append(now)

    def succeeded(self, client: str, name: str) -> None:
        with self._lock:
            self._failures.pop(f"name:{name}", None)
