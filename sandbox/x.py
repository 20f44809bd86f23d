"""X (Twitter) API v2 in the world: ``POST /2/tweets`` for one account, and what it received.

It checks what the real API checks before taking a post: an OAuth 1.0a user-context
``Authorization`` header (present, well formed, this account's keys, a fresh timestamp,
an unused nonce, a valid HMAC-SHA1 signature over the URL the request was sent to), a
JSON body with ``text`` of at most 280 weighted characters, a known
``reply.in_reply_to_tweet_id``, no duplicate of a recent post, and 100 posts per 15
minutes. App-only bearer tokens cannot post (403), as on X.

Faults: ``POST /_sandbox/faults {"kind": "rate_limit" | "server_error", "count": n,
"path_prefix": "/2/tweets"}`` makes the next n posts answer 429 or 503 (only faults that
name a prefix reach X; the others are Discord's). ``hold`` and ``hold_after`` with that
prefix hold a post as they hold a Discord request (``GET /_sandbox/holds``, released by
``POST /_sandbox/holds/release``): ``hold`` before X takes it (a drop answers 503, nothing
posted), ``hold_after`` once it is posted, its answer waiting.

Control: ``GET /_sandbox/x/posts`` → ``[{id, text, reply_to, at}]``; additions:
``GET /_sandbox/x/requests`` → ``[{at, method, path, status}]``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, unquote

from aiohttp import web

from .faults import BEFORE_EFFECT_KINDS, HOLD_AFTER, HOLD_KINDS

if TYPE_CHECKING:
    from .world import World

MAX_WEIGHTED = 280
WINDOW_S, WINDOW_POSTS = 15 * 60, 100
TIMESTAMP_SKEW_S = 300
REQUIRED_OAUTH = (
    "oauth_consumer_key",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_token",
)
X_FAULTS = BEFORE_EFFECT_KINDS | HOLD_KINDS
_HEADER_PARAM = re.compile(r'\s*([A-Za-z0-9_]+)="([^"]*)"\s*(?:,|$)')


@dataclass
class XPost:
    id: str
    text: str
    reply_to: str | None
    at: datetime

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "reply_to": self.reply_to, "at": _iso(self.at)}


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    """X API v2's error shape (RFC 7807 problem details)."""
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status, **extra}
    return web.json_response(body, status=status)


def _enc(value: str) -> str:
    return quote(value, safe="~-._")


# -- X's weighted count, written again here: the sandbox imports nothing from the bot ------
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_URL = re.compile(r"https?://[^\s<>\"]+", re.IGNORECASE)
_EMOJI = re.compile(
    "[\U0001f1e6-\U0001f1ff]{2}|[0-9#*]\ufe0f?\u20e3"
    "|(?:[\u2190-\u2bff\U0001f000-\U0001faff])(?:\ufe0f|[\U0001f3fb-\U0001f3ff])?"
    "(?:\u200d[\u2190-\u2bff\U0001f000-\U0001faff](?:\ufe0f|[\U0001f3fb-\U0001f3ff])?)*"
)


def weighted_length(text: str) -> int:
    """Links 23, emoji 2, code points outside X's light ranges 2, the rest 1."""
    text = _URL.sub("\0", unicodedata.normalize("NFC", text))
    total, index = 0, 0
    while index < len(text):
        if text[index] == "\0":
            total, index = total + 23, index + 1
            continue
        emoji = _EMOJI.match(text, index)
        if emoji:
            total, index = total + 2, emoji.end()
            continue
        point = ord(text[index])
        total += 1 if any(a <= point <= b for a, b in _LIGHT) else 2
        index += 1
    return total


