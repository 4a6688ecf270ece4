"""The typed client on its own (what the dashboard reuses): answers, problems, paths."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from paastech_cli import errors
from paastech_cli.api import GatewayClient
from paastech_cli.errors import problem_error
from paastech_cli.schemas import Project


def _problem(status: int, **body: Any) -> httpx.Response:
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


@pytest.mark.parametrize(
    ("response", "cls", "message"),
    [
        (_problem(401, title="unauthenticated", detail="token expired"), errors.Unauthenticated,
         "token expired"),
        (_problem(404, title="not found"), errors.NotFound, "not found"),
        (_problem(422, title="invalid input", detail="invalid fields",
                  errors={"name": "too short", "kind": "container or function"}),
         errors.InvalidInput, "invalid fields: name: too short; kind: container or function"),
        (_problem(422, title="invalid input",
                  errors=[{"key": "memory", "message": "at most 2048"}]),
         errors.InvalidInput, "invalid input: memory: at most 2048"),
        (_problem(409, title="conflict", detail="name taken"), errors.Conflict, "name taken"),
        (_problem(503, title="backend unavailable", detail="scheduler backend (Nomad) is not"
                  " available"), errors.BackendUnavailable, "scheduler backend (Nomad) is not"
         " available"),
        (httpx.Response(500, text="boom"), errors.ApiError, "internal server error"),
    ],
)  # fmt: skip
def test_problems_become_typed_errors(
    response: httpx.Response, cls: type[errors.ApiError], message: str
) -> None:
    """Each problem+json status maps to one error class with a one-line message."""
    error = problem_error(response)
    assert type(error) is cls
    assert error.message == message
    assert error.status == response.status_code


def _client(handler: Any) -> GatewayClient:
    return GatewayClient("http://gw.test/", token="t", transport=httpx.MockTransport(handler))


def test_lists_may_be_bare_or_paged() -> None:
    """A list answer decodes whether the gateway sends [...] or {"items": [...]}."""
    answers = iter([[{"name": "a"}], {"items": [{"name": "b"}], "next": None}])

    async def run() -> list[list[Project]]:
        async with _client(lambda request: httpx.Response(200, json=next(answers))) as gw:
            return [await gw.list_projects(), await gw.list_projects()]

    assert asyncio.run(run()) == [[Project(name="a")], [Project(name="b")]]


def test_names_are_escaped_into_one_path_segment() -> None:
    """A project name can never reach another route (`../` stays inside its segment)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path.decode())
        return httpx.Response(204)

    async def run() -> None:
        async with _client(handler) as gw:
            await gw.delete_project("../keys/x")

    asyncio.run(run())
    assert seen == ["/api/v1/projects/..%2Fkeys%2Fx"]


def test_bearer_token_and_json_body_are_sent() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(201, json={"name": "hello", "kind": "function"})

    async def run() -> Project:
        async with _client(handler) as gw:
            return await gw.create_project("hello", "function")

    project = asyncio.run(run())
    assert project.kind == "function"
    (request,) = requests
    assert request.headers["authorization"] == "Bearer t"
    assert request.headers["content-type"] == "application/json"
    assert request.content == b'{"name":"hello","kind":"function"}'
