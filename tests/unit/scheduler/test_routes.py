"""The route table Fabio receives: healthy instances only, every Host spelling covered."""

from __future__ import annotations

import msgspec

from paastech.scheduler.routes import Target, authorized, build_routes, route_hosts


def test_unhealthy_instances_get_no_route() -> None:
    """A failing instance stops receiving traffic on Fabio's next poll."""
    targets = [
        Target(project="hello", address="127.0.0.1", port=20001, healthy=True),
        Target(project="hello", address="127.0.0.1", port=20002, healthy=False),
    ]
    routes = build_routes(targets, {"hello": ["hello.apps.localhost"]}, proxy_port=80)
    assert [r.dst for r in routes] == ["http://127.0.0.1:20001/"]
    assert routes[0].src == "hello.apps.localhost/"
    assert routes[0].cmd == "route add"


def test_non_default_proxy_port_adds_host_with_port() -> None:
    """A browser on :9999 sends Host with the port; Fabio needs that spelling too."""
    assert route_hosts(["a.apps.localhost"], 9999) == ["a.apps.localhost", "a.apps.localhost:9999"]
    assert route_hosts(["a.example.org"], 443) == ["a.example.org"]


def test_custom_domains_route_to_the_same_instances() -> None:
    """Each custom domain of a project reaches every healthy instance of that project only."""
    targets = [
        Target(project="shop", address="127.0.0.1", port=1, healthy=True),
        Target(project="blog", address="127.0.0.1", port=2, healthy=True),
    ]
    hosts = {"shop": ["shop.apps.localhost", "shop.example.org"], "blog": ["blog.apps.localhost"]}
    routes = build_routes(targets, hosts, proxy_port=80)
    by_src = {r.src: r.dst for r in routes}
    assert by_src == {
        "shop.apps.localhost/": "http://127.0.0.1:1/",
        "shop.example.org/": "http://127.0.0.1:1/",
        "blog.apps.localhost/": "http://127.0.0.1:2/",
    }


def test_wire_format_is_fabio_routedef() -> None:
    """Fabio's custom backend decodes exactly these keys."""
    route = build_routes(
        [Target(project="x1", address="127.0.0.1", port=5, healthy=True)], {"x1": ["x1.a"]}, 80
    )[0]
    assert set(msgspec.to_builtins(route)) == {
        "cmd",
        "service",
        "src",
        "dst",
        "weight",
        "tags",
        "opts",
    }


def test_feed_secret_is_always_required() -> None:
    """Clients cannot read the route table without the secret Fabio is configured with, and
    a feed with no secret configured answers nobody (not even an empty guess)."""
    assert authorized("s3cret", "s3cret")
    assert not authorized("s3cret", None)
    assert not authorized("s3cret", "guess")
    assert not authorized("", None)
    assert not authorized("", "")
