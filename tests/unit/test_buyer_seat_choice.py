"""The flash-sale buyer: its seat choice (adjacent runs, the same choice for the same draw) and
how it reads the API's own time from a reply."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from bench.buyer import app_ms, pick_seats


def reference_pick(
    seats: list[dict[str, Any]], wants: int, avoid: set[str], rng: random.Random
) -> list[str]:
    """Every run materialized, then one drawn: the choice the benchmark's buyers made before
    ``pick_seats`` stopped building the runs it does not return."""
    rows: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for seat in seats:
        if seat["id"] not in avoid:
            rows[(seat["section"], seat["row"])].append((int(seat["number"]), seat["id"]))
    for row in rows.values():
        row.sort()
    for size in range(wants, 0, -1):
        runs = [
            [seat_id for _, seat_id in row[start : start + size]]
            for row in rows.values()
            for start in range(len(row) - size + 1)
            if row[start + size - 1][0] - row[start][0] == size - 1
        ]
        if runs:
            return rng.choice(runs)
    return []


def seat_map(rng: random.Random) -> list[dict[str, Any]]:
    seats = [
        {"id": f"{section}-{row}-{number}", "section": section, "row": str(row), "number": number}
        for section in "AB"
        for row in range(1, 6)
        for number in range(1, 13)
        if rng.random() < 0.6  # gaps, as sold and held seats leave them
    ]
    rng.shuffle(seats)
    return seats


def test_the_same_draw_picks_the_same_seats_as_the_reference() -> None:
    maps = random.Random(11)
    for case in range(300):
        seats = seat_map(maps)
        avoid = {s["id"] for s in seats if maps.random() < 0.1}
        wants = maps.randint(1, 4)
        chosen = pick_seats(seats, wants, avoid, random.Random(case))
        assert chosen == reference_pick(seats, wants, avoid, random.Random(case))


def test_a_run_is_adjacent_in_one_row_and_shorter_only_when_none_is_long_enough() -> None:
    seats = [
        {"id": "r1-1", "section": "A", "row": "1", "number": 1},
        {"id": "r1-3", "section": "A", "row": "1", "number": 3},
        {"id": "r2-5", "section": "A", "row": "2", "number": 5},
        {"id": "r2-6", "section": "A", "row": "2", "number": 6},
    ]
    assert pick_seats(seats, 2, set(), random.Random(1)) == ["r2-5", "r2-6"]
    assert pick_seats(seats, 3, set(), random.Random(1)) == ["r2-5", "r2-6"]  # longest left
    assert pick_seats(seats, 2, {"r2-6"}, random.Random(1)) in (["r1-1"], ["r1-3"], ["r2-5"])
    assert pick_seats([], 2, set(), random.Random(1)) == []


def test_the_apis_own_time_is_read_from_its_server_timing_header() -> None:
    assert app_ms("app;dur=12.5") == 12.5
    assert app_ms('cache;desc="hit", app;desc="api";dur=3') == 3.0
    assert app_ms("db;dur=7") is None
    assert app_ms(None) is None
