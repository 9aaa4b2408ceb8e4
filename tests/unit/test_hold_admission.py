"""The API's admission of holds to the saga (api/admission.py): a bound, a line, a wait limit."""

from __future__ import annotations

import asyncio

import pytest

from api.admission import HoldAdmission
from domain.errors import DomainError, ErrorCode


async def _hold_many(admission: HoldAdmission, n: int) -> tuple[int, list[int]]:
    """Runs ``n`` holds that stay inside their slot until all have arrived; returns the most
    inside at once and the order they were admitted in."""
    all_arrived = asyncio.Event()
    inside = 0
    most = 0
    admitted: list[int] = []

    async def hold(i: int) -> None:
        nonlocal inside, most
        async with admission.slot():
            admitted.append(i)
            inside += 1
            most = max(most, inside)
            await all_arrived.wait()
            inside -= 1

    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(hold(i)))
        await asyncio.sleep(0)  # arrive one after the other
    all_arrived.set()
    await asyncio.gather(*tasks)
    return most, admitted


async def test_at_most_limit_holds_are_inside_and_the_rest_go_in_arrival_order() -> None:
    most, admitted = await _hold_many(HoldAdmission(limit=3, max_wait_seconds=5), 12)
    assert most == 3
    assert admitted == list(range(12))


async def test_no_limit_lets_every_hold_in_at_once() -> None:
    most, _ = await _hold_many(HoldAdmission(limit=0, max_wait_seconds=5), 12)
    assert most == 12


async def test_a_hold_that_waits_too_long_is_told_to_try_again_and_takes_no_slot() -> None:
    admission = HoldAdmission(limit=1, max_wait_seconds=0.05)
    release = asyncio.Event()

    async def occupant() -> None:
        async with admission.slot():
            await release.wait()

    first = asyncio.create_task(occupant())
    await asyncio.sleep(0)
    with pytest.raises(DomainError) as refused:
        async with admission.slot():
            pytest.fail("admitted past the bound")
    assert refused.value.code == ErrorCode.TRY_AGAIN
    release.set()
    await first
    # The refused hold left the one slot free for the next.
    async with asyncio.timeout(1):
        async with admission.slot():
            pass


async def test_a_hold_that_fails_inside_gives_its_slot_back() -> None:
    admission = HoldAdmission(limit=1, max_wait_seconds=1)
    with pytest.raises(RuntimeError):
        async with admission.slot():
            raise RuntimeError("saga unreachable")
    async with asyncio.timeout(1):
        async with admission.slot():
            pass
