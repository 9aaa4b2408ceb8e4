"""Pure rules of the seat plan and the open-checkout pointer."""

from __future__ import annotations

import pytest

from adapters.open_checkouts import Pointer
from adapters.seat_plan import plan_status


@pytest.mark.parametrize(
    ("inventory", "held", "shown"),
    [
        ("AVAILABLE", False, "AVAILABLE"),
        ("AVAILABLE", True, "HELD"),
        # A seat booked (or blocked) while its hold's grant is not yet dropped is what the
        # inventory says: the grant is about to go.
        ("BOOKED", True, "BOOKED"),
        ("BOOKED", False, "BOOKED"),
        ("BLOCKED", True, "BLOCKED"),
        ("BLOCKED", False, "BLOCKED"),
    ],
)
def test_a_seats_map_status(inventory: str, held: bool, shown: str) -> None:
    assert plan_status(inventory, held) == shown


def test_a_pointer_knows_its_checkout_and_age() -> None:
    pointer = Pointer.parse(b"5f0c8d0e-1111-4000-8000-000000000000|1700000000000")
    assert pointer.checkout_id == "5f0c8d0e-1111-4000-8000-000000000000"
    assert pointer.age_ms(1700000000250) == 250


def test_a_bare_id_pointer_reads_as_old() -> None:
    pointer = Pointer.parse("5f0c8d0e-1111-4000-8000-000000000000")
    assert pointer.checkout_id == "5f0c8d0e-1111-4000-8000-000000000000"
    assert pointer.age_ms(1700000000000) == 1700000000000
