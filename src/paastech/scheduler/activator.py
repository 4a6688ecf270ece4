"""The activator: where Fabio sends the traffic of a project that sleeps (or is on its way
to or from sleep), and of container apps that opted in to scale to zero.

For each request (its ``Host`` names the project) the body is read whole — so a held request
reaches the app byte for byte — then:

- the project has an instance that answers (awake, or draining: the drain gives up) → the
  request goes straight to that instance's own address;
- else it joins the project's wake (:class:`~paastech.scheduler.wake.Waker`: one scale-up for
  every request that waits), and is forwarded the moment the new instance answers. Its
  response carries ``X-PaaSTech-Cold-Start: <ms held>`` and ``Server-Timing`` with the wake's
  phases;
- a wake that takes longer than ``scheduler.hold_seconds`` answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from paastech.db.tables import Domain
from paastech.errors import PaasTechError
from paastech.scheduler.sleepers import Breakdown, Instance, Phase, Sleeper, Sleepers
from paastech.scheduler.wake import Waker

log = logging.getLogger("paastech.scheduler.activator")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

RETRY_AFTER = "5"
_WAKE_GRACE = 1.0
_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"te",
    b"trailer",
    b"upgrade",
    b"content-length",
}


class Activator:
    """The activator's ASGI app."""

    def __init__(
        self, sleepers: Sleepers, waker: Waker, apps_domain: str, hold_seconds: float
    ) -> None:
        self.sleepers = sleepers
        self.waker = waker
        self.suffix = "." + apps_domain.lower()
        self.hold_seconds = hold_seconds
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(300.0, connect=2.0),
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = time.time()
        headers = [(k.lower(), v) for k, v in scope.get("headers") or []]
        host = next((v.decode("latin-1") for k, v in headers if k == b"host"), "")
        name = await self._project(host)
        sleeper = await self.sleepers.get(name) if name else None
        if sleeper is None:
            await _plain(send, 404, "no such app\n")
            return
        body = await _body(receive)
        sleeper.begin()
        try:
            await self._serve(
                sleeper, scope=scope, headers=headers, body=body, send=send, arrived=arrived
            )
        finally:
            sleeper.end()

    async def _serve(
        self,
        sleeper: Sleeper,
        *,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        send: Send,
        arrived: float,
    ) -> None:
        cold: Breakdown | None = None
        instance = sleeper.pick() if sleeper.phase in (Phase.AWAKE, Phase.DRAINING) else None
        for attempt in range(2):
            if instance is None:
                try:
                    woken = await self._woken(sleeper, arrived)
                    cold = woken if woken.cold else None
                except (TimeoutError, PaasTechError) as exc:
                    reason = getattr(exc, "message", "") or "still starting"
                    log.warning("held request for %s: %s", sleeper.name, reason)
                    await _plain(
                        send, 503, f"{sleeper.name} is starting; retry shortly\n", RETRY_AFTER
                    )
                    return
                instance = sleeper.pick()
                if instance is None:
                    continue
            try:
                await self._forward(
                    sleeper,
                    instance,
                    scope=scope,
                    headers=headers,
                    body=body,
                    send=send,
                    cold=cold,
                    arrived=arrived,
                )
            except httpx.ConnectError:
                # The instance went away (scaled down under us): wake it once more.
                sleeper.instances = [i for i in sleeper.instances if i != instance]
                if attempt == 0 and not sleeper.instances:
                    sleeper.phase = Phase.ASLEEP
                instance = sleeper.pick()
                continue
            return
        await _plain(send, 503, f"{sleeper.name} is starting; retry shortly\n", RETRY_AFTER)

    async def _woken(self, sleeper: Sleeper, arrived: float) -> Breakdown:
        task = self.waker.wake(sleeper, arrived)
        # The wake ends by its own deadline (the first held request's hold time); this bound
        # only guards against a wake stuck outside Nomad, such as a hung database.
        remaining = self.hold_seconds - (time.time() - arrived) + _WAKE_GRACE
        breakdown = await asyncio.wait_for(asyncio.shield(task), max(0.01, remaining))
        breakdown.held += 1
        return breakdown

    async def _forward(
        self,
        sleeper: Sleeper,
        instance: Instance,
        *,
        scope: Scope,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        send: Send,
        cold: Breakdown | None,
        arrived: float,
    ) -> None:
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        url = f"http://{instance.address}:{instance.port}{path.decode('latin-1')}"
        if query:
            url += "?" + query.decode("latin-1")
        request = self.client.build_request(
            scope["method"],
            url,
            headers=[(k, v) for k, v in headers if k not in _HOP],
            content=body,
        )
        response = await self.client.send(request, stream=True)
        try:
            out = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in _HOP]
            if cold is not None:
                held = round((time.time() - arrived) * 1000)
                out.append((b"x-paastech-cold-start", str(held).encode()))
                out.append((b"server-timing", cold.server_timing(held).encode()))
                if not cold.recorded:
                    cold.recorded = True  # once per wake, by the first request answered
                    self.waker.spawn(self._record(sleeper, cold, held))
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def _record(self, sleeper: Sleeper, cold: Breakdown, held: int) -> None:
        """Store the wake once its task phases are known (the response has gone already)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cold.settled.wait(), 15)
        try:
            await self.sleepers.rows.record_cold_start(sleeper.project_id, cold, held)
        except Exception:  # the edge: a lost row must not fail anything else
            log.exception("cold start of %s not recorded", sleeper.name)

    async def _project(self, host: str) -> str | None:
        bare = host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()
        if bare.endswith(self.suffix):
            return bare.removesuffix(self.suffix)
        rows = await Domain.raw(
            "SELECT p.name AS name FROM domains d JOIN projects p ON p.id = d.project"
            " WHERE d.hostname = {} AND d.verified_at IS NOT NULL",
            bare,
        ).run()
        return str(rows[0]["name"]) if rows else None


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _plain(send: Send, status: int, text: str, retry_after: str | None = None) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if retry_after is not None:
        headers.append((b"retry-after", retry_after.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})
