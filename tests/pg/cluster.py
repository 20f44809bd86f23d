"""A throw-away PostgreSQL cluster for tests and benchmarks: initdb + pg_ctl in a temp folder.

Debian's server binaries live in /usr/lib/postgresql/<version>/bin (``make sysdeps``
installs them). ``initdb`` refuses to run as root, so as root the cluster belongs to
the ``postgres`` system user (or ``nobody``), started through ``runuser``. It listens
on a free loopback port and on a Unix socket in its own folder, with password
(scram) authentication, so the bot's URL is a real ``postgresql+asyncpg://`` one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "incident_bot"
PASSWORD = "throwaway-test-password"
REQUIRE_ENV = "INCIDENT_BOT_REQUIRE_POSTGRES"


class NoPostgres(Exception):
    """PostgreSQL's server binaries cannot be found or started here (the reason)."""


def server_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise NoPostgres("PostgreSQL's initdb was not found (make sysdeps installs it as root)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _owner() -> str | None:
    """The user the cluster runs as: None for the current one unless that is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise NoPostgres("running as root and no postgres or nobody user to own the cluster")


@dataclass
class Cluster:
    folder: Path
    port: int
    bin: Path
    owner: str | None

    def url(self, database: str = "postgres") -> str:
        """The bot's URL without the password (it comes from the environment)."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/{database}"

    def url_with_password(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.owner is not None:
            command = ["runuser", "-u", self.owner, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def psql(self, sql: str, database: str = "postgres") -> str:
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        psql = self.bin / "psql"
        if not psql.exists():
            psql = Path(shutil.which("psql") or "psql")
        done = subprocess.run(
            [
                str(psql),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-qAtc",
                sql,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        if done.returncode:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self, name: str) -> str:
        self.psql(f'CREATE DATABASE "{name}"')
        return name

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", mode, "stop", check=False)

    def start(self) -> None:
        data = self.folder / "data"
        done = self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port} -k {self.folder / 'socket'} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c full_page_writes=off -c max_connections=200",
            "start",
            check=False,
        )
        if done.returncode:
            log = (self.folder / "server.log").read_text(errors="replace")[-2000:]
            raise NoPostgres(f"pg_ctl start failed: {done.stderr.strip()} {log}")

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb a new cluster in a temporary folder and start it; NoPostgres says why not."""
    binaries = server_bin()
    owner = _owner()
    folder = Path(tempfile.mkdtemp(prefix="incident-bot-pg-"))
    (folder / "socket").mkdir()
    pwfile = folder / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if owner is not None:
        entry = pwd.getpwnam(owner)
        for path in (folder, folder / "socket", pwfile):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    os.chmod(folder, 0o700)
    cluster = Cluster(folder, _free_port(), binaries, owner)
    done = cluster._run(
        "initdb",
        "-D",
        str(folder / "data"),
        "-U",
        USER,
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        check=False,
    )
    if done.returncode:
        shutil.rmtree(folder, ignore_errors=True)
        raise NoPostgres(f"initdb failed: {done.stderr.strip()[-500:]}")
    cluster.start()
    return cluster
