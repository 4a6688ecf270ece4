"""The route source: check results decide who is routed, a bad entry never reaches Fabio,
and a control-plane outage keeps the last table rather than taking every app offline."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, cast

import pytest
from fakes import FakeDomains, FakeNomadServices

from paastech.errors import NomadUnavailable
from paastech.scheduler.nomad import NomadApi
from paastech.scheduler.route_source import RouteSource
from paastech.scheduler.routes import RouteDef, route_problem
from paastech.settings import load_settings


def source(nomad: FakeNomadServices, domains: FakeDomains | None = None) -> RouteSource:
    return RouteSource(load_settings({}), cast(NomadApi, nomad), domains=domains or FakeDomains())


def pairs(table: list[RouteDef]) -> set[tuple[str, str]]:
    return {(r.src, r.dst) for r in table}


async def test_instances_route_only_while_every_check_passes() -> None:
    """A passing instance is routed; one with a failing (or any failing) check, or with no
    result yet, is not."""
    nomad = FakeNomadServices()
    nomad.add("shop", "a1", 20001, "success")
    nomad.add("shop", "a2", 20002, "success", "failure")
    nomad.add("shop", "a3", 20003)
    nomad.add("blog", "b1", 20004, "failure")
    table = await source(nomad).refresh()
    assert pairs(table) == {
        ("shop.apps.localhost/", "http://127.0.0.1:20001/"),
        ("shop.apps.localhost:9999/", "http://127.0.0.1:20001/"),
    }


async def test_custom_domains_follow_their_project_and_outlive_a_database_blip() -> None:
    """Custom domains get routes like the app host; when the database cannot be read, the
    last known domains stay routed."""
    nomad = FakeNomadServices()
    nomad.add("shop", "a1", 20001, "success")
    domains = FakeDomains({"shop": ["Shop.Example.org"], "other": ["other.example.org"]})
    rs = source(nomad, domains)
    first = await rs.refresh()
    assert {r.src for r in first} == {
        "shop.apps.localhost/",
        "shop.apps.localhost:9999/",
        "shop.example.org/",
        "shop.example.org:9999/",
    }
    domains.fail = True
    assert await rs.refresh() == first


async def test_a_malformed_entry_is_left_out_and_the_rest_is_served() -> None:
    """A registration Fabio could not parse (no address, a glob in a domain) drops only its
    own routes."""
    nomad = FakeNomadServices()
    nomad.add("shop", "a1", 20001, "success")
    nomad.add("shop", "a2", 20002, "success", address="")
    nomad.add("blog", "b1", 20003, "success")
    domains = FakeDomains({"blog": ["*.evil.example"]})
    table = await source(nomad, domains).refresh()
    assert pairs(table) == {
        ("shop.apps.localhost/", "http://127.0.0.1:20001/"),
        ("shop.apps.localhost:9999/", "http://127.0.0.1:20001/"),
        ("blog.apps.localhost/", "http://127.0.0.1:20003/"),
        ("blog.apps.localhost:9999/", "http://127.0.0.1:20003/"),
    }
    assert all(route_problem(r) is None for r in table)


async def test_services_that_are_not_apps_are_ignored() -> None:
    """Only ``paastech-<project>`` services are apps; anything else in Nomad gets no route."""
    nomad = FakeNomadServices()
    nomad.add("shop", "a1", 20001, "success")
    nomad.registrations["grafana"] = [
        {"ServiceName": "grafana", "AllocID": "g", "Address": "127.0.0.1", "Port": 3000}
    ]
    nomad.checks["g"] = {"c": {"Service": "grafana", "Status": "success"}}
    table = await source(nomad).refresh()
    assert {r.service for r in table} == {"paastech-shop"}


async def test_a_nomad_outage_keeps_the_last_table() -> None:
    """While Nomad cannot be read the cached table stays as it was (and refresh says why)."""
    nomad = FakeNomadServices()
    nomad.add("shop", "a1", 20001, "success")
    rs = source(nomad)
    before = await rs.refresh()
    nomad.down = True
    with pytest.raises(NomadUnavailable):
        await rs.refresh()
    assert await rs.table() == before


def _route(**fields: Any) -> RouteDef:
    base: dict[str, Any] = {
        "cmd": "route add",
        "service": "paastech-shop",
        "src": "shop.apps.localhost:9999/",
        "dst": "http://127.0.0.1:20001/",
    }
    return RouteDef(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "ok"),
    [
        ({}, True),
        ({"dst": "http://[::1]:20001/"}, True),
        ({"src": "shop.example.org/"}, True),
        ({"cmd": "route del"}, False),
        ({"service": "grafana"}, False),
        ({"src": "*.apps.localhost/"}, False),
        ({"src": "shop apps/"}, False),
        ({"src": "Shop.apps.localhost/"}, False),
        ({"src": "shop.apps.localhost:70000/"}, False),
        ({"src": "shop.apps.localhost"}, False),
        ({"src": "a" * 254 + "/"}, False),
        ({"dst": "http://127.0.0.1:0/"}, False),
        ({"dst": "http://:20001/"}, False),
        ({"dst": "https://127.0.0.1:20001/"}, False),
        ({"dst": "http://localhost:20001/"}, False),
        ({"weight": 1.5}, False),
        ({"weight": float("nan")}, False),
        ({"tags": ["project=shop"]}, True),
        ({"tags": ['a"b']}, False),
    ],
)
def test_route_problem_lets_through_only_what_fabio_parses(
    fields: dict[str, Any], ok: bool
) -> None:
    """Each field Fabio parses is checked; anything doubtful is refused."""
    assert (route_problem(_route(**fields)) is None) is ok


async def test_a_new_instance_is_routed_as_soon_as_its_check_passes() -> None:
    """A push waits for its new instance: once registered, its checks are read often, so the
    table has it well before the next full refresh (here a minute away)."""
    nomad = FakeNomadServices()
    rs = RouteSource(
        load_settings({}, overrides={"fabio": {"route_refresh_seconds": 60}}),
        cast(NomadApi, nomad),
        domains=FakeDomains(),
    )
    nomad.add("shop", "a1", 20001)  # registered, no check result yet
    task = asyncio.create_task(rs.run())
    try:
        await asyncio.sleep(0.3)
        assert await rs.table() == []
        nomad.checks["a1"] = {"c": {"Service": "paastech-shop", "Status": "success"}}
        passed = time.monotonic()
        for _ in range(40):
            if await rs.table():
                break
            await asyncio.sleep(0.05)
        assert {r.dst for r in await rs.table()} == {"http://127.0.0.1:20001/"}
        assert time.monotonic() - passed < 1.5
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_the_periodic_refresh_rereads_checks_but_not_unchanged_registrations() -> None:
    """Every refresh sees a check turning red; the registrations are read again only when
    Nomad's blocking query says they changed (a new instance is then routed)."""
    nomad = FakeNomadServices()
    nomad.add("shop", "a1", 20001, "success")
    rs = RouteSource(
        load_settings({}, overrides={"fabio": {"route_refresh_seconds": 0.05}}),
        cast(NomadApi, nomad),
        domains=FakeDomains(),
    )
    task = asyncio.create_task(rs.run())
    try:
        await asyncio.sleep(0.3)
        reads = nomad.reads
        nomad.checks["a1"] = {"c": {"Service": "paastech-shop", "Status": "failure"}}
        await asyncio.sleep(0.3)
        assert await rs.table() == []  # the red check is seen
        assert nomad.reads == reads  # with no registration read
        nomad.add("shop", "a2", 20002, "success")
        for _ in range(40):
            if await rs.table():
                break
            await asyncio.sleep(0.05)
        assert {r.dst for r in await rs.table()} == {"http://127.0.0.1:20002/"}
        assert nomad.reads > reads
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
