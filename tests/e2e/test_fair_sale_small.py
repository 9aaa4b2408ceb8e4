"""A small fair on-sale through the real HTTP API (uvicorn) and a real worker process.

200 buyers for 40 seats arrive over 3 s, a third before the opening, and wait on the page's
``queueUpdates`` subscription; one bot account runs 10 clients. Asserted: the invariants, that
every seat is sold (abandoned holds lapse after 3 s and go to the next admitted buyers), that
buyers were admitted in queue order (after the pre-queue's shuffle), no account admitted twice,
and the bot within the per-buyer limit and never holding without its own admission.
Never timings.
"""

from __future__ import annotations

import asyncio

from bench import fair_sale
from bench.stack import BenchStack
from tests.e2e.test_flash_sale_small import bench  # noqa: F401 - the same fixture

TURN_SECONDS = 5


async def test_small_fair_sale_admits_in_queue_order_and_sells_every_seat(
    bench: BenchStack,  # noqa: F811
) -> None:
    env = {
        "HOLD_SECONDS": "3",
        "WAITING_ROOM_TURN_SECONDS": str(TURN_SECONDS),
        # Turns a few at a time: at the default floor the opening's first batch could serve
        # every seat, leaving no two batches to order (Kendall's tau undefined).
        "WAITING_ROOM_MIN_RATE": "4",
    }
    await asyncio.to_thread(bench.start_workers, 1, **env)
    _, url = await asyncio.to_thread(bench.start_api, **env)

    result = await fair_sale.run(
        bench,
        [url],
        buyers=200,
        seats=40,
        clients=30,
        hold_seconds=3,
        seed=13,
        arrival_seconds=3.0,
        bot_clients=10,
        max_tickets=4,
        turn_seconds=TURN_SECONDS,
        waiting="subscribed",
    )

    assert result["violations"] == [] and result["invariant_violations"] == 0
    assert result["double_sold"] == 0 and result["orphan_charges"] == 0
    assert result["http_5xx"] == 0
    assert result["checkouts_still_running"] == 0
    assert result["joined_before_opening"] > 0
    assert result["seats_sold"] == 40, result
    # admitted in queue order: nobody behind was admitted before anyone ahead
    assert result["admitted"] > 0 and result["fairness_discordant_pairs"] == 0, result
    assert result["admission_batches"] > 1, result
    assert result["fairness_kendall_tau"] >= 0.95, result
    assert result["admitted_twice"] == 0
    assert result["bot_max_seats"] <= result["max_tickets_per_buyer"] == 4
    # the bot tried holds with no admission and with other buyers' while it waited: none held
    assert result["bot_replies"].get("no_admission:NOT_ADMITTED", 0) > 0, result["bot_replies"]
    assert result["bot_held_without_own_admission"] == 0
    # the buyers waited as the page does, on the queueUpdates subscription, and none fell back
    assert result["waiting"] == "subscribed" and result["updates_received"] > 0, result
    assert result["sockets_failed"] == {} and result["update_errors"] == 0, result
