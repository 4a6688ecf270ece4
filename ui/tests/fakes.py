"""FakeGateway: the gateway's contract in memory, behind an ``httpx.MockTransport``.

The CLI's tests already keep this named fake (``cli/tests/fakes.py``): the dashboard uses the
same one, imported from there rather than copied, so both clients are tested against one
picture of the contract. It keeps state across calls (sign up, log in, create a project, see
it listed), answers RFC 9457 problems, records every request and can play a backend that is
down (``backend_up = False`` → 503 on the routes that need the scheduler).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CLI_FAKES = Path(__file__).resolve().parents[2] / "cli" / "tests" / "fakes.py"


def _load() -> ModuleType:
    name = "paastech_cli_test_fakes"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CLI_FAKES)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the CLI's fake gateway from {CLI_FAKES}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


_fakes = _load()
FakeGateway = _fakes.FakeGateway
FakeProject = _fakes.FakeProject
log_line = _fakes.log_line

PASSWORD = "correct horse 1"
"""The password ``FakeGateway.add_account`` gives an account by default."""
