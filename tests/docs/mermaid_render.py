"""A real mermaid renderer for the documentation tests: ``@mermaid-js/mermaid-cli`` (mmdc).

Installed once per machine with npm into ``~/.cache/paastech/npm/mermaid-cli-<version>``
(outside the repository), with ``PUPPETEER_SKIP_DOWNLOAD=1``: puppeteer drives Debian's
``/usr/bin/chromium`` instead of a browser of its own (none can be downloaded here). npm and
Chromium come from Debian packages, installed when running as root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from paastech.errors import PaasTechError
from paastech.infra.binaries import cache_root
from paastech.infra.packages import ensure_packages

MERMAID_CLI_VERSION = "11.17.0"
CHROMIUM = Path("/usr/bin/chromium")
INSTALL_SECONDS = 600


class RendererUnavailable(Exception):
    """node, npm, Chromium or the mermaid CLI cannot be provided (the reason says which)."""


def _ensure_program(program: str, package: str) -> None:
    if shutil.which(program) is None:
        try:
            ensure_packages([package])
        except PaasTechError as exc:
            raise RendererUnavailable(f"`{program}` is missing: {exc}") from exc
    if shutil.which(program) is None:
        raise RendererUnavailable(f"`{program}` is still missing after installing {package}")


def ensure_mmdc() -> tuple[Path, Path]:
    """The ``mmdc`` executable and a puppeteer config naming the system Chromium.

    Raises:
        RendererUnavailable: a piece cannot be installed.
    """
    # Debian's npm brings nodejs; a nodejs that bundles npm (NodeSource's) is left alone.
    _ensure_program("npm", "npm")
    _ensure_program("node", "nodejs")
    if not CHROMIUM.exists():
        try:
            ensure_packages(["chromium"])
        except PaasTechError as exc:
            raise RendererUnavailable(f"{CHROMIUM} is missing: {exc}") from exc
        if not CHROMIUM.exists():
            raise RendererUnavailable(f"{CHROMIUM} is missing after installing chromium")
    prefix = cache_root() / "npm" / f"mermaid-cli-{MERMAID_CLI_VERSION}"
    mmdc = prefix / "node_modules" / ".bin" / "mmdc"
    if not mmdc.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
        done = subprocess.run(
            [
                *("npm", "install", "--no-audit", "--no-fund", "--prefix", str(prefix)),
                f"@mermaid-js/mermaid-cli@{MERMAID_CLI_VERSION}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=INSTALL_SECONDS,
            check=False,
        )
        if done.returncode != 0 or not mmdc.exists():
            raise RendererUnavailable(f"npm install failed:\n{done.stderr[-3000:]}")
    config = prefix / "puppeteer.json"
    # Root cannot run Chromium's sandbox; the input is our own document, rendered offline.
    wanted = {"executablePath": str(CHROMIUM), "args": ["--no-sandbox", "--disable-gpu"]}
    if not config.exists() or json.loads(config.read_text()) != wanted:
        config.write_text(json.dumps(wanted))
    return mmdc, config


def render(
    mmdc: Path, config: Path, source: str, out_dir: Path
) -> subprocess.CompletedProcess[str]:
    """Render one diagram to SVG with mmdc (exit 1 and the parser's message on an error)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    src = out_dir / "diagram.mmd"
    src.write_text(source)
    return subprocess.run(
        [str(mmdc), "-q", "-p", str(config), "-i", str(src), "-o", str(out_dir / "diagram.svg")],
        env={**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
