"""The data converter of every Temporal client and worker here: the SDK's, with dataclass
field types looked up once per class instead of on every payload.

temporalio (1.35) calls ``typing.get_type_hints`` each time it turns JSON into a dataclass.
Our dataclasses are declared under ``from __future__ import annotations``, so that means
compiling and evaluating every field's annotation string again, on the API's event loop and
for each of the dozen such payloads the worker decodes per checkout. What it saves: that
lookup, 384 us per ``CheckoutState`` and 106 us per ``HoldSeatsResult`` decoded
(``docs/measurements.md``).

The wire format is the SDK's own JSON (``json/plain``): the Temporal UI, the CLI, other SDKs and
the recorded histories the replay tests read see no difference. Conversion follows the SDK's
rules for a dataclass: a JSON object is required, unknown keys are ignored, a missing required
field fails at construction, ``init=False`` fields are set after it.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
    JSONTypeConverter,
    value_to_type,
)


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """(name, resolved type, init) of each field of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name], f.init) for f in dataclasses.fields(cls))


class CachedDataclassConverter(JSONTypeConverter):
    def to_typed_value(self, hint: type, value: Any) -> Any:
        if not (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
            return JSONTypeConverter.Unhandled
        if not isinstance(value, dict):
            raise TypeError(f"Cannot convert to dataclass {hint}, value is {type(value)} not dict")
        arguments: dict[str, Any] = {}
        after_init: dict[str, Any] = {}
        for name, field_hint, init in _fields(hint):
            if name not in value:
                continue  # the constructor fails if the field was required
            try:
                converted = value_to_type(field_hint, value[name], [self])
            except Exception as err:
                raise TypeError(f"Failed converting field {name} on dataclass {hint}") from err
            (arguments if init else after_init)[name] = converted
        result = hint(**arguments)
        for name, converted in after_init.items():
            object.__setattr__(result, name, converted)
        return result


class PayloadConverter(CompositePayloadConverter):
    """The SDK's default encodings, its JSON one with ``CachedDataclassConverter``."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(custom_type_converters=[CachedDataclassConverter()])
                if isinstance(converter, JSONPlainPayloadConverter)
                else converter
                for converter in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


DATA_CONVERTER = DataConverter(payload_converter_class=PayloadConverter)
