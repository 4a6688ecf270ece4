"""Fabio's route table, served to its custom registry backend (``registry.backend = custom``).

Fabio polls ``GET http://<feed>/routes?secret=…`` and expects a JSON list of ``route.RouteDef``
(``{"cmd": "route add", "service", "src", "dst", "weight", "tags", "opts"}``). Only healthy
instances get routes, so a failing instance drops out on the next poll.

Fabio matches the ``Host`` header *with* any non-default port, so each hostname gets a route
for the bare host and one for ``host:<proxy port>`` when the proxy is not on 80/443.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence

import msgspec


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """One instance that may receive traffic for a project."""

    project: str
    address: str
    port: int
    healthy: bool
    weight: float = 0.0
    """0 lets Fabio share traffic evenly; a positive value is a fixed share."""


class RouteDef(msgspec.Struct, frozen=True, kw_only=True):
    cmd: str
    service: str
    src: str
    dst: str
    weight: float = 0.0
    tags: list[str] = msgspec.field(default_factory=list)
    opts: dict[str, str] = msgspec.field(default_factory=dict)


def route_hosts(hostnames: Iterable[str], proxy_port: int) -> list[str]:
    """Every ``src`` host spelling Fabio may see for these hostnames."""
    hosts: list[str] = []
    for host in hostnames:
        hosts.append(host)
        if proxy_port not in (80, 443):
            hosts.append(f"{host}:{proxy_port}")
    return hosts


def build_routes(
    targets: Sequence[Target],
    hostnames: dict[str, list[str]],
    proxy_port: int,
) -> list[RouteDef]:
    """The route table: one ``route add`` per (healthy instance, host spelling).

    Args:
        targets: Instances from the orchestrator's service registrations.
        hostnames: Project name → the hostnames it answers to (app host first).
        proxy_port: The port Fabio's proxy listens on.
    """
    routes: list[RouteDef] = []
    for target in sorted(targets, key=lambda t: (t.project, t.address, t.port)):
        if not target.healthy:
            continue
        for host in route_hosts(hostnames.get(target.project, []), proxy_port):
            routes.append(
                RouteDef(
                    cmd="route add",
                    service=f"paastech-{target.project}",
                    src=f"{host}/",
                    dst=f"http://{target.address}:{target.port}/",
                    weight=target.weight,
                    tags=[f"project={target.project}"],
                )
            )
    return routes


RouteTable = Callable[[], Awaitable[list[RouteDef]]]


def authorized(secret: str, presented: str | None) -> bool:
    """The feed's caller knows the secret (constant-time); with no secret set, nobody does."""
    if not secret:
        return False
    return presented is not None and hmac.compare_digest(secret.encode(), presented.encode())


# -- validation: one malformed entry makes Fabio reject the whole table ----------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"^(?P<name>(?:{_LABEL}\.)*{_LABEL})(?::(?P<port>[0-9]{{1,5}}))?/$")
_SERVICE = re.compile(r"^paastech-[a-z][a-z0-9-]{0,62}$")
_TAG = re.compile(r"^[A-Za-z0-9._=:-]{1,200}$")


def route_problem(route: RouteDef) -> str | None:
    """Why Fabio would refuse ``route`` (and with it the whole table), or None when it is fine.

    Stricter than Fabio on purpose: only ``host[:port]/`` sources without glob characters,
    ``http://ip:port/`` targets, a weight in [0, 1] and plain tags get through.
    """
    host = _HOST.match(route.src)
    problems = (
        (route.cmd != "route add", f"unexpected command {route.cmd!r}"),
        (not _SERVICE.match(route.service), f"bad service name {route.service!r}"),
        (
            host is None or len(host["name"]) > 253 or not _port_ok(host["port"]),
            f"bad source {route.src!r}",
        ),
        (not _target_ok(route.dst), f"bad target {route.dst!r}"),
        (not 0.0 <= route.weight <= 1.0, f"bad weight {route.weight!r}"),  # NaN fails too
        (not all(_TAG.match(tag) for tag in route.tags), f"bad tags {route.tags!r}"),
        (
            not all(_TAG.match(k) and _TAG.match(v) for k, v in route.opts.items()),
            f"bad options {route.opts!r}",
        ),
    )
    return next((why for wrong, why in problems if wrong), None)


def _port_ok(port: str | None) -> bool:
    return port is None or 1 <= int(port) <= 65535


def _target_ok(dst: str) -> bool:
    if not dst.startswith("http://") or not dst.endswith("/"):
        return False
    hostport = dst.removeprefix("http://").removesuffix("/")
    if hostport.startswith("["):  # [v6]:port
        address, sep, port = hostport[1:].partition("]:")
        version = 6
    else:
        address, sep, port = hostport.rpartition(":")
        version = 4
    if not sep or not port.isdigit() or not _port_ok(port) or int(port) == 0:
        return False
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return False
    return parsed.version == version
