"""The data converter decodes what the SDK's decodes, the same way, and sends the same bytes."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.converter import DataConverter

from activities.checkout import HoldOutput
from adapters.temporal_converter import DATA_CONVERTER, _fields
from workflows.contract import CheckoutInput, CheckoutState, HoldSeatsResult

SDK = DataConverter.default.payload_converter
OURS = DATA_CONVERTER.payload_converter


@dataclass
class Line:
    seat_id: str
    price: str | None = None


@dataclass
class Order:
    lines: list[Line]
    first: Line | None
    by_seat: dict[str, Line]
    note: str = "none"
    computed: int = field(default=0, init=False)


SAMPLES: list[Any] = [
    CheckoutState(
        checkout_id="c",
        user_id="u",
        event_id="e",
        status="CONFIRMED",
        seat_ids=["A-1", "A-2"],
        expires_at=1_700_000_000,
        deadline=None,
        extensions_used=1,
        amount="120.00",
        currency="USD",
        payment_intent_id="pi_1",
        booking_id="b",
        booking_reference="REF",
        failure_reason=None,
        failure_message=None,
        history=["OPEN", "HELD", "CONFIRMED"],
    ),
    HoldSeatsResult(held=False, seat_ids=[], taken=["A-1"], failure_reason="SEATS_UNAVAILABLE"),
    HoldOutput(held=True, expires_at=5, prices={"A-1": "60.00"}, currency="USD"),
    CheckoutInput(checkout_id="c", user_id="u", event_id="e", hold_seconds=30),
    Order(lines=[Line("A-1", "1.00"), Line("A-2")], first=None, by_seat={"A-1": Line("A-1")}),
]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_same_bytes_and_same_values_as_the_sdk(value: Any) -> None:
    payloads = SDK.to_payloads([value])
    assert OURS.to_payloads([value]) == payloads
    ours = OURS.from_payloads(payloads, [type(value)])[0]
    assert ours == SDK.from_payloads(payloads, [type(value)])[0] == value


def test_nested_dataclasses_are_typed_and_init_false_fields_restored() -> None:
    order = Order(lines=[Line("A-1")], first=Line("B-2", "3.00"), by_seat={})
    order.computed = 7
    decoded = OURS.from_payloads(OURS.to_payloads([order]), [Order])[0]
    assert isinstance(decoded.lines[0], Line) and isinstance(decoded.first, Line)
    assert decoded.computed == 7


def test_unknown_keys_are_ignored_like_the_sdk() -> None:
    payloads = SDK.to_payloads([{"seat_id": "A-1", "added_later": True}])
    assert OURS.from_payloads(payloads, [Line])[0] == Line("A-1")


@pytest.mark.parametrize(
    "raw",
    [["A-1"], {"price": "1.00"}, {"seat_id": "A-1", "price": 5}],
    ids=["not an object", "required field missing", "wrong field type"],
)
def test_what_the_sdk_refuses_is_refused(raw: Any) -> None:
    payloads = SDK.to_payloads([raw])
    with pytest.raises(TypeError):
        SDK.from_payloads(payloads, [Line])
    with pytest.raises(TypeError):
        OURS.from_payloads(payloads, [Line])


def test_field_types_are_resolved_once_per_class(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[type] = []
    resolve = typing.get_type_hints

    def counted(cls: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(cls)
        return resolve(cls, *args, **kwargs)

    _fields.cache_clear()
    monkeypatch.setattr(typing, "get_type_hints", counted)
    payloads = OURS.to_payloads([SAMPLES[0]])
    for _ in range(3):
        OURS.from_payloads(payloads, [CheckoutState])
    assert calls == [CheckoutState]
    assert [name for name, *_ in _fields(CheckoutState)] == [
        f.name for f in dataclasses.fields(CheckoutState)
    ]
