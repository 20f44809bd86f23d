"""Who may do what, as the default configuration has it: the README's table.

Each kind of member is one person of the sandbox world with only what makes the kind
(the matrix strips the seed's extra roles first), so a row reads as the rule it checks:

- ``none``: frank, no role, not paged, not commanding;
- ``commander``: carol, handed command by an admin, no role;
- ``paged``: bob, the on-call primary paged at declaration (role ``oncall``);
- ``admin``: alice, role ``incident-admin`` only;
- ``signer``: dave, role ``multisig-signer`` only (a bound signer in the chain rows);
- ``comms``: erin, role ``comms`` only;
- ``bot``: the bot's own user.

``ROWS`` is every privileged action; ``COMMANDS`` names, for every application command the
bot registers, the row that checks it or why it needs none (tests/matrix/test_coverage.py
fails on a command missing here, and on a README table that differs from ``readme_table``).
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("none", "commander", "paged", "admin", "signer", "comms", "bot")
HEADINGS = ("none", "commander", "paged", "incident-admin", "signer", "comms", "the bot")
PERSON = {
    "none": "frank",
    "commander": "carol",
    "paged": "bob",
    "admin": "alice",
    "signer": "dave",
    "comms": "erin",
}
# The seed's roles each person loses so that they are their kind and nothing else.
STRIP = {
    "alice": ("oncall",),
    "bob": ("multisig-signer",),
    "carol": ("oncall", "multisig-signer"),
    "dave": ("comms",),
}

ANYONE = "anyone"  # a row with no configured rule: every kind may


@dataclass(frozen=True)
class Row:
    action: str
    how: str  # the README's cell: the command or the gesture
    rule: str  # the configuration key of the rule (``section.key``), or ANYONE
    reason: str  # what a refused member is told; ``{who}`` is the rule, described
    allowed: tuple[str, ...]  # the kinds allowed with the default configuration
    chain: bool = False  # runs against a test chain (tests/matrix/test_matrix_chain.py)
    ignored: tuple[str, ...] = ()  # kinds whose gesture is ignored: nobody told, nothing done

    def outcome(self, kind: str) -> bool:
        return kind in self.allowed

    def cell(self, kind: str) -> str:
        return "➖" if kind in self.ignored else "✅" if self.outcome(kind) else "❌"


_STAFF = ("commander", "admin")
_ALL = KINDS

ROWS: tuple[Row, ...] = (
    Row("declare", "`/incident declare`", "permissions.declare",
        "Only {who} may declare an incident.", _ALL),
    Row("acknowledge", "`/incident ack`", "permissions.acknowledge",
        "Only {who} may acknowledge this incident.", ("commander", "paged", "admin")),
    Row("change severity", "`/incident severity`", "permissions.change_severity",
        "Only {who} may change the severity.", _STAFF),
    Row("hand over", "`/incident commander`", "permissions.hand_over",
        "Only {who} may hand over command.", _STAFF),
    Row("mitigated", "`/incident mitigated`", "permissions.change_status",
        "Only {who} may mark the incident mitigated.", _STAFF),
    Row("resolve", "`/incident resolve`", "permissions.change_status",
        "Only {who} may mark the incident resolved.", _STAFF),
    Row("reopen", "`/incident reopen`", "permissions.change_status",
        "Only {who} may mark the incident acknowledged.", _STAFF),
    Row("post update", "`/incident update`", "permissions.post_update",
        "Only {who} may post a status update.", ("commander", "admin", "comms")),
    Row("close", "`/incident close` (checklist done)", "permissions.change_status",
        "Only {who} may close it.", _STAFF),
    Row("close with override", "`/incident close reason:` (items missing)",
        "follow_up.override", "Only {who} may close with items missing.", ("admin",)),
    Row("approve comms", "✅ on the X draft", "permissions.approve_external",
        "Only {who} may approve posts to X, so nothing happened.", ("commander", "comms"),
        ignored=("bot",)),
    Row("approve comms (button)", "**Approve** on the X draft", "permissions.approve_external",
        "Only {who} may approve posts to X, so nothing happened.", ("commander", "comms")),
    Row("override on-call", "`/oncall override`", "permissions.override_rotation",
        "Only {who} may override the rotation.", ("admin",)),
    Row("swap on-call", "`/oncall swap`", "permissions.override_rotation",
        "Only {who} may swap the rotation.", ("admin",)),
    Row("register signer", "`/signer register`", "permissions.register_signer",
        "Only {who} may register as a multisig signer.", ("signer",)),
    Row("remove signer", "`/signer remove`", "permissions.remove_signer",
        "Only {who} may remove a signer.", ("admin",)),
    Row("publish postmortem", "`/postmortem publish`", "postmortem.publish",
        "Only {who} may publish the postmortem.", _STAFF),
    Row("hotfix", "`/mitigate hotfix` (P1)", ANYONE, "", _ALL),
    Row("deployed", "`/mitigate deployed` (P1)", ANYONE, "", _ALL),
    Row("ticket", "`/mitigate ticket` (P2/P3)", ANYONE, "", _ALL),
    Row("add action item", "`/followup add`", ANYONE, "", _ALL),
    Row("finish action item", "`/followup done`", ANYONE, "", _ALL),
    Row("answer close-out", "a close-out question's button", "follow_up.override",
        "Only the incident commander or {who} answers this.", _STAFF),
    Row("propose pause", "`/mitigate pause` (P0)", "permissions.propose_mitigation",
        "Only {who} may propose the emergency pause.", ("commander", "admin", "signer"),
        chain=True),
    Row("confirm proposal", "✅ on a pause proposal (P0)", "bound signers",
        "only bound signers count (`/signer register`)", ("signer",), chain=True,
        ignored=("bot",)),
    Row("cancel proposal", "`/mitigate cancel` (P0)", "permissions.cancel_mitigation",
        "Only {who} may cancel an emergency action.", _STAFF, chain=True),
    Row("kill switch", "`/mitigate killswitch` (P0)", "permissions.run_killswitch",
        "Only a bound signer or {who} may run the kill switch.", ("admin", "signer"),
        chain=True),
    Row("confirm kill switch", "the kill switch's **Confirm** (P0)", "who ran it",
        "Only <@{runner}>, who ran it, may confirm this kill switch.", ("admin",), chain=True),
)  # fmt: skip
BY_ACTION = {row.action: row for row in ROWS}

# Every application command the bot registers → the row(s) that check it, or, for a command
# no rule guards, why none is needed.
NO_RULE = "no rule: reads, or writes only the member's own notes"
COMMANDS: dict[str, str] = {
    "incident declare": "declare",
    "incident ack": "acknowledge",
    "incident commander": "hand over",
    "incident severity": "change severity",
    "incident status": "no rule: reads",
    "incident resolve": "resolve",
    "incident reopen": "reopen",
    "incident list": "no rule: reads",
    "incident update": "post update",
    "incident playbook": "no rule: reads",
    "incident mitigated": "mitigated",
    "incident close": "close, close with override",
    "incident stats": "no rule: reads",
    "incident follow-up": "no rule: reads",
    "incident postmortem": "no rule: reads",
    "oncall now": "no rule: reads",
    "oncall next": "no rule: reads",
    "oncall override": "override on-call",
    "oncall swap": "swap on-call",
    "signer register": "register signer",
    "signer verify": "no rule: binds the member's own address, proven by its signature",
    "signer list": "no rule: reads",
    "signer remove": "remove signer",
    "mitigate pause": "propose pause",
    "mitigate killswitch": "kill switch",
    "mitigate sign": "no rule: a Safe owner's signature is checked on-chain",
    "mitigate cancel": "cancel proposal",
    "mitigate hotfix": "hotfix",
    "mitigate deployed": "deployed",
    "mitigate ticket": "ticket",
    "postmortem why": "no rule: anyone in the channel adds to the draft",
    "postmortem impact": "no rule: anyone in the channel adds to the draft",
    "postmortem lesson": "no rule: anyone in the channel adds to the draft",
    "postmortem draft": "no rule: attaches a draft, publishes nothing",
    "postmortem transcript": "no rule: reads",
    "postmortem status": "no rule: reads",
    "postmortem publish": "publish postmortem",
    "timeline add": "no rule: anyone in the channel adds to the timeline",
    "timeline show": "no rule: reads",
    "Add to timeline": "no rule: anyone in the channel adds to the timeline",
    "followup add": "add action item",
    "followup done": "finish action item",
    "followup list": "no rule: reads",
}


def readme_table() -> str:
    """The README's "Who may do what" table, from ``ROWS``."""
    lines = [
        "| Action | How | " + " | ".join(HEADINGS) + " |",
        "|---|---|" + "---|" * len(HEADINGS),
    ]
    for row in ROWS:
        cells = " | ".join(row.cell(kind) for kind in KINDS)
        lines.append(f"| {row.action} | {row.how} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":  # `python -m tests.matrix.table`: the table to paste in the README
    print(readme_table())
