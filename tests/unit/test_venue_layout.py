"""Venue layouts: validation of the input and the seats' coordinates."""

from __future__ import annotations

import math
import time
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import DomainError, ErrorCode
from domain.venue_layout import (
    MARGIN,
    ROW_PITCH,
    SECTION_GAP,
    Layout,
    PlacedSeat,
    lay_out,
    venue_spec,
)


def venue(*sections: dict[str, Any]) -> dict[str, Any]:
    return {"name": "Hall", "address": "1 Main St", "sections": list(sections)}


def section(name: str, *rows: tuple[str, int], **extra: Any) -> dict[str, Any]:
    return {"name": name, "rows": [{"label": r, "seats": n} for r, n in rows], **extra}


def layout(*sections: dict[str, Any]) -> Layout:
    return lay_out(venue_spec(venue(*sections)))


def seats_of(result: Layout, name: str, row: str | None = None) -> list[PlacedSeat]:
    return [s for s in result.seats if s.section == name and (row is None or s.row == row)]


def refusal(data: dict[str, Any]) -> str:
    with pytest.raises(DomainError) as info:
        venue_spec(data)
    assert info.value.code is ErrorCode.INVALID_INPUT
    return info.value.message


def test_rows_become_numbered_seats_with_the_defaults() -> None:
    result = layout(section("A", ("1", 3), ("2", 2)))
    assert [(s.row, s.number) for s in result.seats] == [
        ("1", 1),
        ("1", 2),
        ("1", 3),
        ("2", 1),
        ("2", 2),
    ]
    assert {s.type for s in result.seats} == {"REGULAR"}
    assert {s.price_modifier for s in result.seats} == {Decimal("1.000")}


def test_seats_in_a_row_are_evenly_spaced_centred_and_rows_go_top_to_bottom() -> None:
    result = layout(section("A", ("1", 5), ("2", 3), ("3", 4)))
    rows = [seats_of(result, "A", r) for r in ("1", "2", "3")]
    for row in rows:
        gaps = {round(b.x - a.x, 6) for a, b in zip(row, row[1:], strict=False)}
        assert gaps == {1.0}
        assert len({s.y for s in row}) == 1
    centres = {round((row[0].x + row[-1].x) / 2, 6) for row in rows}
    assert len(centres) == 1
    ys = [row[0].y for row in rows]
    assert ys == sorted(ys) and ys[1] - ys[0] == pytest.approx(ROW_PITCH)


def test_every_seat_lies_inside_the_map_with_a_margin() -> None:
    result = layout(section("A", ("1", 10), ("2", 12)), section("B", ("1", 4), curve=0.7))
    assert all(MARGIN <= s.x <= result.width - MARGIN for s in result.seats)
    assert all(MARGIN <= s.y <= result.height - MARGIN for s in result.seats)
    assert min(s.x for s in result.seats) == pytest.approx(MARGIN + 0.5)
    assert max(s.x for s in result.seats) == pytest.approx(result.width - MARGIN - 0.5)


def test_sections_without_placement_sit_side_by_side_with_a_gap() -> None:
    result = layout(section("A", ("1", 4)), section("B", ("1", 6)), section("C", ("1", 2)))
    a, b, c = (seats_of(result, n) for n in "ABC")
    assert max(s.x for s in a) + 0.5 + SECTION_GAP == pytest.approx(min(s.x for s in b) - 0.5)
    assert max(s.x for s in b) + 0.5 + SECTION_GAP == pytest.approx(min(s.x for s in c) - 0.5)
    assert {s.y for s in result.seats} == {MARGIN + 0.5}


def test_explicit_placement_puts_the_top_left_there_and_others_go_to_its_right() -> None:
    result = layout(
        section("STAGE-LEFT", ("1", 4), x=10.0, y=20.0),
        section("AUTO", ("1", 2)),
    )
    placed = seats_of(result, "STAGE-LEFT")
    assert min(s.x for s in placed) - 0.5 == pytest.approx(10.0)
    assert min(s.y for s in placed) - 0.5 == pytest.approx(20.0)
    auto = seats_of(result, "AUTO")
    assert min(s.x for s in auto) - 0.5 == pytest.approx(10.0 + 4 + SECTION_GAP)


def test_offset_shifts_a_row_in_seat_widths() -> None:
    plain = layout(section("A", ("1", 6), ("2", 3)))
    rows: list[dict[str, Any]] = [
        {"label": "1", "seats": 6},
        {"label": "2", "seats": 3, "offset": 1.5},
    ]
    shifted = layout({"name": "A", "rows": rows})
    before, after = seats_of(plain, "A", "2"), seats_of(shifted, "A", "2")
    # the offset also widens the section's box; compare against the unshifted first row
    front_before, front_after = seats_of(plain, "A", "1"), seats_of(shifted, "A", "1")
    assert after[0].x - front_after[0].x == pytest.approx(before[0].x - front_before[0].x + 1.5)


def test_curve_bends_rows_into_arcs_that_face_the_stage_and_keep_their_spacing() -> None:
    result = layout(section("A", ("1", 9), ("2", 11), curve=1.0))
    front = seats_of(result, "A", "1")
    middle, end = front[4], front[0]
    assert end.y < middle.y  # the ends come forward, towards the stage at the top
    assert front[0].y == pytest.approx(front[-1].y)  # symmetric
    for a, b in zip(front, front[1:], strict=False):
        assert 0.95 < math.dist((a.x, a.y), (b.x, b.y)) <= 1.0
    # concentric: the second row is behind the first all along
    back = seats_of(result, "A", "2")
    assert back[5].y - middle.y == pytest.approx(ROW_PITCH)
    straight = layout(section("A", ("1", 9), ("2", 11), curve=0.0))
    assert len({s.y for s in seats_of(straight, "A", "1")}) == 1


