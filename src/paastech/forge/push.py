"""After ``receive-pack``: what the push changed, what to tell the pusher, what to build."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from paastech.forge.builds import run_build
from paastech.forge.context import ForgeContext
from paastech.forge.deploy import deploy_build
from paastech.forge.progress import Progress, short_sha
from paastech.forge.repos import MAIN_REF, source_tree


@dataclass(frozen=True)
class RefChange:
    """One ref the push created (``old`` None), moved, or deleted (``new`` None)."""

    ref: str
    old: str | None
    new: str | None


def ref_changes(before: Mapping[str, str], after: Mapping[str, str]) -> list[RefChange]:
    """The refs whose target differs between two snapshots, ``main`` first, then by name."""
    names = sorted(set(before) | set(after), key=lambda name: (name != MAIN_REF, name))
    return [
        RefChange(ref=name, old=before.get(name), new=after.get(name))
        for name in names
        if before.get(name) != after.get(name)
    ]


def _describe(ref: str) -> str:
    if ref.startswith("refs/heads/"):
        return "branch " + ref.removeprefix("refs/heads/")
    if ref.startswith("refs/tags/"):
        return "tag " + ref.removeprefix("refs/tags/")
    return ref


async def after_push(
    ctx: ForgeContext,
    *,
    project_id: UUID,
    project: str,
    client_id: UUID,
    client_ip: str,
    changes: list[RefChange],
    progress: Progress,
) -> int:
    """Report the changes, build ``main`` when it moved and deploy what built; returns the
    exit status (non-zero when the build or the deploy failed)."""
    status = 0
    for change in changes:
        if change.ref == MAIN_REF and change.new is not None:
            if not ctx.settings.build.enabled:
                await progress.step(
                    f"main stored at {short_sha(change.new)}; builds are disabled on this forge"
                )
                continue
            outcome = await run_build(
                project_id=project_id,
                project=project,
                commit_sha=change.new,
                ref=change.ref,
                repo_path=ctx.repos.path(project_id),
                builder=ctx.builder,
                coordinator=ctx.coordinator,
                progress=progress,
                read_tree=source_tree,
                timeout_seconds=ctx.settings.build.timeout_seconds,
                log_max_bytes=ctx.settings.build.log_max_bytes,
            )
            if not outcome.ok or outcome.build_id is None:
                status = 1
                continue
            if not ctx.settings.forge.deploy:
                await progress.step("build kept; this forge does not deploy (forge.deploy)")
                continue
            status = await deploy_build(
                ctx.settings,
                project_id=project_id,
                project=project,
                build_id=outcome.build_id,
                client_id=client_id,
                client_ip=client_ip,
                progress=progress,
            )
        elif change.new is None:
            await progress.step(f"{_describe(change.ref)} deleted")
            if change.ref == MAIN_REF:
                await progress.info("the running app is unchanged; push main again to deploy")
        else:
            await progress.step(
                f"{_describe(change.ref)} stored at {short_sha(change.new)}"
                " (not deployed: only main is built)"
            )
    return status
