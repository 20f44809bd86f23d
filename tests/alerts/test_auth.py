"""Bearer tokens and Grafana's HMAC scheme, two secrets at once, a five-minute window."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from multidict import CIMultiDict

from bot.alerts.auth import Authenticator, Unauthorized

NOW = 1_800_000_000.0
BODY = b'{"status": "firing"}'


def auth(**options) -> Authenticator:
    return Authenticator.from_secrets(
        ["new-token-0123456789", "old-token-0123456789"],
        ["new-secret-0123456789", "old-secret-0123456789"],
        clock=lambda: NOW,
        **options,
    )


def signed(secret: str, body: bytes = BODY, timestamp: str | None = None) -> CIMultiDict:
    message = body if timestamp is None else f"{timestamp}:".encode() + body
    headers = CIMultiDict(
        {
            "x-grafana-alerting-signature": hmac.new(
                secret.encode(), message, hashlib.sha256
            ).hexdigest()
        }
    )
    if timestamp is not None:
        headers["X-Grafana-Alerting-Timestamp"] = timestamp
    return headers


@pytest.mark.parametrize("token", ["new-token-0123456789", "old-token-0123456789"])
def test_either_bearer_token_of_a_rotation_is_accepted(token):
    assert auth().check({"Authorization": f"Bearer {token}"}, BODY) == "bearer"
    assert auth().check({"Authorization": f"bearer   {token}  "}, BODY) == "bearer"


@pytest.mark.parametrize("secret", ["new-secret-0123456789", "old-secret-0123456789"])
def test_either_hmac_secret_signs_with_and_without_a_timestamp(secret):
    assert auth().check(signed(secret), BODY) == "hmac"
    assert auth().check(signed(secret, timestamp=str(int(NOW) - 299)), BODY) == "hmac"
    assert auth().check(signed(secret, timestamp=str(int(NOW * 1000))), BODY) == "hmac"  # ms


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing credentials"),
        ({"Authorization": "Bearer wrong"}, "not one of the configured tokens"),
        ({"Authorization": "Token new-token-0123456789"}, "not `Bearer <token>`"),
        ({"Authorization": "Bearer ünïcödé"}, "not one of the configured tokens"),
        ({"X-Grafana-Alerting-Signature": "zz"}, "does not match the body"),
    ],
)
def test_wrong_or_missing_credentials_say_why(headers, reason):
    with pytest.raises(Unauthorized, match=reason):
        auth().check(headers, BODY)


def test_a_signature_of_another_body_or_secret_is_refused():
    with pytest.raises(Unauthorized, match="does not match the body"):
        auth().check(signed("new-secret-0123456789", body=b"{}"), BODY)
    with pytest.raises(Unauthorized, match="does not match the timestamp and body"):
        auth().check(signed("other", timestamp=str(int(NOW))), BODY)


def test_the_replay_window_is_five_minutes_both_ways():
    secret = "new-secret-0123456789"
    with pytest.raises(Unauthorized, match="301 s old; the window is 300 s"):
        auth().check(signed(secret, timestamp=str(int(NOW) - 301)), BODY)
    with pytest.raises(Unauthorized, match="in the future"):
        auth().check(signed(secret, timestamp=str(int(NOW) + 301)), BODY)
    with pytest.raises(Unauthorized, match="Unix seconds"):
        auth().check(signed(secret, timestamp="-5"), BODY)


def test_a_timestamp_can_be_required():
    with pytest.raises(Unauthorized, match="needs a timestamp"):
        auth(require_timestamp=True).check(signed("new-secret-0123456789"), BODY)


def test_one_valid_credential_is_enough_and_reasons_never_contain_a_secret():
    headers = signed("new-secret-0123456789")
    headers["Authorization"] = "Bearer wrong"
    assert auth().check(headers, BODY) == "hmac"
    with pytest.raises(Unauthorized) as refused:
        auth().check({"Authorization": "Bearer new-token-012345678", **signed("x")}, BODY)
    for secret in ("new-token", "old-token", "new-secret", "old-secret"):
        assert secret not in str(refused.value)


def test_without_configured_credentials_everything_is_refused():
    empty = Authenticator.from_secrets([], [])
    with pytest.raises(Unauthorized, match="no webhook credentials configured"):
        empty.check({"Authorization": "Bearer anything"}, BODY)
