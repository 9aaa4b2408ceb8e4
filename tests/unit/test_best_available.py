"""Best available: price category first, then the front centre; never a stranded single seat."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from domain.best_available import best_block, leaves_single_gap


@dataclass(frozen=True)
class S:
    section: str
    row: str
    number: int
    price: Decimal
    x: float
    y: float
    status: str = "AVAILABLE"


def row(
    section: str,
    label: str,
    pattern: str,
    y: float = 0.0,
    price: str = "50",
    x0: float = 0.0,
) -> list[S]:
    """One seat per character: '.' available, 'H' held, 'B' booked, 'X' blocked, ' ' no seat
    (an aisle: the numbering skips it)."""
    codes = {".": "AVAILABLE", "H": "HELD", "B": "BOOKED", "X": "BLOCKED"}
    return [
        S(section, label, n + 1, Decimal(price), x0 + n, y, codes[c])
        for n, c in enumerate(pattern)
        if c != " "
    ]


def numbers(block: list[S]) -> list[int]:
    return [s.number for s in block]


@pytest.mark.parametrize(
    ("run", "offset", "count", "strands"),
    [(5, 0, 2, False), (5, 1, 2, True), (5, 2, 2, True), (5, 3, 2, False), (3, 0, 3, False)],
)
def test_leaves_single_gap(run: int, offset: int, count: int, strands: bool) -> None:
    assert leaves_single_gap(run, offset, count) is strands


def test_the_centre_of_the_front_row_wins_among_equal_prices() -> None:
    seats = row("A", "1", "..........", y=1) + row("A", "2", "..........", y=2.2)
    assert [(s.row, s.number) for s in best_block(seats, 2)] == [("1", 5), ("1", 6)]
    assert numbers(best_block(seats, 4)) == [4, 5, 6, 7]


def test_the_dearest_category_wins_even_far_back() -> None:
    seats = row("A", "1", "....", y=1, price="50") + row("A", "9", "....", y=10, price="120")
    assert {s.row for s in best_block(seats, 2)} == {"9"}


def test_a_block_is_ranked_by_its_cheapest_seat() -> None:
    # Front row: seat 4 is VIP, the rest regular; a row further back is all PREMIUM. The
    # VIP seat lifts no pair above PREMIUM (ranked by its highest or mean price, 3-4 would win).
    front = row("A", "1", "....", y=1, price="50")
    front[3] = S("A", "1", 4, Decimal("120"), 3.0, 1.0)
    back = row("A", "2", "....", y=2.2, price="80")
    assert [(s.row, s.number) for s in best_block(front + back, 2)] == [("2", 1), ("2", 2)]
    assert numbers(best_block(front, 1)) == [4]


def test_a_block_never_strands_a_single_seat_next_to_a_taken_one() -> None:
    # Free seats 2..6 between booked seats 1 and 7. The centred pairs 3-4 and 4-5 would leave
    # a lone seat at 2 or 6: the best pair that strands nothing sits against a wall.
    seats = row("A", "1", "B.....B", y=1)
    assert numbers(best_block(seats, 2)) == [2, 3]
    assert numbers(best_block(seats, 3)) == [2, 3, 4]
    assert best_block(seats, 4) == []
    assert numbers(best_block(seats, 5)) == [2, 3, 4, 5, 6]


def test_nothing_when_every_fit_would_strand_a_seat() -> None:
    # Three free seats between held and blocked ones, two wanted: either pair strands one.
    assert best_block(row("A", "1", "H...X", y=1), 2) == []
    # The same against the row's ends.
    assert best_block(row("A", "1", "...", y=1), 2) == []


def test_taken_seats_of_every_kind_and_row_ends_are_walls() -> None:
    for wall in "HBX":
        seats = row("A", "1", f"..{wall}..", y=1)
        assert numbers(best_block(seats, 2)) == [1, 2]
        assert best_block(seats, 3) == []
    # A lone free seat between two walls is filled gladly by a buyer of one.
    assert numbers(best_block(row("A", "1", "B.B..B", y=1), 1)) == [2]


def test_a_block_does_not_span_an_aisle() -> None:
    seats = row("A", "1", "...  ...", y=1)
    assert best_block(seats, 4) == []
    assert numbers(best_block(seats, 3)) == [1, 2, 3]


def test_the_section_filter_and_unknown_sections() -> None:
    seats = row("FLOOR", "A", "....", y=1, price="120") + row("UPPER", "A", "....", y=20)
    assert {s.section for s in best_block(seats, 2, "UPPER")} == {"UPPER"}
    assert {s.section for s in best_block(seats, 2)} == {"FLOOR"}
    assert best_block(seats, 2, "BALCONY") == []


def test_too_many_or_too_few_wanted() -> None:
    seats = row("A", "1", "....", y=1)
    assert best_block(seats, 5) == []
    assert best_block(seats, 0) == []
    assert numbers(best_block(seats, 4)) == [1, 2, 3, 4]


def test_the_answer_is_stable_between_equal_blocks() -> None:
    seats = row("B", "1", "....", y=1) + row("A", "1", "....", y=1)
    assert {s.section for s in best_block(seats, 2)} == {"A"}
    assert best_block(list(reversed(seats)), 2) == best_block(seats, 2)


class Counted(S):
    """Counts every attribute read: the search's work, measured without a clock."""

    reads = 0

    def __getattribute__(self, name: str) -> object:
        Counted.reads += 1
        return super().__getattribute__(name)


def test_a_5000_seat_map_is_searched_in_one_pass() -> None:
    """50 rows of 100 in two categories, a scattered few seats taken. The work is counted in
    attribute reads, not timed: a linear search reads each seat a bounded number of times per
    seat wanted (~20 here); comparing every block with every other would read millions."""
    seats = [
        Counted(
            "FLOOR" if r < 25 else "UPPER",
            f"{r:02d}",
            n + 1,
            Decimal("120" if r < 10 else "50"),
            float(n),
            r * 1.2,
            "AVAILABLE" if (r * 7 + n * 13) % 23 else "BOOKED",
        )
        for r in range(50)
        for n in range(100)
    ]
    assert len(seats) == 5_000
    for count in range(1, 11):
        Counted.reads = 0
        block = best_block(seats, count)
        reads = Counted.reads
        assert len(block) == count
        assert all(s.status == "AVAILABLE" for s in block)
        assert block[0].price == Decimal("120") and block[0].row == "00"
        assert reads < 20 * len(seats) * count, (count, reads)
