"""Release → Nomad job, as the JSON the HTTP API takes (``PUT /v1/jobs``). Pure.

One service job per project (``paastech-<project>``) with one group ``web`` whose instances
run the release's image *by digest* on a dynamic ``http`` port. Deploys are blue/green and
health-gated: as many canaries as instances start beside the old ones (``update`` with
``health_check = "checks"``), are promoted once all pass their checks (``auto_promote``), and
only then do the old instances stop — each first leaves the service registry and keeps
serving for ``shutdown_delay``, so the router has dropped it before it stops. A release that
never passes its check is reverted (``auto_revert``) and the previous one never stopped.
"""

from __future__ import annotations

from typing import Literal

import msgspec

SECOND = 1_000_000_000  # Nomad durations are nanoseconds in the JSON API.

Profile = Literal["dev", "production"]
#: Port the app listens on inside its network namespace in the bridge (production) profile.
BRIDGE_APP_PORT = 8080
#: Port of a function shim's control listener in the bridge profile.
CONTROL_PORT = 8081
#: How often an instance's check runs, and how long it must pass before it counts healthy.
CHECK_INTERVAL = 1 * SECOND
MIN_HEALTHY_TIME = 2 * SECOND
#: How long a stopping instance keeps serving after it left the service registry.
SHUTDOWN_DELAY = 3 * SECOND


class ReleaseSpec(msgspec.Struct, frozen=True, kw_only=True):
    """What the scheduler knows of a release when it renders its job."""

    project: str
    kind: Literal["container", "function"] = "container"
    version: int
    image: str
    """Repository of the image, e.g. ``127.0.0.1:5000/hello``."""
    digest: str
    """``sha256:…`` of the pushed image; the job pins it so a re-tag cannot change a release."""
    env: dict[str, str] = msgspec.field(default_factory=dict)
    instances: int = 1
    cpu: int = 200
    memory: int = 256
    health_path: str | None = "/"
    """HTTP path of the check, or ``None`` for a TCP check."""
    domains: tuple[str, ...] = ()
    scale_to_zero: bool = False
    """The idler may scale it to 0 (functions always may)."""
    max_instances: int = 10
    """Upper bound of the group's ``scaling`` block (the gateway's ``apps.max_instances``)."""
    apps_domain: str = "apps.localhost"
    profile: Profile = "dev"
    namespace: str = "default"
    region: str = "global"
    datacenters: tuple[str, ...] = ("dc1",)


# Nomad's JSON uses PascalCase with a few acronyms; the structs spell the odd ones out.
class _N(msgspec.Struct, rename="pascal", omit_defaults=True):
    pass


class Port(_N):
    label: str
    to: int = 0
    host_network: str = "default"


class Network(_N):
    mode: str
    dynamic_ports: list[Port]


class Check(_N):
    name: str
    type: str
    interval: int
    timeout: int
    path: str = ""
    port_label: str = "http"


class Service(_N):
    name: str
    port_label: str
    provider: str
    tags: list[str]
    checks: list[Check]
    meta: dict[str, str] = msgspec.field(default_factory=dict)


class Resources(_N):
    cpu: int = msgspec.field(name="CPU")
    memory_mb: int = msgspec.field(name="MemoryMB")


class LogConfig(_N):
    max_files: int
    max_file_size_mb: int = msgspec.field(name="MaxFileSizeMB")


class Task(_N):
    name: str
    driver: str
    config: dict[str, object]
    env: dict[str, str]
    resources: Resources
    log_config: LogConfig
    kill_timeout: int = 10 * SECOND
    shutdown_delay: int = 0


class RestartPolicy(_N):
    attempts: int
    interval: int
    delay: int
    mode: str


class ReschedulePolicy(_N):
    attempts: int
    interval: int
    delay: int
    delay_function: str
    max_delay: int
    unlimited: bool


class Update(_N):
    max_parallel: int
    health_check: str
    min_healthy_time: int
    healthy_deadline: int
    progress_deadline: int
    auto_revert: bool
    auto_promote: bool = False
    canary: int = 0


class Scaling(_N):
    """Bounds of the scale API; ``Enabled = false``: no autoscaler acts on it."""

    min: int
    max: int
    enabled: bool
    type: str = "horizontal"


class TaskGroup(_N):
    name: str
    count: int
    networks: list[Network]
    services: list[Service]
    tasks: list[Task]
    restart_policy: RestartPolicy
    reschedule_policy: ReschedulePolicy
    meta: dict[str, str] = msgspec.field(default_factory=dict)
    scaling: Scaling | None = None


class Job(_N):
    id: str = msgspec.field(name="ID")
    name: str
    type: str
    namespace: str
    region: str
    datacenters: list[str]
    update: Update
    task_groups: list[TaskGroup]
    meta: dict[str, str] = msgspec.field(default_factory=dict)


def job_id(project: str) -> str:
    """The Nomad job ID of a project's application."""
    return f"paastech-{project}"


