"""check-config for the chain: the RPC answers with the configured chain id, and every
address the mitigations use (configured or from the environment) is a checksummed
contract address with code there."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.adapters.chain import ChainClient
from bot.mitigate.actions import referenced_names, target_names
from bot.mitigate.config import MitigateConfig


async def chain_problems(
    config: MitigateConfig, environ: Mapping[str, str], watched: Iterable[str] = ()
) -> list[str]:
    """``watched``: the names the chain watch uses, resolved the same way."""
    chain = config.chain
    if chain.rpc_url is None:
        return []
    watched = set(watched)
    names, problems = target_names(config, environ, also=watched)
    for name in sorted(referenced_names(config) - set(names)):
        problems.append(
            f"mitigate: {name} is used by an action but not configured "
            f"(set [mitigate.addresses] {name} or the environment variable {name})"
        )
    for name in sorted(watched - set(names)):
        problems.append(
            f"watch: {name} is watched but not configured "
            f"(set [mitigate.addresses] {name} or the environment variable {name})"
        )
    used = {f"mitigate.addresses.{name}": address for name, address in names.items()}
    for action_name, action in config.actions.items():
        for key, value in (("target", action.target), ("effect.contract", action.effect.contract)):
            if value is not None and value.startswith("0x"):
                used[f"mitigate.actions.{action_name}.{key}"] = value
    client = ChainClient(chain.rpc_url, chain.chain_id, chain.request_timeout)
    try:
        return problems + await client.check(used)
    finally:
        await client.close()
