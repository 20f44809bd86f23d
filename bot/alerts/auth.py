"""Who may post alerts: a bearer token, or an HMAC-SHA256 signature of the body.

- Bearer: ``Authorization: Bearer <token>``, what Alertmanager's ``http_config``
  (``authorization`` / ``bearer_token``) and Grafana's "Authorization header" send.
- HMAC (Grafana's scheme): the hex HMAC-SHA256 of the raw body in the signature
  header, or of ``"{timestamp}:{body}"`` when the timestamp header is sent; the
  timestamp (Unix seconds) must be within the replay window of now.

Every configured secret is compared (two at once while one is being rotated),
always all of them, with :func:`hmac.compare_digest` over bytes. Reasons say
what was wrong, never what was expected or received.

A captured signed request stays valid: :meth:`Authenticator.replay_key` names it,
so the store keeps one row per identical signed request within the replay window.
With the timestamp header (recommended) a replay after the window is refused as
old; without it, only the window's dedup stands between a replay and a new row.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

MILLISECONDS_FROM = 10**12  # a timestamp above this is read as milliseconds


class Unauthorized(Exception):
    """The request does not prove it knows a configured secret; the message says why."""


@dataclass(frozen=True)
class Authenticator:
    bearer_tokens: tuple[bytes, ...]
    hmac_secrets: tuple[bytes, ...]
    signature_header: str = "X-Grafana-Alerting-Signature"
    timestamp_header: str = "X-Grafana-Alerting-Timestamp"
    replay_window: float = 300.0
    require_timestamp: bool = False
    clock: Callable[[], float] = time.time

    @classmethod
    def from_secrets(
        cls,
        bearer_tokens: Sequence[str],
        hmac_secrets: Sequence[str],
        **options: object,
    ) -> Authenticator:
        return cls(
            tuple(t.encode() for t in bearer_tokens if t),
            tuple(s.encode() for s in hmac_secrets if s),
            **options,  # type: ignore[arg-type]
        )

    @property
    def configured(self) -> bool:
        return bool(self.bearer_tokens or self.hmac_secrets)

    def check(self, headers: Mapping[str, str], body: bytes) -> str:
        """The method that authenticated the request ("bearer" or "hmac"); else raise."""
        if not self.configured:
            raise Unauthorized(
                "this bot has no webhook credentials configured "
                "(INCIDENT_BOT_WEBHOOK_BEARER_TOKENS or INCIDENT_BOT_WEBHOOK_HMAC_SECRETS)"
            )
        reasons: list[str] = []
        authorization = headers.get("Authorization")
        if authorization is not None:
            reason = self._bearer(authorization)
            if reason is None:
                return "bearer"
            reasons.append(reason)
        signature = headers.get(self.signature_header)
        if signature is not None:
            reason = self._signature(signature, headers.get(self.timestamp_header), body)
            if reason is None:
                return "hmac"
            reasons.append(reason)
        if not reasons:
            raise Unauthorized(
                "missing credentials: send `Authorization: Bearer <token>` or an HMAC-SHA256 "
                f"signature of the body in `{self.signature_header}`"
            )
        raise Unauthorized("; ".join(reasons))

    def replay_key(self, headers: Mapping[str, str], body: bytes) -> str:
        """What identifies a signed request: a digest of its timestamp and body (what the
        signature covers), never the signature or a secret itself."""
        timestamp = headers.get(self.timestamp_header)
        signed = body if timestamp is None else timestamp.strip().encode() + b":" + body
        return hashlib.sha256(b"hmac\n" + signed).hexdigest()

    def _bearer(self, authorization: str) -> str | None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return "the Authorization header is not `Bearer <token>`"
        if not self.bearer_tokens:
            return "bearer tokens are not accepted here (none is configured)"
        if _matches_any(token.strip().encode("utf-8", "replace"), self.bearer_tokens):
            return None
        return "the bearer token is not one of the configured tokens"

    def _signature(self, signature: str, timestamp: str | None, body: bytes) -> str | None:
        if not self.hmac_secrets:
            return "HMAC signatures are not accepted here (no secret is configured)"
        given = signature.strip().lower().removeprefix("sha256=").encode("utf-8", "replace")
        if timestamp is None:
            if self.require_timestamp:
                return f"the signature needs a timestamp in `{self.timestamp_header}`"
            signed = body
        else:
            reason = self._fresh(timestamp)
            if reason is not None:
                return reason
            signed = timestamp.strip().encode() + b":" + body
        expected = tuple(
            hmac.new(secret, signed, hashlib.sha256).hexdigest().encode()
            for secret in self.hmac_secrets
        )
        if _matches_any(given, expected):
            return None
        what = "timestamp and body" if timestamp is not None else "body"
        return f"the signature in `{self.signature_header}` does not match the {what}"

    def _fresh(self, timestamp: str) -> str | None:
        text = timestamp.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 16:
            return f"`{self.timestamp_header}` must be Unix seconds"
        sent = int(text)
        if sent >= MILLISECONDS_FROM:
            sent //= 1000
        age = self.clock() - sent
        if abs(age) > self.replay_window:
            direction = "old" if age > 0 else "in the future"
            return (
                f"the signed timestamp is {abs(int(age))} s {direction}; "
                f"the window is {int(self.replay_window)} s"
            )
        return None


def _matches_any(given: bytes, accepted: Sequence[bytes]) -> bool:
    """Compare against every accepted value (no early exit), each in constant time."""
    found = False
    for value in accepted:
        found |= hmac.compare_digest(given, value)
    return found
