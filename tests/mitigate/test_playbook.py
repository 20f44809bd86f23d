"""The playbook rule: a severity's steps filled for one incident, without Discord."""

from __future__ import annotations

from datetime import date

from bot.mitigate.playbook import PlaybookFacts, fill_step, playbook_for, render_playbook
from bot.procedure import MitigationKind, default_procedure

PROCEDURE = default_procedure()
TIMELOCK = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
KILL_SWITCH = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
ISSUE = "https://github.com/atrium/atrium/issues/7"


def facts(**changes) -> PlaybookFacts:
    base = {"day": date(2026, 3, 14), "slug": "withdrawals-failing"}
    return PlaybookFacts(**{**base, **changes})


def test_the_p1_hotfix_branch_carries_the_incidents_local_date():
    filled = playbook_for(PROCEDURE.severity("P1"), facts())
    steps = [step.markdown() for step in filled.steps]
    assert steps[0] == "Hotfix branch: `git checkout -b hotfix/incident-2026-03-14`."
    assert steps[1] == "Fix, test, push: `git push -u origin hotfix/incident-2026-03-14`."
    assert all("YYYY-MM-DD" not in step for step in steps)


def test_p0_steps_name_the_configured_contract_addresses():
    addresses = {"PRAETOR_TIMELOCK": TIMELOCK, "POSTERN_KILL_SWITCH": KILL_SWITCH}
    filled = playbook_for(PROCEDURE.severity("P0"), facts(addresses=addresses))
    text = render_playbook(filled)
    assert f"`pause()` on {TIMELOCK}." in text
    assert f"`revokeAll(address)` on {KILL_SWITCH}" in text
    assert "$" not in text and "not configured" not in text


def test_an_address_not_configured_stays_visible_and_says_what_to_set():
    filled = playbook_for(PROCEDURE.severity("P0"), facts(addresses={}))
    pause, _, kill = filled.steps
    assert pause.missing == ("PRAETOR_TIMELOCK",)
    assert pause.markdown() == (
        "Emergency pause via the Praetor multisig: `pause()` on $PRAETOR_TIMELOCK. "
        "(not configured: set [mitigate.addresses] PRAETOR_TIMELOCK)"
    )
    assert "$POSTERN_KILL_SWITCH" in kill.text
    assert kill.hints == ("not configured: set [mitigate.addresses] POSTERN_KILL_SWITCH",)


def test_a_signers_key_placeholder_is_never_filled_nor_asked_for():
    step = fill_step(
        'cast send $PRAETOR_TIMELOCK "pause()" --private-key $MULTISIG_KEY_1',
        facts(addresses={"PRAETOR_TIMELOCK": TIMELOCK}),
    )
    assert step.text == f'cast send {TIMELOCK} "pause()" --private-key $MULTISIG_KEY_1'
    assert step.missing == ()


def test_one_missing_name_is_hinted_once_and_the_slug_is_filled():
    step = fill_step("Watch $VAULT, then $VAULT again, for <slug>", facts())
    assert step.text == "Watch $VAULT, then $VAULT again, for withdrawals-failing"
    assert step.missing == ("VAULT",)


def test_the_ticket_step_says_the_issue_was_opened_with_its_link():
    for severity in ("P2", "P3"):
        filled = playbook_for(PROCEDURE.severity(severity), facts(github_issue_url=ISSUE))
        assert filled.kind is MitigationKind.GITHUB_TICKET
        create, link, schedule = filled.steps
        assert create.state == f"Opened: {ISSUE}"
        assert create.markdown().endswith(f"**Opened: {ISSUE}**")
        assert (link.state, schedule.state) == (None, None)


def test_without_an_issue_the_ticket_step_is_still_to_do():
    filled = playbook_for(PROCEDURE.severity("P2"), facts())
    assert [step.state for step in filled.steps] == [None, None, None]
    assert filled.lines()[0] == "1. Create a GitHub issue with the `incident` label."


def test_only_the_ticket_playbook_reports_the_issue():
    filled = playbook_for(PROCEDURE.severity("P1"), facts(github_issue_url=ISSUE))
    assert all(step.state is None for step in filled.steps)


def test_the_answer_is_titled_with_the_severity_and_summary_and_numbered():
    text = render_playbook(playbook_for(PROCEDURE.severity("P1"), facts()))
    title, *steps = text.splitlines()
    assert title == "**P1 playbook: Service restoration**"
    assert [line[:3] for line in steps] == ["1. ", "2. ", "3. "]