class XApi:
    """One X account (its four OAuth 1.0a keys are handed to the bot as secrets)."""

    key = "x"

    def __init__(self, handle: str = "atrium_status") -> None:
        self.handle = handle
        self.consumer_key = secrets.token_urlsafe(18)
        self.consumer_secret = secrets.token_urlsafe(30)
        self.access_token = f"{secrets.randbelow(10**18)}-{secrets.token_urlsafe(24)}"
        self.access_token_secret = secrets.token_urlsafe(30)
        self.posts: list[XPost] = []
        self.requests: list[dict[str, Any]] = []
        self._nonces: set[str] = set()
        self._world: World | None = None
        self._next_id = int(time.time() * 1000) << 22

    # -- WorldPart -------------------------------------------------------------------------
    def mount(self, world: World) -> None:
        self._world = world
        world.app.router.add_post("/2/tweets", self.create_post)
        world.app.router.add_get("/_sandbox/x/posts", self.list_posts)
        world.app.router.add_get("/_sandbox/x/requests", self.list_requests)
        world.extra_secrets.update(
            {
                "INCIDENT_BOT_X_CONSUMER_KEY": self.consumer_key,
                "INCIDENT_BOT_X_CONSUMER_SECRET": self.consumer_secret,
                "INCIDENT_BOT_X_ACCESS_TOKEN": self.access_token,
                "INCIDENT_BOT_X_ACCESS_TOKEN_SECRET": self.access_token_secret,
            }
        )

    async def start(self, world: World) -> None:
        self._world = world

    async def stop(self) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        base = self._world.base_url if self._world else ""
        return {"api_base": base, "handle": self.handle, "posts": len(self.posts)}

    # -- control ---------------------------------------------------------------------------
    async def list_posts(self, request: web.Request) -> web.Response:
        return web.json_response([post.view() for post in self.posts])

    async def list_requests(self, request: web.Request) -> web.Response:
        return web.json_response(self.requests)

    # -- the API ---------------------------------------------------------------------------
    async def create_post(self, request: web.Request) -> web.Response:
        response = await self._create_post(request)
        self.requests.append(
            {
                "at": _iso(datetime.now(UTC)),
                "method": request.method,
                "path": request.path,
                "status": response.status,
            }
        )
        self._rate_headers(response)
        return response

    async def _create_post(self, request: web.Request) -> web.Response:
        faults = self._world.discord.faults if self._world else None
        fault = faults.take_rest_prefixed(request.path, X_FAULTS) if faults else None
        held_after = None
        if faults is not None and fault is not None and fault.kind in HOLD_KINDS:
            if fault.kind == HOLD_AFTER:
                held_after = fault  # posted first, then the answer waits
            elif await faults.hold(fault, request.method, request.path):
                return _problem(503, "Service Unavailable", "Service Unavailable")
            fault = None
        if fault is not None and fault.kind == "server_error":
            return _problem(503, "Service Unavailable", "Service Unavailable")
        refused = self._authenticate(request, await request.read())
        if refused is not None:
            return refused
        if fault is not None:  # rate_limit: as if the window were used up, for one second
            limited = _problem(429, "Too Many Requests", "Too Many Requests")
            limited.headers["x-rate-limit-remaining"] = "0"
            limited.headers["x-rate-limit-reset"] = str(int(time.time()) + 1)
            return limited
        try:
            body = await request.json()
        except ValueError:
            return _problem(400, "Invalid Request", "The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _problem(400, "Invalid Request", "The request body must be a JSON object.")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _problem(400, "Invalid Request", "`text` is required.")
        weighted = weighted_length(text)
        if weighted > MAX_WEIGHTED:
            return _problem(
                400,
                "Invalid Request",
                f"Your Tweet text is too long: {weighted} weighted characters (max {MAX_WEIGHTED}).",
            )
        reply = body.get("reply") or {}
        reply_to = reply.get("in_reply_to_tweet_id") if isinstance(reply, dict) else None
        if reply_to is not None and not any(p.id == str(reply_to) for p in self.posts):
            return _problem(
                400, "Invalid Request", f"in_reply_to_tweet_id {reply_to} is not a known post."
            )
        if any(p.text == text for p in self.posts[-50:]):
            return _problem(
                403, "Forbidden", "You are not allowed to create a Tweet with duplicate content."
            )
        if len(self._recent()) >= WINDOW_POSTS:
            return _problem(429, "Too Many Requests", "Too Many Requests")
        self._next_id += 1 << 22
        post = XPost(
            str(self._next_id), text, str(reply_to) if reply_to else None, datetime.now(UTC)
        )
        self.posts.append(post)
        if held_after is not None and faults is not None:
            await faults.hold(held_after, request.method, request.path)
        return web.json_response(
            {"data": {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}},
            status=201,
        )

    def _recent(self) -> list[XPost]:
        cutoff = datetime.now(UTC).timestamp() - WINDOW_S
        return [p for p in self.posts if p.at.timestamp() > cutoff]

    def _rate_headers(self, response: web.StreamResponse) -> None:
        recent = self._recent()
        oldest = min((p.at.timestamp() for p in recent), default=time.time())
        response.headers.setdefault("x-rate-limit-limit", str(WINDOW_POSTS))
        response.headers.setdefault(
            "x-rate-limit-remaining", str(max(0, WINDOW_POSTS - len(recent)))
        )
        response.headers.setdefault("x-rate-limit-reset", str(int(oldest + WINDOW_S)))

    # -- OAuth 1.0a ------------------------------------------------------------------------
    def _authenticate(self, request: web.Request, raw: bytes) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return _problem(
                403,
                "Unsupported Authentication",
                "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint. "
                "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
            )
        params = self._oauth_params(header)
        if params is None:
            return _problem(
                401, "Unauthorized", "Unauthorized: no OAuth 1.0a Authorization header."
            )
        missing = [name for name in REQUIRED_OAUTH if not params.get(name)]
        if missing:
            return _problem(401, "Unauthorized", f"Unauthorized: missing {', '.join(missing)}.")
        if (
            params["oauth_signature_method"] != "HMAC-SHA1"
            or params.get("oauth_version", "1.0") != "1.0"
        ):
            return _problem(401, "Unauthorized", "Unauthorized: expected HMAC-SHA1, OAuth 1.0.")
        if (
            params["oauth_consumer_key"] != self.consumer_key
            or params["oauth_token"] != self.access_token
        ):
            return _problem(401, "Unauthorized", "Unauthorized: unknown consumer key or token.")
        if not params["oauth_timestamp"].isdigit() or (
            abs(time.time() - int(params["oauth_timestamp"])) > TIMESTAMP_SKEW_S
        ):
            return _problem(401, "Unauthorized", "Unauthorized: stale or malformed timestamp.")
        if params["oauth_nonce"] in self._nonces:
            return _problem(401, "Unauthorized", "Unauthorized: nonce already used.")
        if not hmac.compare_digest(
            params["oauth_signature"], self._signature(request, params, raw)
        ):
            return _problem(401, "Unauthorized", "Unauthorized: the signature does not match.")
        self._nonces.add(params["oauth_nonce"])
        return None

    @staticmethod
    def _oauth_params(header: str) -> dict[str, str] | None:
        if not header.startswith("OAuth "):
            return None
        rest = header[len("OAuth ") :].strip()
        params: dict[str, str] = {}
        position = 0
        while position < len(rest):
            match = _HEADER_PARAM.match(rest, position)
            if match is None:
                return None
            params[match.group(1)] = unquote(match.group(2))
            position = match.end()
        return params

    def _signature(self, request: web.Request, oauth: dict[str, str], raw: bytes) -> str:
        pairs = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        pairs += list(request.query.items())
        if request.content_type == "application/x-www-form-urlencoded":
            pairs += parse_qsl(raw.decode(), keep_blank_values=True)
        normalized = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in pairs))
        url = request.url.with_query(None).with_fragment(None)
        base_uri = f"{url.scheme.lower()}://{url.raw_authority.lower()}{url.raw_path}"
        base = "&".join((request.method.upper(), _enc(base_uri), _enc(normalized)))
        key = f"{_enc(self.consumer_secret)}&{_enc(self.access_token_secret)}"
        digest = hmac.new(key.encode(), base.encode(), hashlib.sha1).digest()
        return base64.b64encode(digest).decode()
