"""``paastech builds``: the image builds of a project (their logs: ``paastech logs --build``)."""

from __future__ import annotations

from paastech_cli.api import GatewayClient
from paastech_cli.exits import CliError, Exit, UsageError
from paastech_cli.output import print_json, table
from paastech_cli.runtime import JsonFlag, Target
from paastech_cli.schemas import Build


class NoSuchBuild(CliError):
    exit_code = Exit.NOT_FOUND


async def builds(*, json: JsonFlag = False, target: Target = Target()) -> None:
    """List the project's builds, one per pushed commit.

    For example:

        $ paastech builds
        $ paastech logs --build 3f2a      # the first characters of an ID are enough
    """
    name = target.name()
    async with target.client() as gw:
        found = await gw.list_builds(name)
    if json:
        print_json(found)
        return
    rows = (
        (b.id, b.number, status_text(b), b.commit_sha[:10], b.created_at, b.error) for b in found
    )
    table(("ID", "#", "STATUS", "COMMIT", "CREATED", "ERROR"), rows, empty="No builds yet.")


def status_text(build: Build) -> str:
    """``queued (#2 in queue)`` for a queued build, so the queue is visible at a glance."""
    if build.status == "queued" and build.queue_position is not None:
        return f"queued (#{build.queue_position} in queue)"
    return build.status


async def resolve_build(gw: GatewayClient, project: str, given: str) -> str:
    """The full id of the build whose id starts with ``given`` (as `paastech builds` shows).

    Raises:
        NoSuchBuild: No build of the project matches.
        UsageError: Several do: a longer prefix is needed.
    """
    prefix = given.strip().lower().rstrip("…").rstrip(".")
    if not prefix:
        raise UsageError(
            "--build needs a build id (or its first characters): see `paastech builds`"
        )
    found = await gw.list_builds(project)
    matches = [b for b in found if b.id.lower().startswith(prefix)]
    if len(matches) == 1:
        return matches[0].id
    if not matches:
        raise NoSuchBuild(f"no build of {project} has an id starting with {given!r}")
    shown = ", ".join(f"{b.id[:12]}… (#{b.number})" for b in matches[:5])
    raise UsageError(f"build id {given!r} is ambiguous: it starts {shown}; give more characters")
