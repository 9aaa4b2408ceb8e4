"""``python -m tests.e2e.slow_refund_worker``: the production worker, except that each refund
waits ``REFUND_DELAY_SECONDS`` first, so a test can kill it in the middle of a cancellation."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

from temporalio.client import Client

from activities.events import EventActivities
from adapters.event_sales import EventSales
from adapters.temporal_converter import DATA_CONVERTER
from bootstrap import build_backends, build_worker
from config.settings import get_settings
from domain.model import PaymentIntent


class SlowRefunds:
    def __init__(self, target: Any, delay: float) -> None:
        self._target = target
        self._delay = delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)

    def refund(self, intent_id: str, key: str) -> PaymentIntent:
        time.sleep(self._delay)
        return self._target.refund(intent_id, key)  # type: ignore[no-any-return]


async def main() -> None:
    settings = get_settings()
    assert settings.temporal_address
    client = await Client.connect(settings.temporal_address, data_converter=DATA_CONVERTER)
    backends = build_backends(settings)
    events = EventActivities(
        EventSales(backends.engine),
        backends.bookings,
        SlowRefunds(backends.payments, float(os.environ["REFUND_DELAY_SECONDS"])),  # type: ignore[arg-type]
        backends.seat_map,
        client,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with build_worker(settings, client, backends.activities(), events):
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
