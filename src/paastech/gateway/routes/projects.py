"""Projects: create (with its git repository), list, show, configure, scale, delete."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Router, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_201_CREATED, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from litestar.types import ASGIApp, Receive, Scope, Send

from paastech import releases
from paastech.db.tables import Project, Release
from paastech.errors import Conflict, InvalidInput
from paastech.gateway.access import owned_project, project_out, sql_url_formats
from paastech.gateway.audit import record
from paastech.gateway.auth import Caller, utcnow
from paastech.gateway.errors import responses
from paastech.gateway.schemas import ProjectCreate, ProjectOut, ProjectPatch, ScaleBody, ScaleOut
from paastech.gateway.tx import conflict_on_duplicate, fetch, transaction
from paastech.gateway.validation import check_project_name
from paastech.services import Services
from paastech.settings import AppsSettings, Settings

_TAKEN = "a project with this name exists"
# The hot read path (see tests/bench/gateway_bench.py). PostgreSQL formats the two URLs and
# spells the timestamps as msgspec does (RFC 3339 in UTC with "Z", six fraction digits
# unless the second is whole): turning 40 timestamps into datetimes and back was a fifth of
# the request. The rows, in ProjectOut's field order, are encoded straight to JSON — no
# per-row Struct. test_project_list_matches_show* pin that both paths give the same objects.
_RFC3339 = (
    "CASE WHEN date_trunc('second', {0}) = {0}"
    " THEN to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    " ELSE to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END"
)
_LIST_SQL = (  # built from constants only: values are $n parameters
    "SELECT name, kind, format($2, name) AS git_url, format($3, name) AS url, status,"  # noqa: S608
    " current_release, instances, cpu, memory, idle_timeout, scale_to_zero, asleep,"
    " invocations,"
    f" {_RFC3339.format('created_at')}, {_RFC3339.format('updated_at')}"
    " FROM projects WHERE client = $1 ORDER BY name"
)
_LIST_KEYS = tuple(f.encode_name for f in msgspec.structs.fields(ProjectOut))  # = SELECT order
_encode = msgspec.json.Encoder().encode


@get(
    responses={
        200: ResponseSpec(
            data_container=list[ProjectOut],
            description="The caller's projects",
            generate_examples=False,
        ),
        **responses(401),
    },
    summary="The caller's projects",
)
async def list_projects(
    caller: NamedDependency[Caller], settings: NamedDependency[Settings]
) -> ASGIApp:
    git_format, url_format = sql_url_formats(settings)
    rows = await fetch(_LIST_SQL, caller.client_id, git_format, url_format)
    # zip with constant keys: half the cost of dict(Record), which goes key by key.
    body = _encode([dict(zip(_LIST_KEYS, row, strict=True)) for row in rows])
    return _JsonBody(body)


class _JsonBody:
    """A 200 with an already encoded JSON body, as the ASGI app Litestar sends.

    Litestar's Response and ASGIResponse build a header mapping per request; on the project
    list that cost as much as encoding the twenty rows.
    """

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(self.body)),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body, "more_body": False})


@post(
    status_code=HTTP_201_CREATED,
    responses=responses(400, 401, 409, 413, 422, 503),
    summary="Create a project and its git repository",
)
async def create_project(
    data: JSONBody[ProjectCreate],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
    services: NamedDependency[Services],
) -> ProjectOut:
    name = check_project_name(data.name)
    apps = settings.apps
    count = await Project.count().where(Project.client == caller.client_id).run()
    if count >= apps.max_projects_per_client:
        raise Conflict(f"project quota reached ({apps.max_projects_per_client})")
    if await Project.exists().where(Project.name == name).run():
        raise Conflict(_TAKEN)
    now = utcnow()
    project = Project(
        client=caller.client_id,
        name=name,
        kind=data.kind,
        instances=1,
        cpu=apps.default_cpu,
        memory=apps.default_memory,
        idle_timeout=apps.default_idle_timeout,
        scale_to_zero=data.kind == "function",
        status="created",
        created_at=now,
        updated_at=now,
    )
    async with transaction():
        with conflict_on_duplicate(_TAKEN):
            await project.save().run()
        await record(caller, "project.create", name, {"kind": data.kind})
    return project_out(settings, await owned_project(caller, name))


@get("/{name:str}", responses=responses(401, 404), summary="One project")
async def show_project(
    name: FromPath[str], caller: NamedDependency[Caller], settings: NamedDependency[Settings]
) -> ProjectOut:
    return project_out(settings, await owned_project(caller, name))


def _check_limits(data: JSONBody[ProjectPatch], apps: AppsSettings) -> dict[str, Any]:
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    if data.instances is not None:
        if data.instances > apps.max_instances:
            errors["instances"] = f"at most {apps.max_instances}"
        changes["instances"] = data.instances
    if data.cpu is not None:
        if not apps.min_cpu <= data.cpu <= apps.max_cpu:
            errors["cpu"] = f"between {apps.min_cpu} and {apps.max_cpu} MHz"
        changes["cpu"] = data.cpu
    if data.memory is not None:
        if not apps.min_memory <= data.memory <= apps.max_memory:
            errors["memory"] = f"between {apps.min_memory} and {apps.max_memory} MB"
        changes["memory"] = data.memory
    if data.idle_timeout is not None:
        if not apps.min_idle_timeout <= data.idle_timeout <= 7 * 86400:
            errors["idle_timeout"] = f"between {apps.min_idle_timeout} and {7 * 86400} seconds"
        changes["idle_timeout"] = data.idle_timeout
    if data.scale_to_zero is not None:
        changes["scale_to_zero"] = data.scale_to_zero
    if errors:
        raise InvalidInput("values outside the platform's limits", errors)
    return changes


@patch(
    "/{name:str}",
    responses=responses(400, 401, 404, 413, 422, 503),
    summary="Change instances, resources or idling; redeploys when there is a release",
)
async def update_project(
    name: FromPath[str],
    data: JSONBody[ProjectPatch],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
    services: NamedDependency[Services],
) -> ProjectOut:
    changes = _check_limits(data, settings.apps)
    async with transaction():
        project = await owned_project(caller, name, lock=True)
        if changes:
            columns = {getattr(Project, key): value for key, value in changes.items()}
            columns[Project.updated_at] = utcnow()
            await Project.update(columns).where(Project.id == project["id"]).run()
            await record(caller, "project.update", name, changes)
            project = {**project, **changes}
            if set(changes) - {"instances"}:
                await releases.new_release(project, f"settings: {', '.join(sorted(changes))}")
            else:
                # The count is not part of a release: the scheduler applies it as it is.
                await releases.request_reconcile(project["id"])
    return project_out(settings, await owned_project(caller, name))


@delete(
    "/{name:str}",
    status_code=HTTP_204_NO_CONTENT,
    responses=responses(401, 404, 503),
    summary="Stop the app and remove its job, routes, repository, images and data",
)
async def delete_project(
    name: FromPath[str], caller: NamedDependency[Caller], services: NamedDependency[Services]
) -> None:
    async with transaction():
        project = await owned_project(caller, name, lock=True)
        await Project.delete().where(Project.id == project["id"]).run()
        await record(caller, "project.delete", name)
        # After the commit the scheduler removes the job, routes and images, the forge the
        # repository: both read these rows, so a crash in between loses nothing.
        await releases.enqueue_removal(project["id"], name)


@post(
    "/{name:str}/scale",
    status_code=HTTP_202_ACCEPTED,
    responses=responses(400, 401, 404, 413, 422, 503),
    summary="Set the number of instances",
)
async def scale_project(
    name: FromPath[str],
    data: JSONBody[ScaleBody],
    caller: NamedDependency[Caller],
    settings: NamedDependency[Settings],
    services: NamedDependency[Services],
) -> ScaleOut:
    if data.instances > settings.apps.max_instances:
        raise InvalidInput(
            "too many instances", {"instances": f"at most {settings.apps.max_instances}"}
        )
    async with transaction():
        project = await owned_project(caller, name, lock=True)
        applied = await Release.exists().where(Release.project == project["id"]).run()
        await (
            Project.update({Project.instances: data.instances, Project.updated_at: utcnow()})
            .where(Project.id == project["id"])
            .run()
        )
        await record(caller, "project.scale", name, {"instances": data.instances})
        await releases.request_reconcile(project["id"])
    return ScaleOut(name=name, instances=data.instances, applied=bool(applied))


router = Router(
    path="/projects",
    route_handlers=[
        list_projects,
        create_project,
        show_project,
        update_project,
        delete_project,
        scale_project,
    ],
    tags=["projects"],
)
