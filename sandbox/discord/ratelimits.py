"""Discord's rate limits: per-route buckets (per major parameter) and the global limit.

Every answer carries the bucket's ``X-RateLimit-Limit``, ``-Remaining`` (counting
down), ``-Reset`` (epoch seconds), ``-Reset-After`` and ``-Bucket``; a request over a
bucket answers a real 429 (``{message, retry_after, global, code}``, ``Retry-After``,
``X-RateLimit-Scope``). Limits: 5 messages per 5 s per channel; every other route 50 per
second per major parameter; and 50 requests per second in all, interaction callbacks and
follow-ups (``/interactions/``, ``/webhooks/``) exempt, as on Discord.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GLOBAL_LIMIT = 50  # requests per second, per bot
GLOBAL_PERIOD = 1.0
DEFAULT_LIMIT = (50, 1.0)
ROUTE_LIMITS: dict[tuple[str, str], tuple[int, float]] = {
    ("POST", "/channels/{channel_id}/messages"): (5, 5.0),
}
MAJOR_PARAMS = ("channel_id", "guild_id", "webhook", "interaction")
EXEMPT_FROM_GLOBAL = ("/interactions/", "/webhooks/")


@dataclass
class Window:
    limit: int
    period: float
    started: float
    used: int = 0

    def reset_after(self, now: float) -> float:
        return max(0.0, self.started + self.period - now)


@dataclass
class Verdict:
    headers: dict[str, str]
    refused: dict[str, Any] | None = None  # the 429 body, when over a limit


@dataclass
class RateLimits:
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    enabled: bool = True
    # (method, route) → (limit, period s); a test may shorten a window on its own world
    route_limits: dict[tuple[str, str], tuple[int, float]] = field(
        default_factory=lambda: dict(ROUTE_LIMITS)
    )
    windows: dict[str, Window] = field(default_factory=dict)
    global_window: Window | None = None
    answered_429: int = 0
    answered_global_429: int = 0
    answered_429_by_route: dict[str, int] = field(default_factory=dict)  # "POST /channels/…"

    def take(self, method: str, template: str, params: dict[str, str], path: str) -> Verdict:
        """Count one request; its headers, and a 429 body if a limit is exceeded."""
        now = self.clock()
        limit, period = self.route_limits.get((method, template), DEFAULT_LIMIT)
        bucket = hashlib.sha1(f"{method} {template}".encode()).hexdigest()[:16]
        major = ":".join(params.get(name, "") for name in MAJOR_PARAMS)
        window = self._window(f"{bucket}:{major}", limit, period, now)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Bucket": bucket,
        }
        if not self.enabled:
            return Verdict({**headers, **self._left(window, now, spare=limit)})
        if not path.startswith(EXEMPT_FROM_GLOBAL):
            if self.global_window is None or self.global_window.reset_after(now) <= 0:
                self.global_window = Window(GLOBAL_LIMIT, GLOBAL_PERIOD, now)
            if self.global_window.used >= GLOBAL_LIMIT:
                self._refused(method, template)
                self.answered_global_429 += 1
                wait = self.global_window.reset_after(now)
                return Verdict(
                    {
                        "X-RateLimit-Global": "true",
                        "X-RateLimit-Scope": "global",
                        "Retry-After": str(max(1, math.ceil(wait))),
                    },
                    _body(wait, is_global=True),
                )
        if window.used >= limit:
            self._refused(method, template)
            wait = window.reset_after(now)
            return Verdict(
                {
                    **headers,
                    **self._left(window, now),
                    "X-RateLimit-Scope": "user",
                    "X-RateLimit-Global": "false",
                    "Retry-After": str(max(1, math.ceil(wait))),
                },
                _body(wait, is_global=False),
            )
        window.used += 1
        if self.global_window is not None and not path.startswith(EXEMPT_FROM_GLOBAL):
            self.global_window.used += 1
        return Verdict({**headers, **self._left(window, now)})

    def _refused(self, method: str, template: str) -> None:
        self.answered_429 += 1
        route = f"{method} {template}"
        self.answered_429_by_route[route] = self.answered_429_by_route.get(route, 0) + 1

    def _window(self, key: str, limit: int, period: float, now: float) -> Window:
        window = self.windows.get(key)
        if window is None or window.reset_after(now) <= 0:
            window = self.windows[key] = Window(limit, period, now)
            if len(self.windows) > 50_000:  # forget long-expired windows
                self.windows = {k: w for k, w in self.windows.items() if w.reset_after(now) > 0}
                self.windows[key] = window
        return window

    def _left(self, window: Window, now: float, spare: int | None = None) -> dict[str, str]:
        after = _ms_up(window.reset_after(now))
        remaining = spare if spare is not None else max(0, window.limit - window.used)
        return {
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{_ms_up(self.wall() + after):.3f}",
            "X-RateLimit-Reset-After": f"{after:.3f}",
        }

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "answered_429": self.answered_429,
            "answered_global_429": self.answered_global_429,
            "answered_429_by_route": dict(self.answered_429_by_route),
        }


def _ms_up(seconds: float) -> float:
    """To the millisecond, rounded up: a client that waits what a header says is never early
    (rounded to nearest, a wait could end up to half a millisecond before the window)."""
    return math.ceil(round(seconds * 1000, 6)) / 1000


def _body(retry_after: float, *, is_global: bool) -> dict[str, Any]:
    return {
        "message": "You are being rate limited.",
        "retry_after": max(_ms_up(retry_after), 0.001),
        "global": is_global,
        "code": 0,
    }
