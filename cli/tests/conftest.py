"""Drive the CLI in-process against the FakeGateway, with a throwaway HOME and scripted input."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakes import FakeGateway

from paastech_cli.app import main
from paastech_cli.runtime import Runtime

API = "http://gateway.test"


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Run ``paastech`` with a fake outside world; tweak the fields between runs."""

    gateway: FakeGateway
    home: Path
    cwd: Path
    env: dict[str, str]
    secret_answers: list[str]
    opened: list[str]
    real_network: bool = False  # True: no fake, real TCP (only ever to loopback in tests)

    def __call__(self, *args: str, stdin: str = "") -> Result:
        out, err = io.StringIO(), io.StringIO()
        answers = iter(self.secret_answers)

        def secret(prompt: str) -> str:
            err.write(prompt)
            return next(answers)

        def open_url(url: str) -> bool:
            self.opened.append(url)
            return True

        runtime = Runtime(
            environ=self.env,
            cwd=self.cwd,
            stdin=io.StringIO(stdin),
            stdout=out,
            stderr=err,
            transport=None if self.real_network else self.gateway.transport,
            prompt_secret=secret,
            open_url=open_url,
        )
        code = main(list(args), runtime)
        return Result(code, out.getvalue(), err.getvalue())

    def login(self, email: str = "ada@example.com") -> str:
        """Give the CLI a saved session for ``email`` (account created in the fake)."""
        token = self.gateway.add_account(email)
        self.env["PAASTECH_TOKEN"] = token
        return token


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def cli(gateway: FakeGateway, tmp_path: Path) -> Cli:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {"HOME": str(home), "PAASTECH_API_URL": API, "PATH": "/usr/bin:/bin"}
    return Cli(gateway=gateway, home=home, cwd=work, env=env, secret_answers=[], opened=[])


@pytest.fixture
def git_repo(cli: Cli) -> Callable[..., Path]:
    """Make the CLI's cwd a git repository, optionally with a `paastech` remote."""

    def make(remote: str | None = None, branch: str = "main") -> Path:
        subprocess.run(["git", "init", "-q", "-b", branch, str(cli.cwd)], check=True)
        if remote is not None:
            subprocess.run(
                ["git", "-C", str(cli.cwd), "remote", "add", "paastech", remote], check=True
            )
        return cli.cwd

    return make