def test_a_5000_seat_venue_from_a_few_rows_is_quick() -> None:
    rows = [{"label": f"R{n}", "seats": 50, "type": "PREMIUM"} for n in range(20)]
    data = venue(*({"name": f"S{n}", "rows": rows, "curve": 0.3} for n in range(5)))
    started = time.perf_counter()
    result = lay_out(venue_spec(data))
    assert time.perf_counter() - started < 1.0
    assert len(result.seats) == 5000
    assert len({(s.x, s.y) for s in result.seats}) == 5000  # no two seats on one spot
    assert Counter(s.section for s in result.seats) == {f"S{n}": 1000 for n in range(5)}


def test_types_and_price_modifiers_are_kept() -> None:
    rows = [
        {"label": "A", "seats": 2, "type": "VIP", "price_modifier": Decimal("2.5")},
        {"label": "B", "seats": 1, "type": "ACCESSIBLE"},
    ]
    result = layout({"name": "FLOOR", "rows": rows})
    assert [(s.type, s.price_modifier) for s in result.seats] == [
        ("VIP", Decimal("2.500")),
        ("VIP", Decimal("2.500")),
        ("ACCESSIBLE", Decimal("1.000")),
    ]


def test_names_and_labels_are_trimmed() -> None:
    result = layout({"name": "  Floor ", "rows": [{"label": " A ", "seats": 1}]})
    assert (result.seats[0].section, result.seats[0].row) == ("Floor", "A")


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (venue(), "no sections"),
        ({"name": "Hall", "address": "x", "sections": "A"}, "no sections"),
        (venue({"name": "A", "rows": []}), "section 'A': a section needs at least one row"),
        (venue(section("A", ("1", 0))), "section 'A' row '1': seats must be at least 1"),
        (venue(section("A", ("1", -3))), "section 'A' row '1'"),
        (venue(section("A", ("1", 1001))), "at most 1000 seats in a row"),
        (venue(section("A", ("1", 2)), section("A", ("1", 2))), "section names repeated: A"),
        (venue(section("A", ("1", 2), ("1", 3))), "section 'A': row labels repeated: 1"),
        (venue(*(section(f"S{n}", ("1", 1000)) for n in range(101))), "at most 100000 seats"),
        (venue(section("", ("1", 2))), "name must not be empty"),
        (venue(section("x" * 51, ("1", 2))), "longer than 50"),
        (venue(section("A", ("", 2))), "section 'A': label must not be empty"),
        (venue(section("A", ("12345678901", 2))), "section 'A': label is longer than 10"),
        ({"name": " ", "address": "x", "sections": [section("A", ("1", 1))]}, "name"),
        ({"name": "H", "address": "x" * 401, "sections": [section("A", ("1", 1))]}, "address"),
        (venue(section("A", ("1", 2), x=float("nan"), y=1.0)), "section 'A': x must be"),
        (venue(section("A", ("1", 2), x=1.0, y=float("inf"))), "section 'A': y must be"),
        (venue(section("A", ("1", 2), x=-5.0, y=1.0)), "x must be between"),
        (venue(section("A", ("1", 2), x=1.0)), "both x and y"),
        (venue(section("A", ("1", 2), curve=1.5)), "curve must be between 0 and 1"),
        (venue(section("A", ("1", 2), curve=float("nan"))), "curve"),
    ],
)
def test_bad_layouts_are_refused_naming_the_section_and_row(
    data: dict[str, Any], says: str
) -> None:
    assert says in refusal(data)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"price_modifier": Decimal("0")}, "priceModifier must be above 0"),
        ({"price_modifier": Decimal("-1")}, "priceModifier must be above 0"),
        ({"price_modifier": Decimal("100.001")}, "at most 100"),
        ({"price_modifier": Decimal("1.0005")}, "more than 3 decimals"),
        ({"price_modifier": Decimal("NaN")}, "decimal number"),
        ({"price_modifier": 1.5}, "decimal number"),
        ({"offset": float("inf")}, "offset must be between"),
        ({"type": "BOX"}, "unknown seat type"),
        ({"seats": 2.0}, "seats must be at least 1"),
        ({"seats": True}, "seats must be at least 1"),
    ],
)
def test_bad_rows_are_refused_naming_the_row(row: dict[str, Any], says: str) -> None:
    data = venue({"name": "UPPER", "rows": [{"label": "B", "seats": 2, **row}]})
    message = refusal(data)
    assert message.startswith("section 'UPPER' row 'B': ")
    assert says in message


def test_the_seat_total_is_refused_before_any_row_is_parsed() -> None:
    # 200 rows of 1,000: refused by the count, even though a later row is malformed too
    rows: list[dict[str, Any]] = [{"label": str(n), "seats": 1000} for n in range(200)]
    rows.append({"label": "", "seats": 1})
    assert "at most 100000 seats" in refusal(venue({"name": "A", "rows": rows}))


def test_the_largest_allowed_venue_lays_out() -> None:
    rows = [{"label": str(n), "seats": 1000} for n in range(100)]
    result = lay_out(venue_spec(venue({"name": "A", "rows": rows})))
    assert len(result.seats) == 100_000
    assert all(math.isfinite(s.x) and math.isfinite(s.y) for s in result.seats[::997])
