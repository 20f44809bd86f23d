"""Emergency actions as configuration, built for one use: the target resolved (an address,
``[mitigate.addresses] NAME``, or the environment variable NAME), the arguments filled,
the calldata encoded, and the effect check resolved to a contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.adapters.chain import calldata
from bot.errors import UserError
from bot.mitigate.config import MitigateConfig, checksummed
from bot.mitigate.rules import MitigationState, ResolvedEffect, fill_args
from storage.mitigate_models import Mitigation


@dataclass(frozen=True)
class BuiltAction:
    name: str
    label: str
    target: str
    function: str
    args: tuple[str, ...]
    calldata: str
    effect: ResolvedEffect


def referenced_names(config: MitigateConfig) -> set[str]:
    """Every NAME an action or effect check uses instead of an address."""
    names = set()
    for action in config.actions.values():
        for value in (action.target, action.effect.contract):
            if value is not None and not value.startswith("0x"):
                names.add(value)
    if config.safe is not None and not config.safe.startswith("0x"):
        names.add(config.safe)
    return names


def target_names(
    config: MitigateConfig, environ: Mapping[str, str], also: Iterable[str] = ()
) -> tuple[dict[str, str], list[str]]:
    """NAME → address: ``[mitigate.addresses]``, else the environment variable NAME; with a
    problem line for each environment value that is no address. ``also``: names other
    phases use (the chain watch's contracts and outflow rules)."""
    names = dict(config.addresses)
    problems = []
    for name in sorted((referenced_names(config) | set(also)) - set(names)):
        value = environ.get(name)
        if value is None:
            continue
        try:
            names[name] = checksummed(value)
        except ValueError as error:
            problems.append(f"environment {name}: {error}")
    return names, problems


def resolve(value: str, names: Mapping[str, str]) -> str:
    if value.startswith("0x"):
        return value
    if value not in names:
        raise UserError(
            f"{value} is not configured: set [mitigate.addresses] {value} (or the environment "
            f"variable {value}) to the contract's address. Nothing was proposed."
        )
    return names[value]


def build(
    config: MitigateConfig, name: str, names: Mapping[str, str], account: str | None = None
) -> BuiltAction:
    action = config.actions[name]
    target = resolve(action.target, names)
    args = tuple(fill_args(action.args, account))
    effect = action.effect
    contract = resolve(effect.contract, names) if effect.contract else target
    return BuiltAction(
        name=name,
        label=action.label or action.function,
        target=target,
        function=action.function,
        args=args,
        calldata=calldata(action.function, args),
        effect=ResolvedEffect(
            contract=contract,
            view=effect.view,
            args=tuple(fill_args(effect.args, account)),
            returns=effect.returns,
            expect=effect.expect,
            event=effect.event,
        ),
    )


def new_mitigation(
    incident_id: int,
    action: BuiltAction,
    state: MitigationState,
    actor_id: str,
    now: datetime,
    within: timedelta,
    head: int,
    threshold: int,
    account: str | None = None,
) -> Mitigation:
    """The row of an action about to be proposed; the chain is watched from ``head`` on."""
    return Mitigation(
        incident_id=incident_id,
        action=action.name,
        state=state,
        target=action.target,
        function=action.function,
        args=list(action.args),
        calldata=action.calldata,
        account=account,
        threshold=threshold,
        proposed_by=actor_id,
        proposed_at=now,
        deadline=now + within,
        start_block=head,
        scanned_to=head,
        effect=action.effect.to_dict(),
    )
