"""A venue's layout: rows given by count become seats with coordinates. Pure.

One coordinate space per venue, in seat widths: a seat is 1 wide, rows are ``ROW_PITCH``
apart, and every seat's centre lies in ``[0, width] x [0, height]``. The stage is at the top
(y = 0): a section's first row is its front row.

* Sections without ``x``/``y`` are placed side by side, ``SECTION_GAP`` apart, to the right
  of any section that was placed explicitly (so the two never overlap).
* A row's seats are evenly spaced and centred on the section's axis; ``offset`` shifts the
  row sideways by that many seat widths (a staggered row, a short row off-centre).
* ``curve`` in [0, 1] bends the rows into concentric arcs around the stage: 0 is straight, 1
  makes the widest row a half circle. Seats keep their spacing along the arc.

``venue_spec`` validates a ``VenueInput``-shaped mapping (snake_case keys, as the API hands
it over); ``lay_out`` turns the valid spec into seats. Every refusal is a ``DomainError``
INVALID_INPUT naming the section and row at fault, raised before anything is written.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.errors import DomainError, ErrorCode
from domain.model import SeatType

# The columns' sizes (venues.name, venues.address, seats.section, seats.row).
MAX_VENUE_NAME, MAX_ADDRESS, MAX_SECTION_NAME, MAX_ROW_LABEL = 200, 400, 50, 10
MAX_SEATS_PER_ROW = 1_000
MAX_SEATS = 100_000
# Beyond this a modifier is a typo (a 5,000% surcharge), and seats.price_modifier is
# Numeric(6, 3): three decimals at most.
MAX_PRICE_MODIFIER = Decimal("100")
MODIFIER_STEP = Decimal("0.001")
# Explicit placement: far enough for any real venue, small enough to stay a drawable map.
MAX_COORDINATE = 100_000.0

ROW_PITCH = 1.2  # rows need legroom: a little more than a seat width apart
SECTION_GAP = 4.0  # an aisle between sections laid out side by side
MARGIN = 1.0  # around the whole map, so no seat is drawn on the edge


@dataclass(frozen=True)
class RowSpec:
    label: str
    seats: int
    type: str = SeatType.REGULAR.value
    price_modifier: Decimal = Decimal("1.000")
    offset: float = 0.0


@dataclass(frozen=True)
class SectionSpec:
    name: str
    rows: tuple[RowSpec, ...]
    x: float | None = None
    y: float | None = None
    curve: float = 0.0


@dataclass(frozen=True)
class VenueSpec:
    name: str
    address: str
    sections: tuple[SectionSpec, ...]

    @property
    def capacity(self) -> int:
        return sum(row.seats for section in self.sections for row in section.rows)


@dataclass(frozen=True)
class PlacedSeat:
    section: str
    row: str
    number: int
    type: str
    price_modifier: Decimal
    x: float
    y: float


@dataclass(frozen=True)
class Layout:
    seats: tuple[PlacedSeat, ...]  # section by section, row by row, seat 1 first
    width: float
    height: float


def _invalid(where: str, message: str, **details: Any) -> DomainError:
    text = f"{where}: {message}" if where else message
    return DomainError(ErrorCode.INVALID_INPUT, text, **details)


def _text(value: Any, what: str, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(where, f"{what} must not be empty", field=what)
    stripped = value.strip()
    if len(stripped) > limit:
        raise _invalid(where, f"{what} is longer than {limit} characters", field=what)
    return stripped


def _number(value: Any, what: str, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(where, f"{what} must be a number", field=what)
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise _invalid(where, f"{what} must be between {low:g} and {high:g}", field=what)
    return number


def _repeated(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _modifier(value: Any, where: str) -> Decimal:
    if value is None:
        return Decimal("1.000")
    try:
        modifier = Decimal(value) if not isinstance(value, float | bool) else None
    except (InvalidOperation, TypeError, ValueError):
        modifier = None
    if modifier is None or not modifier.is_finite():
        raise _invalid(where, "priceModifier must be a decimal number", field="priceModifier")
    if not 0 < modifier <= MAX_PRICE_MODIFIER:
        raise _invalid(
            where,
            f"priceModifier must be above 0 and at most {MAX_PRICE_MODIFIER}",
            field="priceModifier",
        )
    if modifier != modifier.quantize(MODIFIER_STEP):
        raise _invalid(where, "priceModifier has more than 3 decimals", field="priceModifier")
    return modifier.quantize(MODIFIER_STEP)


def _row(data: Mapping[str, Any], section: str) -> RowSpec:
    label = _text(data.get("label"), "label", f"section {section!r}", MAX_ROW_LABEL)
    where = f"section {section!r} row {label!r}"
    seats = data.get("seats")
    if isinstance(seats, bool) or not isinstance(seats, int) or seats < 1:
        raise _invalid(where, "seats must be at least 1", field="seats")
    if seats > MAX_SEATS_PER_ROW:
        raise _invalid(where, f"at most {MAX_SEATS_PER_ROW} seats in a row", field="seats")
    seat_type = data.get("type") or SeatType.REGULAR.value
    if seat_type not in SeatType.__members__:
        raise _invalid(where, f"unknown seat type {str(seat_type)[:20]!r}", field="type")
    offset = data.get("offset")
    return RowSpec(
        label=label,
        seats=seats,
        type=str(seat_type),
        price_modifier=_modifier(data.get("price_modifier"), where),
        offset=0.0
        if offset is None
        else _number(offset, "offset", where, -MAX_SEATS_PER_ROW, MAX_SEATS_PER_ROW),
    )


def _section(data: Mapping[str, Any]) -> SectionSpec:
    name = _text(data.get("name"), "name", "a section", MAX_SECTION_NAME)
    where = f"section {name!r}"
    raw_rows = data.get("rows")
    if not isinstance(raw_rows, Sequence) or isinstance(raw_rows, str) or not raw_rows:
        raise _invalid(where, "a section needs at least one row", field="rows")
    rows = tuple(_row(r, name) for r in raw_rows)
    duplicates = _repeated(r.label for r in rows)
    if duplicates:
        raise _invalid(where, f"row labels repeated: {', '.join(duplicates)}", field="rows")
    x, y = data.get("x"), data.get("y")
    if (x is None) != (y is None):
        raise _invalid(where, "give both x and y, or neither", field="x")
    curve = data.get("curve")
    return SectionSpec(
        name=name,
        rows=rows,
        x=None if x is None else _number(x, "x", where, 0, MAX_COORDINATE),
        y=None if y is None else _number(y, "y", where, 0, MAX_COORDINATE),
        curve=0.0 if curve is None else _number(curve, "curve", where, 0, 1),
    )


def venue_spec(data: Mapping[str, Any]) -> VenueSpec:
    """The venue input, checked whole. Raises DomainError INVALID_INPUT naming the fault."""
    name = _text(data.get("name"), "name", "venue", MAX_VENUE_NAME)
    address = _text(data.get("address"), "address", "venue", MAX_ADDRESS)
    raw = data.get("sections")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise _invalid("venue", "the layout has no sections", field="sections")
    # Count before parsing every row: a 10-million-seat request is refused without the work.
    claimed = sum(
        r.get("seats") if isinstance(r.get("seats"), int) else 0
        for s in raw
        if isinstance(s, Mapping)
        for r in (s.get("rows") or ())
        if isinstance(r, Mapping)
    )
    if claimed > MAX_SEATS:
        raise _invalid("venue", f"at most {MAX_SEATS} seats in a venue", field="sections")
    sections = tuple(_section(s) for s in raw)
    duplicates = _repeated(s.name for s in sections)
    if duplicates:
        raise _invalid("venue", f"section names repeated: {', '.join(duplicates)}")
    return VenueSpec(name=name, address=address, sections=sections)


def _section_seats(section: SectionSpec) -> list[PlacedSeat]:
    """The section's seats around its own origin (the front row's centre at y = 0)."""
    half = [row.seats / 2 + abs(row.offset) for row in section.rows]
    arc = section.curve * math.pi / 2
    # Each row is its own arc around the stage; the front radius is chosen so no row bends
    # past the arc (a half circle at curve 1), and the others follow at ROW_PITCH.
    front = max(h / arc - i * ROW_PITCH for i, h in enumerate(half)) if arc > 0 else 0.0
    placed = []
    for i, row in enumerate(section.rows):
        radius = max(front, ROW_PITCH) + i * ROW_PITCH
        for number in range(1, row.seats + 1):
            along = row.offset + number - (row.seats + 1) / 2
            if arc > 0:
                angle = along / radius
                x = radius * math.sin(angle)
                # the arc's ends come forward, towards the stage (y = 0)
                y = i * ROW_PITCH - radius * (1 - math.cos(angle))
            else:
                x, y = along, i * ROW_PITCH
            placed.append(
                PlacedSeat(section.name, row.label, number, row.type, row.price_modifier, x, y)
            )
    return placed


def _shifted(seats: list[PlacedSeat], dx: float, dy: float) -> list[PlacedSeat]:
    return [
        PlacedSeat(
            s.section,
            s.row,
            s.number,
            s.type,
            s.price_modifier,
            round(s.x + dx, 3),
            round(s.y + dy, 3),
        )
        for s in seats
    ]


def lay_out(spec: VenueSpec) -> Layout:
    """Every seat of the venue with its x, y, and the map's width and height."""
    local = {s.name: _section_seats(s) for s in spec.sections}
    # A seat is drawn 1 wide around its centre: a section's box reaches half a seat past it.
    boxes = {
        name: (
            min(p.x for p in seats) - 0.5,
            min(p.y for p in seats) - 0.5,
            max(p.x for p in seats) + 0.5,
            max(p.y for p in seats) + 0.5,
        )
        for name, seats in local.items()
    }
    explicit_right = max(
        (s.x + boxes[s.name][2] - boxes[s.name][0] for s in spec.sections if s.x is not None),
        default=None,
    )
    cursor = MARGIN if explicit_right is None else explicit_right + SECTION_GAP
    seats: list[PlacedSeat] = []
    for section in spec.sections:
        left, top, right, bottom = boxes[section.name]
        if section.x is not None and section.y is not None:
            origin_x, origin_y = section.x, section.y
        else:
            origin_x, origin_y = cursor, MARGIN
            cursor += right - left + SECTION_GAP
        seats += _shifted(local[section.name], origin_x - left, origin_y - top)
    width = max(s.x for s in seats) + 0.5 + MARGIN
    height = max(s.y for s in seats) + 0.5 + MARGIN
    return Layout(seats=tuple(seats), width=round(width, 3), height=round(height, 3))
