"""Gateway fixtures: the real app on the real (throwaway) PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest
from gateway_harness import gateway, signup_login

from paastech.services import Scheduler, Services, UnavailableScheduler
from paastech.settings import Settings


@pytest.fixture
def scheduler() -> Scheduler:
    return UnavailableScheduler()


@pytest.fixture
async def api(
    settings: Settings, clean_db: Any, scheduler: Scheduler
) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(settings, Services(scheduler=scheduler)) as client:
        yield client


@pytest.fixture
async def alice(api: httpx.AsyncClient) -> dict[str, str]:
    return await signup_login(api, "alice@example.com")


@pytest.fixture
async def bob(api: httpx.AsyncClient) -> dict[str, str]:
    return await signup_login(api, "bob@example.com")


@pytest.fixture
def tweak(settings: Settings) -> Callable[..., Settings]:
    """Settings with some ``gateway`` fields replaced."""

    def make(**gateway: Any) -> Settings:
        return msgspec.structs.replace(
            settings, gateway=msgspec.structs.replace(settings.gateway, **gateway)
        )

    return make
