"""The whole dev stack in dependency order: what ``nox -s dev`` and the tests bring up.

Order: postgres → docker → registry → images (need docker) → fabio → nomad (needs docker,
and the registry's credentials to pull with). A component named in ``tolerate`` may fail
without stopping the rest; it is then returned as a :class:`Running` whose ``problem`` says
why.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping

from paastech.errors import PaasTechError, ProvisionError
from paastech.infra import docker, fabio, images, nomad, postgres, registry
from paastech.infra.process import Running, http_ok, port_open, stop_pidfile
from paastech.settings import Settings

COMPONENTS = ("postgres", "docker", "registry", "images", "fabio", "nomad")
_NEEDS = {"images": ("docker",), "nomad": ("docker", "registry")}
_STARTED_MARK = "postgres.started"


def with_dependencies(components: Collection[str]) -> list[str]:
    """``components`` plus what they need, in start order.

    Raises:
        ProvisionError: An unknown component was named.
    """
    unknown = sorted(set(components) - set(COMPONENTS))
    if unknown:
        raise ProvisionError(
            f"unknown component(s) {', '.join(unknown)}; known: {', '.join(COMPONENTS)}"
        )
    wanted = set(components)
    for name in components:
        wanted.update(_NEEDS.get(name, ()))
    return [name for name in COMPONENTS if name in wanted]


def _start_postgres(settings: Settings, environ: Mapping[str, str]) -> Running:
    state = settings.state_path
    running = postgres.ensure_postgres(state, settings.db)
    if not running.started_here:
        return running
    # Marked so that ``infra down`` from another process knows it may stop the cluster.
    mark = state / "run" / _STARTED_MARK
    mark.parent.mkdir(parents=True, exist_ok=True)
    mark.touch()

    def stop() -> None:
        running.stop()
        mark.unlink(missing_ok=True)

    return Running("postgres", running.url, started_here=True, _stop=stop)


def _start_images(settings: Settings, environ: Mapping[str, str]) -> Running:
    refs = [r.reference for r in images.ensure_images(environ)]
    return Running("images", ", ".join(refs), started_here=False)


_STARTERS: dict[str, Callable[[Settings, Mapping[str, str]], Running]] = {
    "postgres": _start_postgres,
    "docker": lambda s, env: docker.ensure_docker(s.state_path, env),
    "registry": lambda s, env: registry.ensure_registry(s.state_path, s.registry, env),
    "images": _start_images,
    "fabio": lambda s, env: fabio.ensure_fabio(s.state_path, s.fabio, env),
    "nomad": lambda s, env: nomad.ensure_nomad_agent(
        s.state_path,
        s.nomad,
        env,
        docker_auth=registry.write_docker_auth(s.state_path, s.registry),
    ),
}


def bring_up(
    settings: Settings,
    environ: Mapping[str, str],
    components: Collection[str] = COMPONENTS,
    tolerate: Collection[str] = (),
    progress: Callable[[str], None] | None = None,
) -> list[Running]:
    """Start ``components`` (and what they need) in order; idempotent.

    Args:
        settings: Addresses and the state dir.
        environ: The environment handed to started processes (``NOMAD_BIN``, ``PATH`` …).
        components: Names from :data:`COMPONENTS`.
        tolerate: Components whose failure is reported in the result instead of raised.
        progress: Called with a line before each component starts.

    Raises:
        ProvisionError: A component that is not tolerated failed; everything this call had
            started is stopped again first.
    """
    started: list[Running] = []
    for name in with_dependencies(components):
        if progress is not None:
            progress(f"starting {name}")
        try:
            started.append(_STARTERS[name](settings, environ))
        except PaasTechError as exc:
            if name in tolerate:
                started.append(Running(name, "", started_here=False, problem=exc.message))
                continue
            tear_down(started)
            raise ProvisionError(f"{name}: {exc.message}") from exc
    return started


def tear_down(running: list[Running]) -> None:
    """Stop, newest first, whatever in ``running`` was started by this process."""
    for item in reversed(running):
        with contextlib.suppress(PaasTechError):
            item.stop()


def stop_recorded(settings: Settings) -> list[str]:
    """Stop what an earlier ``python -m paastech.infra up`` left running (by pidfile).

    Returns:
        The names of the components stopped.
    """
    state = settings.state_path
    stopped = [
        name for name in reversed(COMPONENTS) if name != "postgres" and stop_pidfile(state, name)
    ]
    mark = state / "run" / _STARTED_MARK
    if mark.exists():
        postgres.stop_cluster(state)
        mark.unlink()
        stopped.append("postgres")
    return stopped


def status(settings: Settings) -> dict[str, tuple[bool, str]]:
    """Probe each long-running component: name → (answers, where or why not)."""
    fab = settings.fabio
    checks = {
        "postgres": (
            port_open(settings.db.host, settings.db.port),
            f"{settings.db.host}:{settings.db.port}",
        ),
        "docker": (docker.daemon_answers(), str(docker.DOCKER_SOCKET)),
        "registry": (
            registry.answers(settings.registry.address),
            f"http://{settings.registry.address}",
        ),
        "fabio": (
            http_ok(f"http://{fab.ui_addr}/health"),
            f"proxy http://{fab.proxy_addr}, ui http://{fab.ui_addr}",
        ),
        "nomad": (nomad.agent_answers(settings.nomad.address), settings.nomad.address),
    }
    return checks
