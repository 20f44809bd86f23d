"""The world's signer members bind their wallets through the bot's real flow
(``/signer register``, a signed challenge, ``/signer verify``), driven through the control
API: what a newcomer would do, done for them when the sandbox starts."""

from __future__ import annotations

import re
from typing import Any

_FENCED = re.compile(r"```\n(.*?)\n```", re.DOTALL)


async def register_signers(control: Any, chain: dict[str, Any], channel_id: str) -> list[str]:
    """Each signer member runs ``/signer register``, signs the challenge with their
    development key (as ``cast wallet sign`` would) and runs ``/signer verify``: what a
    newcomer would do, done for them at start. The addresses bound."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    bound = []
    for signer in chain["signers"]:
        user_id = signer.get("user_id")
        if not user_id:
            continue
        answer = await control.command(
            user_id, channel_id, "signer", "register", address=signer["address"]
        )
        content = "\n".join(r.get("content") or "" for r in answer["responses"])
        found = _FENCED.search(content)
        if found is None:
            raise RuntimeError(f"no challenge in the bot's answer: {content[:200]!r}")
        signed = Account.sign_message(encode_defunct(text=found.group(1)), signer["private_key"])
        signature = "0x" + signed.signature.hex().removeprefix("0x")
        answer = await control.command(user_id, channel_id, "signer", "verify", signature=signature)
        content = "\n".join(r.get("content") or "" for r in answer["responses"])
        if "Bound" not in content:
            raise RuntimeError(f"signer {signer['address']} not bound: {content[:200]!r}")
        bound.append(signer["address"])
    return bound