def hostnames(spec: ReleaseSpec) -> list[str]:
    """Every Host an app answers to: ``<project>.<apps-domain>`` then its custom domains."""
    return [f"{spec.project}.{spec.apps_domain}", *spec.domains]


def render(spec: ReleaseSpec) -> Job:
    """The Nomad job that runs ``spec``."""
    host_mode = spec.profile == "dev"
    function = spec.kind == "function"
    if host_mode:
        ports = [Port(label="http")]
        env = {"PORT": "${NOMAD_PORT_http}", "HOST": "${NOMAD_IP_http}"}
        # The dev agent binds loopback; the app must listen where Nomad says it is.
        config: dict[str, object] = {"image": _image_ref(spec), "network_mode": "host"}
    else:
        ports = [Port(label="http", to=BRIDGE_APP_PORT)]
        env = {"PORT": str(BRIDGE_APP_PORT), "HOST": "0.0.0.0"}  # noqa: S104 - inside its own netns
        config = {"image": _image_ref(spec), "ports": ["http"]}
    if function:
        # The shim's control listener: health and in-flight counts for the idler, on a port
        # the router never sends Client traffic to (a check on the app port would count as
        # a request and keep the function awake forever).
        if host_mode:
            ports.append(Port(label="control"))
            env["PAASTECH_CONTROL_PORT"] = "${NOMAD_PORT_control}"
        else:
            ports.append(Port(label="control", to=CONTROL_PORT))
            env["PAASTECH_CONTROL_PORT"] = str(CONTROL_PORT)
            config["ports"] = ["http", "control"]
    # The release's own variables win over nothing the platform owns (PORT, HOST, control).
    env = {**spec.env, **env, "PAASTECH_RELEASE": f"v{spec.version}"}

    if function:
        check = Check(
            name="alive",
            type="http",
            path="/healthz",
            port_label="control",
            interval=CHECK_INTERVAL,
            timeout=CHECK_INTERVAL,
        )
    else:
        check = Check(
            name="alive",
            type="http" if spec.health_path else "tcp",
            path=spec.health_path or "",
            interval=CHECK_INTERVAL,
            timeout=CHECK_INTERVAL,
        )
    service = Service(
        name=job_id(spec.project),
        port_label="http",
        provider="nomad",
        tags=[f"urlprefix-{host}/" for host in hostnames(spec)],
        checks=[check],
        meta={"project": spec.project, "release": str(spec.version)},
    )
    task = Task(
        name="app",
        driver="docker",
        config=config,
        env=env,
        resources=Resources(cpu=spec.cpu, memory_mb=spec.memory),
        log_config=LogConfig(max_files=3, max_file_size_mb=10),
        # Deregistered first, stopped after: Fabio polls its feed (every 100 ms in dev).
        shutdown_delay=SHUTDOWN_DELAY,
    )
    group = TaskGroup(
        name="web",
        count=spec.instances,
        networks=[Network(mode="host" if host_mode else "bridge", dynamic_ports=ports)],
        services=[service],
        tasks=[task],
        # An instance that dies is restarted in place twice, then replaced (reschedule);
        # during a deploy its failure fails the deploy at once (progress_deadline = 0).
        restart_policy=RestartPolicy(
            attempts=2, interval=5 * 60 * SECOND, delay=2 * SECOND, mode="fail"
        ),
        reschedule_policy=ReschedulePolicy(
            attempts=0,
            interval=0,
            delay=10 * SECOND,
            delay_function="exponential",
            max_delay=5 * 60 * SECOND,
            unlimited=True,
        ),
        meta={"release": str(spec.version)},
        # The idler scales a sleeping project to 0 and the activator back up, through the
        # scale API; Nomad checks every count against these bounds.
        scaling=(
            Scaling(min=0, max=max(spec.max_instances, spec.instances), enabled=False)
            if function or spec.scale_to_zero
            else None
        ),
    )
    return Job(
        id=job_id(spec.project),
        name=job_id(spec.project),
        type="service",
        namespace=spec.namespace,
        region=spec.region,
        datacenters=list(spec.datacenters),
        update=Update(
            max_parallel=1,
            health_check="checks",
            min_healthy_time=MIN_HEALTHY_TIME,
            healthy_deadline=60 * SECOND,
            # Zero: the first unhealthy instance fails the deploy (and reverts it) instead of
            # being rescheduled until a deadline — a crash at start is reported in seconds.
            progress_deadline=0,
            auto_revert=True,
            canary=spec.instances,
            auto_promote=spec.instances > 0,
        ),
        task_groups=[group],
        meta={
            "paastech.project": spec.project,
            "paastech.kind": spec.kind,
            "paastech.release": str(spec.version),
        },
    )


def to_api(spec: ReleaseSpec) -> dict[str, object]:
    """The body of ``PUT /v1/jobs`` for ``spec``."""
    job: dict[str, object] = msgspec.to_builtins(render(spec))
    return {"Job": job}


def _image_ref(spec: ReleaseSpec) -> str:
    return f"{spec.image}@{spec.digest}"
