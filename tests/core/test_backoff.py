"""One backoff rule: doubling, capped, never sooner than the other side asked."""

from __future__ import annotations

from datetime import timedelta

from bot.core.backoff import Backoff

S = timedelta(seconds=1)


def test_waits_double_from_the_initial_wait_up_to_the_cap():
    rule = Backoff(initial=5 * S, cap=60 * S)
    assert [rule.delay(n) for n in range(1, 6)] == [5 * S, 10 * S, 20 * S, 40 * S, 60 * S]


def test_the_other_sides_reset_wins_over_the_cap():
    rule = Backoff(initial=5 * S, cap=60 * S)
    assert rule.delay(1, not_before=900 * S) == 900 * S


def test_jitter_only_shortens_and_stays_within_its_share():
    rule = Backoff(initial=10 * S, cap=60 * S, jitter=0.2)
    for _ in range(200):
        assert 8 * S <= rule.delay(1) <= 10 * S


def test_seconds_is_the_same_rule_in_floats():
    assert Backoff(initial=S, cap=8 * S).seconds(4) == 8.0
