"""``python -m paastech.infra provision|up|down|status|dev`` — used by nox and CI.

- ``provision``: system packages, the Fabio and Nomad builds, the base images.
- ``up``: start components and leave them running (pids recorded under the state dir).
- ``down``: stop what ``up`` started; data stays.
- ``status``: which components answer.
- ``dev``: the whole stack plus the platform's processes until Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from paastech.errors import PaasTechError
from paastech.infra import dev, docker, images, nomad, packages, stack
from paastech.infra.binaries import ensure_fabio_binary
from paastech.settings import Settings, load_settings


def _say(line: str) -> None:
    print(f"[paastech.infra] {line}", flush=True)


def provision(settings: Settings, environ: Mapping[str, str]) -> int:
    """Install packages, build (or find) Fabio and Nomad, build base images."""
    installed = packages.ensure_packages()
    _say(f"system packages: {'installed ' + ' '.join(installed) if installed else 'present'}")
    _say(f"fabio: {ensure_fabio_binary(settings.fabio.version, environ)}")
    _say(f"nomad: {nomad.ensure_nomad_binary(settings.nomad, environ, say=_say)}")
    daemon = docker.ensure_docker(settings.state_path, environ)
    try:
        for result in images.ensure_images(environ):
            _say(f"image {result.reference}: {'built' if result.built else 'up to date'}")
    finally:
        daemon.stop()
    return 0


def up(
    settings: Settings, environ: Mapping[str, str], components: list[str], tolerate: list[str]
) -> int:
    """Start components and leave them running for a later ``down``."""
    running = stack.bring_up(settings, environ, components, tolerate=tolerate, progress=_say)
    for item in running:
        where = item.url if item.ok else f"UNAVAILABLE — {item.problem}"
        _say(f"{item.name}: {where}{' (started)' if item.started_here else ''}")
    return 0


def down(settings: Settings) -> int:
    """Stop what ``up`` recorded."""
    stopped = stack.stop_recorded(settings)
    _say(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    return 0


def status(settings: Settings) -> int:
    """Print each component's state; exit 1 when any is down."""
    checks = stack.status(settings)
    for name, (ok, where) in checks.items():
        print(f"{name:<10} {'up  ' if ok else 'DOWN'} {where}")
    return 0 if all(ok for ok, _ in checks.values()) else 1


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Entry point; the exit code is 2 for a provisioning error."""
    env = dict(os.environ if environ is None else environ)
    parser = argparse.ArgumentParser(prog="python -m paastech.infra")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("provision", help="packages, Fabio and Nomad builds, base images")
    start = sub.add_parser("up", help="start components and leave them running")
    start.add_argument(
        "components",
        nargs="*",
        default=list(stack.COMPONENTS),
        help=f"any of {', '.join(stack.COMPONENTS)} (default: all)",
    )
    start.add_argument(
        "--tolerate",
        action="append",
        default=[],
        help="a component whose failure is reported, not fatal",
    )
    sub.add_parser("down", help="stop what 'up' started")
    sub.add_parser("status", help="which components answer")
    sub.add_parser("dev", help="the whole stack and the platform until Ctrl-C")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(env)
        if args.command == "provision":
            return provision(settings, env)
        if args.command == "up":
            return up(settings, env, args.components, args.tolerate)
        if args.command == "down":
            return down(settings)
        if args.command == "status":
            return status(settings)
        return dev.run_dev(settings, env, say=_say)
    except PaasTechError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
