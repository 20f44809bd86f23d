"""The X adapter: posts through X API v2 with tweepy's async client (OAuth 1.0a user context).

Small on purpose: ``post(text, reply_to)`` returns the new post's id, or raises one of
three errors that tell the caller what it may do next:

- :class:`XUnavailable`: X did not take the post (429, 5xx, no connection). Retry later.
- :class:`XRejected`: X refused this post for good (bad credentials, too long, duplicate).
- :class:`XInDoubt`: the request may have reached X and we never heard back. Retrying
  could post twice, so a person has to look.

tweepy sends every request to ``https://api.twitter.com``. When ``api_base`` names
another host (the sandbox, a proxy), requests go there instead and are signed for the
URL they are really sent to, so the OAuth signature stays valid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import aiohttp
import tweepy  # type: ignore[import-untyped]  # tweepy ships no type information
from oauthlib.oauth1 import Client as OAuthClient
from tweepy.asynchronous import AsyncClient  # type: ignore[import-untyped]  # as above
from yarl import URL

from bot.core.locks import check_not_holding
from bot.errors import ExternalServiceError

TWEEPY_HOST = "https://api.twitter.com"


class XError(ExternalServiceError):
    """X did not publish the post; the message is safe to show (it carries no secret)."""


class XUnavailable(XError):
    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at  # X's own "try again after", when it said


class XRejected(XError):
    pass


class XInDoubt(XError):
    pass


@dataclass(frozen=True)
class XCredentials:
    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:  # never print the keys
        return "XCredentials(…)"

    def signer(self) -> OAuthClient:
        return OAuthClient(
            self.consumer_key,
            self.consumer_secret,
            self.access_token,
            self.access_token_secret,
        )


@dataclass(frozen=True)
class Posted:
    id: str
    text: str


class _Rehosted:
    """The aiohttp session tweepy uses, sending its requests to ``base`` instead."""

    def __init__(
        self, session: aiohttp.ClientSession, base: str, credentials: XCredentials
    ) -> None:
        self._session = session
        self._base = base.rstrip("/")
        self._credentials = credentials

    def request(self, method: str, url: Any, **kwargs: Any) -> Any:
        target = str(url).replace(TWEEPY_HOST, self._base, 1).rstrip("?")
        headers = dict(kwargs.pop("headers", None) or {})
        if str(headers.get("Authorization", "")).startswith("OAuth "):
            del headers["Authorization"]
            target, headers, _ = self._credentials.signer().sign(
                target,
                cast(Any, method),
                headers=headers,  # tweepy's method: an HTTP verb
            )
        return self._session.request(method, URL(target, encoded=True), headers=headers, **kwargs)


class XClient:
    def __init__(self, api_base: str, credentials: XCredentials, timeout: float = 20.0) -> None:
        self._base = api_base.rstrip("/")
        self._credentials = credentials
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncClient | None = None
        # At DEBUG, tweepy logs request headers and oauthlib its signature base string: both
        # carry the consumer key and access token. Those loggers never go below INFO.
        for name in ("tweepy", "oauthlib"):
            logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).level))

    def _api(self) -> AsyncClient:
        if self._client is None:
            # A connection not made within half the time raises ConnectionTimeoutError, not
            # the total's TimeoutError: then no byte of the post left, so it is not in doubt.
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout, sock_connect=self._timeout / 2)
            )
            creds = self._credentials
            client = AsyncClient(
                consumer_key=creds.consumer_key,
                consumer_secret=creds.consumer_secret,
                access_token=creds.access_token,
                access_token_secret=creds.access_token_secret,
                return_type=dict,
            )
            client.session = (
                self._session
                if self._base == TWEEPY_HOST
                else _Rehosted(self._session, self._base, creds)
            )
            self._client = client
        return self._client

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        self._session, self._client = None, None

    async def post(self, text: str, reply_to: str | None = None) -> Posted:
        # An incident lock is never held across a call to X (it may take its timeout).
        check_not_holding("a call to X")
        try:
            answer = await self._api().create_tweet(
                text=text, in_reply_to_tweet_id=reply_to, user_auth=True
            )
        except tweepy.TooManyRequests as error:
            reset = getattr(error, "reset_time", None)
            retry_at = datetime.fromtimestamp(reset, UTC) if reset else None
            raise XUnavailable("X is rate limiting the account (429)", retry_at) from None
        except tweepy.TwitterServerError as error:
            raise XUnavailable(f"X is unavailable ({error.response.status})") from None
        except tweepy.HTTPException as error:
            raise XRejected(_describe(error)) from None
        except aiohttp.ContentTypeError as error:  # a body that is not JSON
            if 200 <= error.status < 300:
                raise XInDoubt(f"X answered {error.status} without a readable body") from None
            if error.status == 429 or error.status >= 500:
                raise XUnavailable(f"X is unavailable ({error.status})") from None
            raise XRejected(f"X answered {error.status}") from None
        except aiohttp.ClientConnectorError:
            raise XUnavailable("X cannot be reached (no connection)") from None
        except aiohttp.ConnectionTimeoutError:  # the request never left
            raise XUnavailable(
                f"X cannot be reached (no connection within {self._timeout / 2:g} s)"
            ) from None
        except (TimeoutError, aiohttp.ClientError) as error:
            raise XInDoubt(
                f"no answer from X ({type(error).__name__}); the post may or may not be up"
            ) from None
        data = answer.get("data") or {}
        if not data.get("id"):
            raise XInDoubt("X answered without the new post's id")
        return Posted(id=str(data["id"]), text=str(data.get("text", text)))


def _describe(error: tweepy.HTTPException) -> str:
    status = error.response.status
    detail = "; ".join(m for m in error.api_messages if m) or error.response.reason or ""
    return f"X refused the post ({status}): {detail}"[:300]


def post_url(web_base: str, handle: str | None, post_id: str) -> str:
    base = web_base.rstrip("/")
    if handle:
        return f"{base}/{handle.lstrip('@')}/status/{post_id}"
    return f"{base}/i/web/status/{post_id}"
