"""End-to-end fixtures: a real worker (in this process) wired as production wires it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from temporalio.client import Client

from adapters.checkout_client import CheckoutClient
from bootstrap import Backends, build_backends, build_worker, checkout_client
from config.settings import Settings


@pytest.fixture(scope="session")
def backends(settings: Settings, dynamodb: Any) -> Iterator[Backends]:
    """The worker's adapters, wired exactly as production wires them (``bootstrap.py``)."""
    built = build_backends(settings)
    yield built
    built.close()


@pytest.fixture(scope="session")
async def worker(
    settings: Settings, temporal_client: Client, backends: Backends
) -> AsyncIterator[None]:
    async with build_worker(settings, temporal_client, backends.activities()):
        yield


@pytest.fixture(scope="session")
def checkouts(temporal_client: Client, settings: Settings, worker: None) -> CheckoutClient:
    return checkout_client(settings, temporal_client)


@pytest.fixture(scope="session")
def short_checkouts(temporal_client: Client, settings: Settings, worker: None) -> CheckoutClient:
    """Holds that expire after 2 s, for the expiry paths."""
    return checkout_client(settings, temporal_client, hold_seconds=2)
