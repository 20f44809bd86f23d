"""Who may do what, as the default ``[permissions]`` configure it: the README's table.

Each kind of member is one person of the sandbox world with only what makes the kind
(the matrix strips the seed's extra roles first), so a row reads as the rule it checks:

- ``none``: frank, no role, not paged, not commanding;
- ``commander``: carol, handed command by an admin, no role;
- ``paged``: bob, the on-call primary paged at declaration (role ``oncall``);
- ``admin``: alice, role ``incident-admin`` only;
- ``signer``: dave, role ``multisig-signer`` only;
- ``comms``: erin, role ``comms`` only;
- ``bot``: the bot's own user.
"""

from __future__ import annotations

KINDS = ("none", "commander", "paged", "admin", "signer", "comms", "bot")
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

# action: (what the refusal says the member may not do, the kinds allowed). A kind not
# listed is refused.
_ALLOWED: dict[str, tuple[str, str]] = {
    "acknowledge": ("acknowledge this incident", "commander paged admin"),
    "change severity": ("change the severity", "commander admin"),
    "hand over": ("hand over command", "commander admin"),
    "mitigated": ("", "commander admin"),
    "resolve": ("", "commander admin"),
    "reopen": ("", "commander admin"),
    "post update": ("", "commander admin comms"),
}
MATRIX: dict[str, tuple[str, dict[str, bool]]] = {
    action: (doing, {kind: kind in who.split() for kind in KINDS})
    for action, (doing, who) in _ALLOWED.items()
}
