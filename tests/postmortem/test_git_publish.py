"""Publishing a file with real git into a real bare repository: commit and push, the same
text again commits nothing, a remote that moved is rebased onto once, twice is refused
with the checkout put back."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from bot.adapters.git import PushRejected, publish_file, token_env
from sandbox.ops_repo import create_ops_repo

AUTHOR = ("Incident Bot", "bot@example.invalid")
PATH = "incidents/2026-03-14-site-down.md"


def run(*args: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env |= {
        "GIT_AUTHOR_NAME": "Other",
        "GIT_AUTHOR_EMAIL": "o@x",
        "GIT_COMMITTER_NAME": "Other",
        "GIT_COMMITTER_EMAIL": "o@x",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    return create_ops_repo(tmp_path / "ops.git", {"README.md": "ops\n"})


def remote_file(remote: Path, path: str = PATH) -> str:
    return run("show", f"main:{path}", cwd=remote)


def moves_remote_on_push(checkout: Path, remote: Path, tmp_path: Path, times: int) -> None:
    """A pre-push hook in the bot's checkout: someone else pushes to the remote right
    before each of the next ``times`` pushes (the remote moves under the bot)."""
    other = tmp_path / "other"
    run("clone", "--quiet", str(remote), str(other), cwd=tmp_path)
    counter = tmp_path / "pushes"
    counter.write_text("0")
    hook = checkout / ".git" / "hooks" / "pre-push"
    hook.write_text(
        f"""#!/bin/sh
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_CONFIG_COUNT GIT_CONFIG_KEY_0 GIT_CONFIG_VALUE_0
n=$(cat {counter}); [ "$n" -ge {times} ] && exit 0
echo $((n + 1)) > {counter}
cd {other} && git pull -q --rebase origin main && echo "change $n" >> notes.md && git add notes.md \\
  && git -c user.name=O -c user.email=o@x commit -qm "someone else $n" && git push -q origin HEAD:main
exit 0
"""
    )
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)


async def test_publish_commits_and_pushes_and_the_same_text_again_commits_nothing(remote, tmp_path):
    checkout = tmp_path / "checkout"
    first = await publish_file(
        str(remote), checkout, "main", PATH, "# v1\n", "Add postmortem", AUTHOR
    )
    assert first.changed and not first.retried
    assert remote_file(remote) == "# v1\n"
    assert run("rev-parse", "main", cwd=remote).strip() == first.commit
    same = await publish_file(str(remote), checkout, "main", PATH, "# v1\n", "Update", AUTHOR)
    assert (same.changed, same.commit) == (False, first.commit)
    second = await publish_file(
        str(remote), checkout, "main", PATH, "# v2\n", "Update postmortem", AUTHOR
    )
    assert second.changed and second.commit != first.commit
    assert remote_file(remote) == "# v2\n"
    log = run("log", "--format=%s", "main", cwd=remote).splitlines()
    assert log[:2] == ["Update postmortem", "Add postmortem"]


async def test_a_remote_that_moved_is_rebased_onto_and_pushed_again(remote, tmp_path):
    checkout = tmp_path / "checkout"
    await publish_file(str(remote), checkout, "main", PATH, "# v1\n", "Add", AUTHOR)
    moves_remote_on_push(checkout, remote, tmp_path, times=1)
    done = await publish_file(str(remote), checkout, "main", PATH, "# v2\n", "Update", AUTHOR)
    assert done.retried and done.changed
    assert remote_file(remote) == "# v2\n"
    assert remote_file(remote, "notes.md") == "change 0\n"  # the other change kept
    assert run("rev-parse", "main", cwd=remote).strip() == done.commit


async def test_rejected_twice_is_refused_and_the_checkout_is_put_back(remote, tmp_path):
    checkout = tmp_path / "checkout"
    await publish_file(str(remote), checkout, "main", PATH, "# v1\n", "Add", AUTHOR)
    moves_remote_on_push(checkout, remote, tmp_path, times=2)
    with pytest.raises(PushRejected, match="rejected twice"):
        await publish_file(str(remote), checkout, "main", PATH, "# v2\n", "Update", AUTHOR)
    assert remote_file(remote) == "# v1\n"
    assert run("status", "--porcelain", cwd=checkout) == ""
    assert run("rev-parse", "HEAD", cwd=checkout) == run("rev-parse", "main", cwd=remote)


def test_a_token_is_an_environment_header_never_part_of_a_url_or_an_argument():
    env = token_env("s3cret")
    assert env["GIT_CONFIG_KEY_0"] == "http.extraHeader"
    assert "s3cret" not in env["GIT_CONFIG_VALUE_0"]  # base64 in a Basic header
    assert token_env(None) == {}


async def test_a_failure_names_the_subcommand_and_what_git_said_even_on_stdout(tmp_path: Path):
    """``git -c user.name=… commit`` refusing "nothing to commit" says so on stdout only:
    the failure names ``commit`` and git's words, not ``-c`` and an empty text."""
    from bot.adapters.git import GitFailed, git

    run("init", "--quiet", str(tmp_path / "repo"), cwd=tmp_path)
    with pytest.raises(GitFailed) as failed:
        await git("-c", "user.name=x", "-c", "user.email=x@x", "commit", "-m", "m",
                  cwd=tmp_path / "repo")  # fmt: skip
    assert failed.value.command == "commit"
    assert "nothing to commit" in str(failed.value)
