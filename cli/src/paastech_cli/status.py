"""``paastech status``: one project at a glance (URL, live release, instances, last build)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from paastech_cli.builds import status_text as build_status
from paastech_cli.errors import BackendUnavailable
from paastech_cli.output import print_json, say, table
from paastech_cli.runtime import JsonFlag, Target
from paastech_cli.schemas import Build, Instance, Project, Release


class Status(msgspec.Struct, kw_only=True):
    """What ``status --json`` prints."""

    project: Project
    release: Release | None
    """The newest release (what runs, or what is being deployed or failed)."""
    instances: list[Instance] | None
    """None when the scheduler cannot be asked right now."""
    build: Build | None


def _newest(items: list[Any], key: str) -> Any:
    return max(items, key=lambda item: getattr(item, key) or 0, default=None)


async def status(*, json: JsonFlag = False, target: Target = Target()) -> None:
    """Show the project at a glance: URL, live release, instances and the last build.

    For example:

        $ paastech status
        $ paastech status -p hello --json
    """
    name = target.name()
    async with target.client() as gw:
        project, releases, builds = await asyncio.gather(
            gw.get_project(name), gw.list_releases(name), gw.list_builds(name)
        )
        try:
            found: list[Instance] | None = await gw.instances(name)
        except BackendUnavailable:
            found = None
    summary = Status(
        project=project,
        release=_newest(releases, "version"),
        instances=found,
        build=_newest(builds, "number") if builds else None,
    )
    if json:
        print_json(summary)
        return
    _print(summary)


def _release_line(release: Release | None, live: int | None) -> str:
    if release is None:
        return "none yet: deploy with `git push paastech main`"
    line = f"v{release.version} {release.status}"
    if release.reason:
        line += f": {release.reason}"
    if live is not None and live != release.version:
        line += f" (v{live} serves)"
    return line


def _instances_line(found: list[Instance] | None) -> str:
    if found is None:
        return "unknown (the scheduler is unavailable)"
    if not found:
        return "none running"
    counts: dict[str, int] = {}
    for instance in found:
        counts[instance.status] = counts.get(instance.status, 0) + 1
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def _build_line(build: Build | None) -> str | None:
    if build is None:
        return "none yet"
    line = f"#{build.number} {build_status(build)} {build.id[:8]} ({build.commit_sha[:10]})"
    if build.error:
        line += f": {build.error}"
    return line


def _print(summary: Status) -> None:
    project = summary.project
    say(f"[bold]{project.name}[/] ({project.kind}, {project.status})")
    rows = [
        ("URL:", project.url or "none yet"),
        ("Release:", _release_line(summary.release, project.current_release)),
        ("Instances:", _instances_line(summary.instances)),
        ("Last build:", _build_line(summary.build)),
        ("Git remote:", project.git_url),
    ]
    table(("Field", "Value"), rows, header=False)
