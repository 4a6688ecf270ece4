"""README's "Five minutes with PaaSTech", typed as it stands by a new user on a fresh HOME.

The commands are read out of README.md itself (the shell block of the repository step and
the inline commands after it), so the walkthrough and this test cannot drift apart. Only
the project name is made unique, because names are unique on the platform and the suite's
other tests may have taken ``hello``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_harness import User

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def walkthrough() -> str:
    text = README.read_text()
    start = text.index("## Five minutes with PaaSTech")
    return text[start : text.index("\n## ", start + 1)]


def repository_block(section: str) -> list[str]:
    """The indented shell block of the walkthrough (making the app's repository)."""
    block = re.search(r"\n\n((?: {7}\S.*\n)+)\n", section)
    assert block is not None, "the walkthrough lost its shell block"
    return [line.strip() for line in block[1].splitlines()]


def test_the_walkthrough_runs_as_written_and_the_push_reaches_the_forge(
    new_user: Callable[[str], User],
) -> None:
    """Repository on `main`, `projects create` inside it adds the remote (no `git remote add`
    to type), and `git push paastech main` stores that very commit on the forge."""
    section = walkthrough()
    for command in (
        "paastech keys add",
        "paastech projects create hello",
        "git push paastech main",
    ):
        assert f"`{command}" in section, f"walkthrough no longer says {command!r}"
    assert "git remote add paastech" not in section  # the CLI adds it
    name = f"hello-{uuid.uuid4().hex[:6]}"
    user = new_user("walk")
    password = user.password + "\n"
    user.ok("paastech", "signup", "--email", user.email, "--password-stdin", stdin=password)
    user.keygen()
    user.ok("paastech", "keys", "add")

    script = " && ".join(repository_block(section)).replace("hello", name)
    made = user.run("bash", "-c", script)
    assert made.returncode == 0, made.stderr
    repo = user.home / name
    assert user.ok("git", "symbolic-ref", "--short", "HEAD", cwd=repo).strip() == "main"

    created = user.run("paastech", "projects", "create", name, cwd=repo)
    assert created.returncode == 0, created.stderr
    assert "git push paastech main" in created.stderr
    push = user.run("git", "push", "paastech", "main", cwd=repo)
    assert "already exists" not in push.stderr
    assert "src refspec main does not match" not in push.stderr
    head = user.ok("git", "rev-parse", "HEAD", cwd=repo).strip()
    remote = user.ok("git", "ls-remote", "paastech", "refs/heads/main", cwd=repo).split()
    assert remote[:1] == [head], push.stderr
