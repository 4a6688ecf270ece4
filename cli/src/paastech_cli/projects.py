"""``paastech projects create | list | info | update | delete``."""

from __future__ import annotations

from typing import Annotated

from cyclopts import App, Parameter

from paastech_cli.exits import Aborted, UsageError
from paastech_cli.output import note, print_json, say, spinner, table
from paastech_cli.remote import REMOTE, RemoteResult, add_remote, current_branch
from paastech_cli.runtime import Gateway, JsonFlag, Target, current
from paastech_cli.schemas import Project, ProjectKind

app = App(name="projects", help="Create, inspect, resize and delete projects.")


def _show(project: Project) -> None:
    rows = [
        ("Name", project.name),
        ("Kind", project.kind),
        ("Status", project.status),
        ("URL", project.url),
        ("Git remote", project.git_url),
        ("Release", f"v{project.current_release}" if project.current_release else None),
        ("Instances", project.instances),
        ("CPU (MHz)", project.cpu),
        ("Memory (MB)", project.memory),
        ("Scale to zero", project.scale_to_zero),
        ("Idle timeout (s)", project.idle_timeout),
        ("Asleep", project.asleep),
        ("Invocations", project.invocations),
        ("Created", project.created_at),
    ]
    table(("Field", "Value"), ((f"{label}:", value) for label, value in rows), header=False)


@app.command
async def create(
    name: str,
    /,
    *,
    kind: ProjectKind | None = None,
    no_remote: Annotated[bool, Parameter(negative="", show_default=False)] = False,
    json: JsonFlag = False,
    gateway: Gateway = Gateway(),
) -> None:
    """Create a project; inside a git repository, add it as the `paastech` remote.

    For example:

        $ paastech projects create hello
        $ paastech projects create thumbnails --kind function
        $ git push paastech main

    Parameters
    ----------
    name
        3-40 characters of a-z, 0-9 and -, starting with a letter; unique on the platform.
    kind
        container (a Dockerfile or a detected runtime; default) or function (a handler).
    no_remote
        Do not add the `paastech` git remote.
    """
    async with gateway.client() as gw:
        with spinner(f"Creating {name}…"):
            project = await gw.create_project(name, kind)
    if json:
        print_json(project)
    else:
        say(f"Created [bold]{project.name}[/] ({project.kind})")
        say(f"  git remote: {project.git_url}")
        if project.url:
            say(f"  URL:        {project.url}")
    if no_remote or not project.git_url:
        return
    cwd = current().cwd
    result = add_remote(cwd, project.git_url)
    branch = current_branch(cwd) or "main"
    push = f"git push {REMOTE} main" if branch == "main" else f"git push {REMOTE} {branch}:main"
    if result is RemoteResult.ADDED:
        note(f"Added git remote `{REMOTE}`; deploy with: {push}")
    elif result is RemoteResult.UNCHANGED:
        note(f"Git remote `{REMOTE}` is already set; deploy with: {push}")
    elif result is RemoteResult.NOT_A_REPO:
        note(
            f"Not inside a git repository, so no remote was added. In your app's repository run:"
            f" git remote add {REMOTE} {project.git_url}"
        )
    elif result is RemoteResult.CONFLICT:
        note(
            f"[yellow]Warning:[/] a `{REMOTE}` remote already points elsewhere; left as is"
            f" (to switch: git remote set-url {REMOTE} {project.git_url})"
        )
    elif result is RemoteResult.FAILED:
        note(f"[yellow]Warning:[/] could not add the `{REMOTE}` git remote")


@app.command(name="list")
async def list_(*, json: JsonFlag = False, gateway: Gateway = Gateway()) -> None:
    """List your projects.

    For example:

        $ paastech projects list
        $ paastech projects list --json | jq -r '.[].name'
    """
    async with gateway.client() as gw:
        projects = await gw.list_projects()
    if json:
        print_json(projects)
        return
    rows = (
        (
            p.name,
            p.kind,
            p.status,
            f"v{p.current_release}" if p.current_release else None,
            p.url,
        )
        for p in projects
    )
    table(("NAME", "KIND", "STATUS", "RELEASE", "URL"), rows, empty="No projects yet.")


@app.command
async def info(
    name: str | None = None, /, *, json: JsonFlag = False, target: Target = Target()
) -> None:
    """Show one project: URL, git remote, status, release and resources.

    For example:

        $ paastech projects info
        $ paastech projects info hello --json

    Parameters
    ----------
    name
        Project name [default: --project, else the `paastech` git remote].
    """
    project_name = name or target.name()
    async with target.client() as gw:
        project = await gw.get_project(project_name)
    if json:
        print_json(project)
    else:
        _show(project)


@app.command
async def update(
    *,
    instances: int | None = None,
    cpu: int | None = None,
    memory: int | None = None,
    idle_timeout: int | None = None,
    scale_to_zero: bool | None = None,
    json: JsonFlag = False,
    target: Target = Target(),
) -> None:
    """Change a project's instances, resources and scale-to-zero (within platform limits).

    For example:

        $ paastech projects update --memory 512 --cpu 500
        $ paastech projects update -p thumbnails --scale-to-zero --idle-timeout 120

    Parameters
    ----------
    instances
        Number of running instances.
    cpu
        CPU per instance, in MHz.
    memory
        Memory per instance, in MB.
    idle_timeout
        Seconds without requests before a scale-to-zero project sleeps.
    scale_to_zero
        Sleep when idle and wake on the first request (--no-scale-to-zero to stop).
    """
    changes = (instances, cpu, memory, idle_timeout, scale_to_zero)
    if all(value is None for value in changes):
        raise UsageError("nothing to update: give at least one option (see --help)")
    name = target.name()
    async with target.client() as gw:
        with spinner(f"Updating {name}…"):
            project = await gw.update_project(
                name,
                instances=instances,
                cpu=cpu,
                memory=memory,
                idle_timeout=idle_timeout,
                scale_to_zero=scale_to_zero,
            )
    if json:
        print_json(project)
    else:
        say(f"Updated [bold]{project.name}[/]")
        _show(project)


@app.command
async def delete(
    name: str,
    /,
    *,
    yes: Annotated[bool, Parameter(name=["--yes", "-y"], negative="", show_default=False)] = False,
    gateway: Gateway = Gateway(),
) -> None:
    """Delete a project: stop the app, remove its repository, images, data and domains.

    Asks you to type the project name unless --yes is given.

    For example:

        $ paastech projects delete hello
        $ paastech projects delete hello --yes

    Parameters
    ----------
    name
        The project to delete.
    yes
        Do not ask for confirmation (for scripts).
    """
    if not yes:
        note(f"This permanently deletes [bold]{name}[/], its app, repository and data.")
        typed = current().ask(f"Type the project name to confirm ({name}): ").strip()
        if typed != name:
            raise Aborted("aborted: the name typed does not match")
    async with gateway.client() as gw:
        with spinner(f"Deleting {name}…"):
            await gw.delete_project(name)
    say(f"Deleted [bold]{name}[/]")
