"""``paastech builds``: the image builds of a project (their logs: ``paastech logs --build``)."""

from __future__ import annotations

from paastech_cli.output import print_json, table
from paastech_cli.runtime import JsonFlag, Target
from paastech_cli.schemas import Build


async def builds(*, json: JsonFlag = False, target: Target = Target()) -> None:
    """List the project's builds, one per pushed commit.

    For example:

        $ paastech builds
        $ paastech logs --build 3f2a…
    """
    name = target.name()
    async with target.client() as gw:
        found = await gw.list_builds(name)
    if json:
        print_json(found)
        return
    rows = ((b.id, b.number, _status(b), b.commit_sha[:10], b.created_at, b.error) for b in found)
    table(("ID", "#", "STATUS", "COMMIT", "CREATED", "ERROR"), rows, empty="No builds yet.")


def _status(build: Build) -> str:
    """``queued (#2 in queue)`` for a queued build, so the queue is visible at a glance."""
    if build.status == "queued" and build.queue_position is not None:
        return f"queued (#{build.queue_position} in queue)"
    return build.status
