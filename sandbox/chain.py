"""The sandbox's chain: an anvil node (npm ``@foundry-rs/anvil``) with the project's demo
contracts (``contracts/*.sol``, compiled by solcjs) deployed.

    node = await Anvil.start(tools, log_path)      # a fresh node on a free port
    deployment = await deploy(node.rpc_url, tools)   # vault, timelock, kill switches; signers
    ...
    await node.stop()

``ChainPart`` puts one into the world: ``chain`` in ``GET /_sandbox/world`` becomes
``{rpc_url, chain_id, contracts: {name: address}, signers: [{user_id, address,
private_key}], shape, attacker: {address, private_key}}``. The attacker plays a compromised
key: it holds the vault's operator role, so ``cast send $ATRIUM_VAULT "pause()"`` (or
``transferOwnership(address)``, or ``sweep(address,address,uint256)`` of the vault's
``ATRIUM_TOKEN``) drills the bot's chain watch. Without node tooling (``make node`` not run) the part says why
and the world's ``chain`` stays null.

The keys are anvil's well-known development keys (mnemonic "test test … junk"): they
exist to be public, and only the world hands them out, as a signer's wallet would.
Imports nothing of the bot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MNEMONIC = "test test test test test test test test test test test junk"
CHAIN_ID = 31337
WINDOW = 48 * 3600  # the timelock's confirmation window (the runbook's 48 h)
THRESHOLD = 2
_LISTENING = re.compile(rb"Listening on ([0-9.]+):(\d+)")
# Contract names, as the runbook's placeholders name them (so they fill $PRAETOR_TIMELOCK).
SIGNER_ROLE = "multisig-signer"  # the members whose wallets the three signer keys are
TIMELOCK, VAULT = "PRAETOR_TIMELOCK", "ATRIUM_VAULT"
TOKEN = "ATRIUM_TOKEN"  # an ERC-20 the vault holds (the outflow rule's drills)
VAULT_TOKENS = 1_000_000 * 10**18  # what the vault holds at start
OPERATOR_ROLE = "OPERATOR_ROLE"  # the vault's role the attacker holds
KILL_SWITCH, BROKEN_KILL_SWITCH = "POSTERN_KILL_SWITCH", "BROKEN_KILL_SWITCH"
SAFE = "ATRIUM_SAFE"  # shape (b): the Safe that owns the timelock
SHAPES = ("a", "b")
SAFE_ARTIFACTS = {
    "Safe": "contracts/Safe.sol/Safe.json",
    "SafeProxyFactory": "contracts/proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
}


@dataclass(frozen=True)
class NodeTools:
    """Where the npm tools and the compiled artifacts are."""

    root: Path = ROOT
    build: Path | None = None  # default: <root>/build/contracts

    @property
    def build_dir(self) -> Path:
        return self.build or self.root / "build" / "contracts"

    def binary(self, tool: str) -> Path | None:
        # The platform package's binary itself: the node wrapper in .bin would outlive a kill.
        for found in sorted(
            (self.root / "node_modules" / "@foundry-rs").glob(f"{tool}-*/bin/{tool}")
        ):
            return found
        return None

    def missing(self) -> str | None:
        """Why the chain cannot start here, or None."""
        if not (self.root / "node_modules").is_dir():
            return "node tooling is not installed (run `make node`)"
        for tool in ("anvil", "cast"):
            if self.binary(tool) is None:
                return f"{tool} is missing from node_modules (run `make node`)"
        if not (self.root / "node_modules" / "solc").is_dir():
            return "solc is missing from node_modules (run `make node`)"
        return None

    def compile(self) -> Path:
        """Compile contracts/*.sol when an artifact is missing or older than a source."""
        sources = sorted((self.root / "contracts").glob("*.sol"))
        out = self.build_dir
        newest = max(s.stat().st_mtime for s in sources)
        wanted = [out / f"{s.stem}.json" for s in sources]
        if all(a.exists() and a.stat().st_mtime >= newest for a in wanted):
            return out
        subprocess.run(
            ["node", str(self.root / "contracts" / "compile.js"), str(out)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        return out

    def safe_artifact(self, name: str) -> dict[str, Any]:
        return self.safe_artifact_of(SAFE_ARTIFACTS[name], self.root)

    @staticmethod
    def safe_artifact_of(relative: str, root: Path = ROOT) -> dict[str, Any]:
        base = root / "node_modules" / "@safe-global" / "safe-contracts" / "build" / "artifacts"
        data: dict[str, Any] = json.loads((base / relative).read_text())
        return data

    def artifact(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.build_dir / f"{name}.json").read_text())
        return data


def dev_accounts(count: int = 10) -> list[tuple[str, str]]:
    """(address, private key) of anvil's first ``count`` development accounts."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    accounts = []
    for index in range(count):
        account = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
        accounts.append((account.address, "0x" + account.key.hex().removeprefix("0x")))
    return accounts


class Anvil:
    """One anvil process on a port the OS chose; its output goes to a log file (a pipe
    nobody reads would fill and stall it)."""

    def __init__(
        self, process: subprocess.Popen[bytes], host: str, port: int, log_path: Path
    ) -> None:
        self.process = process
        self.rpc_url = f"http://{host}:{port}"
        self.log_path = log_path

    @classmethod
    def start_sync(
        cls,
        tools: NodeTools,
        log_path: Path,
        host: str = "127.0.0.1",
        block_time: float | None = None,
    ) -> Anvil:
        """``block_time`` (seconds): mine on that interval, as a real chain does, instead
        of one block per transaction (anvil's default, instant)."""
        binary = tools.binary("anvil")
        if binary is None:
            raise RuntimeError(tools.missing() or "anvil is missing")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [
                    str(binary),
                    "--host",
                    host,
                    "--port",
                    "0",
                    "--chain-id",
                    str(CHAIN_ID),
                    "--mnemonic",
                    MNEMONIC,
                    *(["--block-time", f"{block_time:g}"] if block_time else []),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            match = _LISTENING.search(log_path.read_bytes())
            if match:
                return cls(process, host, int(match.group(2)), log_path)
            if process.poll() is not None:
                break
            time.sleep(0.05)
        process.kill()
        process.wait()
        raise RuntimeError(f"anvil did not start: {log_path.read_text(errors='replace')[-500:]}")

    @classmethod
    async def start(cls, *args: Any, **kwargs: Any) -> Anvil:
        """``start_sync`` in a thread (the same arguments)."""
        return await asyncio.to_thread(cls.start_sync, *args, **kwargs)

    def stop_sync(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_sync)


@dataclass
class Deployment:
    rpc_url: str
    chain_id: int
    contracts: dict[str, str]
    signers: list[dict[str, Any]]  # {address, private_key, user_id (once members are known)}
    shape: str = "a"
    deployer: tuple[str, str] = ("", "")
    others: list[tuple[str, str]] = field(default_factory=list)  # spare funded accounts
    attacker: tuple[str, str] = ("", "")  # the compromised key: the vault's operator

    def describe(self) -> dict[str, Any]:
        return {
            "rpc_url": self.rpc_url,
            "chain_id": self.chain_id,
            "contracts": dict(self.contracts),
            "signers": [dict(s) for s in self.signers],
            "shape": self.shape,
            "attacker": {"address": self.attacker[0], "private_key": self.attacker[1]},
        }


def deploy_sync(rpc_url: str, tools: NodeTools, shape: str = "a") -> Deployment:
    """Deploy the demo contracts (fresh addresses each call) and name the three signers."""
    from web3 import Web3

    if shape not in SHAPES:
        raise ValueError(
            f"multisig shape {shape!r} is unknown: 'a' (confirm-count timelock) or 'b' (a Safe)"
        )
    tools.compile()
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    accounts = dev_accounts(10)
    deployer = accounts[0]
    signers = accounts[1:4]

    def send(contract_name: str, *args: Any, to: str | None = None, fn: str = "") -> Any:
        artifact = (
            tools.safe_artifact(contract_name)
            if contract_name in SAFE_ARTIFACTS
            else tools.artifact(contract_name)
        )
        contract = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        if to is None:
            tx = contract.constructor(*args).build_transaction({"from": deployer[0]})
        else:
            tx = getattr(w3.eth.contract(address=to, abi=artifact["abi"]).functions, fn)(
                *args
            ).build_transaction({"from": deployer[0]})
        tx["nonce"] = w3.eth.get_transaction_count(deployer[0], "pending")
        signed = w3.eth.account.sign_transaction(tx, deployer[1])
        receipt = w3.eth.wait_for_transaction_receipt(
            w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30
        )
        if receipt["status"] != 1:
            raise RuntimeError(f"deploying {contract_name} failed")
        return receipt.get("contractAddress")

    addresses = [a for a, _ in signers]
    vault = send("AtriumVault", deployer[0])
    contracts: dict[str, str] = {VAULT: vault}
    if shape == "a":
        timelock = send("PraetorTimelock", addresses, THRESHOLD, WINDOW, vault)
    else:
        safe = _deploy_safe(w3, send, addresses, deployer)
        timelock = send("SafeTimelock", safe, vault)
        contracts[SAFE] = safe
    send("AtriumVault", timelock, to=vault, fn="setGuardian")
    contracts[TIMELOCK] = timelock
    contracts[KILL_SWITCH] = send("PosternKillSwitch", addresses)
    contracts[BROKEN_KILL_SWITCH] = send("BrokenKillSwitch", addresses)
    attacker = accounts[9]
    token = send("AtriumToken")
    send("AtriumToken", vault, VAULT_TOKENS, to=token, fn="mint")
    contracts[TOKEN] = token
    role = bytes(Web3.keccak(text=OPERATOR_ROLE))
    send("AtriumVault", role, attacker[0], to=vault, fn="grantRole")
    return Deployment(
        rpc_url=rpc_url,
        chain_id=int(w3.eth.chain_id),
        contracts=contracts,
        signers=[{"address": a, "private_key": k} for a, k in signers],
        shape=shape,
        deployer=deployer,
        others=accounts[4:9],
        attacker=attacker,
    )


def _deploy_safe(w3: Any, send: Any, owners: list[str], deployer: tuple[str, str]) -> str:
    """A Safe v1.4.1 proxy (npm ``@safe-global/safe-contracts``' published artifacts) with
    the three signers as owners and a threshold of two."""
    from web3.logs import DISCARD

    singleton = send("Safe")
    factory_address = send("SafeProxyFactory")
    zero = "0x" + "0" * 40
    safe_abi = NodeTools.safe_artifact_of(SAFE_ARTIFACTS["Safe"])["abi"]
    initializer = w3.eth.contract(abi=safe_abi).encode_abi(
        "setup", [owners, THRESHOLD, zero, b"", zero, zero, 0, zero]
    )
    factory = w3.eth.contract(
        address=factory_address,
        abi=NodeTools.safe_artifact_of(SAFE_ARTIFACTS["SafeProxyFactory"])["abi"],
    )
    salt = int.from_bytes(os.urandom(8), "big")
    tx = factory.functions.createProxyWithNonce(singleton, initializer, salt).build_transaction(
        {"from": deployer[0], "nonce": w3.eth.get_transaction_count(deployer[0], "pending")}
    )
    signed = w3.eth.account.sign_transaction(tx, deployer[1])
    receipt = w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30
    )
    created = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)
    return str(created[0]["args"]["proxy"])


async def deploy(rpc_url: str, tools: NodeTools, shape: str = "a") -> Deployment:
    return await asyncio.to_thread(deploy_sync, rpc_url, tools, shape)


class ChainPart:
    """The world's chain: starts anvil and deploys at world start (or uses a deployment a
    test made on its own node). ``signer_names`` are the members whose wallets the three
    signer keys are, in order."""

    key = "chain"

    def __init__(
        self,
        tools: NodeTools | None = None,
        shape: str = "a",
        deployment: Deployment | None = None,
        signer_names: tuple[str, ...] = (),
        block_time: float | None = None,  # seconds between blocks; None: one per transaction
    ) -> None:
        self.tools = tools or NodeTools()
        self.block_time = block_time
        self.shape = shape
        self.deployment = deployment
        self.signer_names = signer_names
        self.node: Anvil | None = None
        self.unavailable: str | None = None

    def mount(self, world: Any) -> None:
        pass

    async def start(self, world: Any) -> None:
        if self.deployment is None:
            self.unavailable = self.tools.missing()
            if self.unavailable is not None:
                log.info("sandbox chain off: %s", self.unavailable)
                return
            self.node = await Anvil.start(
                self.tools,
                Path(world.options.data_dir) / "anvil.log",
                world.options.host,
                self.block_time,
            )
            try:
                self.deployment = await deploy(self.node.rpc_url, self.tools, self.shape)
            except BaseException:
                await self.node.stop()
                self.node = None
                raise
        state = world.discord.state
        members = list(state.the_guild.members.values())
        role = state.find_role(SIGNER_ROLE)
        names = self.signer_names or tuple(
            m.user.username for m in members if role is not None and role.id in m.roles
        )
        by_name = {m.user.username: m for m in members}
        for signer, name in zip(self.deployment.signers, names, strict=False):
            member = by_name.get(name)
            if member is not None:
                signer["user_id"] = str(member.user.id)
        log.info("sandbox chain at %s (shape %s)", self.deployment.rpc_url, self.shape)

    async def stop(self) -> None:
        if self.node is not None:
            await self.node.stop()
            self.node = None

    def describe(self) -> Any:
        return None if self.deployment is None else self.deployment.describe()


# -- registering the signers through the bot's real flow --------------------------------------
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
