"""How an alert group becomes an incident, as plain functions: no database, no Discord."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.alerts import rules
from bot.alerts.notification import AlertEvent, Notification
from bot.alerts.rules import GROUP_STATES, GroupState, request_key
from bot.errors import Conflict

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)


def event(name: str = "ProbeFailure", **changes) -> AlertEvent:
    values = dict(
        fingerprint="fp1",
        status="firing",
        name=name,
        labels={},
        annotations={"summary": "Probe failed"},
        starts_at=None,
        ends_at=None,
        url="https://prometheus.example/graph",
        severity="critical",
    )
    values.update(changes)
    return AlertEvent(**values)


def notification(*events: AlertEvent) -> Notification:
    return Notification("alertmanager", "{}:{}", "Probe failing", None, tuple(events))


def test_the_request_key_is_the_group_key_and_fits_its_column():
    assert (
        request_key("alertmanager", '{}:{alertname="A"}') == 'alert:alertmanager:{}:{alertname="A"}'
    )
    long = request_key("grafana", "k" * 500)
    assert long.startswith("alert:grafana:sha256:") and len(long) <= 200
    assert long == request_key("grafana", "k" * 500)


def test_a_group_numbers_its_incidents_from_the_last_request_key():
    base = request_key("alertmanager", "g")
    assert rules.next_incident_number("alertmanager", "g", None) == 0
    assert rules.next_incident_number("alertmanager", "g", base) == 1
    assert rules.next_incident_number("alertmanager", "g", base + ":1") == 2
    assert rules.next_incident_number("alertmanager", "g", base + ":7") == 8
    assert request_key("alertmanager", "g", 2) == base + ":2"


def test_group_states_move_only_along_their_table():
    assert GROUP_STATES.can(GroupState.OPENING, GroupState.OPEN)
    assert GROUP_STATES.can(GroupState.OPENING, GroupState.DIGEST)
    assert GROUP_STATES.can(GroupState.OPEN, GroupState.OPENING)  # recurred after resolution
    assert GROUP_STATES.can(GroupState.DIGEST, GroupState.OPENING)  # after the storm
    with pytest.raises(Conflict):
        GROUP_STATES.check(GroupState.DIGEST, GroupState.OPEN)


def test_a_storm_is_storm_limit_incidents_in_the_window():
    assert not rules.is_storm(9, 10)
    assert rules.is_storm(10, 10)


def test_a_new_firing_alert_opens_a_group_only_without_a_live_incident():
    # Bound to a live incident (or being opened): a note there, as ever.
    for status in ("declared", "acknowledged", "mitigated", "opening"):
        assert not rules.wants_incident("open", status, True)
    assert not rules.wants_incident("opening", None, True)
    assert not rules.wants_incident("digest", None, False)  # digested in this very batch
    # Resolved or closed by people, or listed in a digest: it wants an incident.
    assert rules.wants_incident("open", "resolved", True)
    assert rules.wants_incident("open", "closed", True)
    assert rules.wants_incident("digest", None, True)


def test_where_a_group_that_wants_an_incident_goes():
    assert rules.on_new_firing("digest", storm=False) == GroupState.OPENING
    assert rules.on_new_firing("digest", storm=True) is None  # still listed; opens after
    assert rules.on_new_firing("open", storm=False) == GroupState.OPENING  # a new incident
    assert rules.on_new_firing("open", storm=True) == GroupState.DIGEST


def test_retries_back_off_doubling_up_to_a_minute():
    assert [rules.open_retry(n).total_seconds() for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert rules.NOTES_BACKOFF.delay(1) == timedelta(seconds=2)
    assert not rules.notes_given_up(rules.NOTE_TRIES - 1)
    assert rules.notes_given_up(rules.NOTE_TRIES)


def test_notes_are_paced_one_message_per_interval():
    every = timedelta(seconds=2)
    assert rules.notes_due(None, NOW, every) is None
    assert rules.notes_due(NOW - every, NOW, every) is None
    assert rules.notes_due(NOW - timedelta(seconds=1), NOW, every) == NOW + timedelta(seconds=1)


def test_the_commander_is_mentioned_when_an_alert_resolves_or_fires_again():
    assert rules.mentions_commander([{"kind": "resolved"}], "123")
    assert rules.mentions_commander([{"kind": "new"}, {"kind": "refiring"}], "123")
    assert not rules.mentions_commander([{"kind": "new"}], "123")
    assert not rules.mentions_commander([{"kind": "resolved"}], None)


def test_down_since_is_trusted_within_a_week():
    assert rules.down_since(NOW - timedelta(hours=1), NOW) == NOW - timedelta(hours=1)
    assert rules.down_since(NOW - timedelta(days=8), NOW) is None
    assert rules.down_since(NOW + timedelta(minutes=1), NOW) is None
    assert rules.down_since(None, NOW) is None


def test_a_note_says_what_changed_in_words_the_sender_cannot_format():
    evil = event(name="Probe <@123456789012345678>", url="http://a) [x](http://b")
    note = rules.make_note("new", NOW, [evil, event("Other")], notification(evil), ["P1"])
    assert note["count"] == 2 and note["alerts"][0]["severity"] == "P1"
    assert "<@123456789012345678>" not in note["alerts"][0]["name"]
    assert note["alerts"][0]["url"] is None
    assert rules.timeline_text(note).startswith("New alerts in the group: Probe")
    many = [event(f"A{n}") for n in range(rules.NOTE_ALERTS + 3)]
    crowded = rules.make_note("resolved", NOW, many, notification(*many))
    assert rules.names(crowded).endswith("and 3 more")
    assert rules.timeline_data(crowded, 7)["group_id"] == 7


def test_the_digest_packs_entries_into_messages_discord_takes():
    def render(entries: list[int], header: bool) -> str:
        return ("HEADER\n" if header else "") + "\n".join("x" * 300 for _ in entries)

    packed = rules.pack_digest(list(range(40)), render)
    assert packed[0][1].startswith("HEADER")
    assert not any(text.startswith("HEADER") for _, text in packed[1:])
    assert [n for chunk, _ in packed for n in chunk] == list(range(40))
    assert all(len(text) <= rules.MAX_MESSAGE for _, text in packed)
    assert all(len(chunk) <= rules.DIGEST_CHUNK for chunk, _ in packed)


def test_labels_beyond_alertname_are_shown_sorted_inert_and_capped():
    labels = {"alertname": "Down", "zone": "eu`1", "job": "@everyone <@1>", "env": "prod\u202e"}
    labels.update({f"extra{n:02d}": str(n) for n in range(20)})
    shown = rules.shown_labels(labels)
    assert len(shown) == rules.NOTE_LABELS
    assert [k for k, _ in shown] == sorted(k for k in labels if k != "alertname")[
        : rules.NOTE_LABELS
    ]
    values = dict(shown)
    assert values["env"] == "prod"  # the bidi override is gone
    assert "`" not in "".join(k + v for k, v in shown)  # each fits inside its code span
