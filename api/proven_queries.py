"""Query texts graphql-core has executed without errors in this process.

The paths that answer without graphql-core (``api/seatmap_render.py``, ``api/hold_refusals.py``)
only take a text graphql-core has already run cleanly: parsing, validation and the depth limit
depend on the text alone, so that run stands for them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

Plan = TypeVar("Plan")


class ProvenQueries(Generic[Plan]):
    """Each proven text with the plan its fast path answers it by; past ``capacity`` texts,
    the least recently proven goes first."""

    def __init__(self, plan: Callable[[str], Plan | None], capacity: int = 256) -> None:
        self._plan = plan
        self._capacity = capacity
        self._proven: OrderedDict[str, Plan] = OrderedDict()

    def executed(self, query: str) -> None:
        """graphql-core answered ``query`` without errors: its fast path may answer it now."""
        plan = self._plan(query)
        if plan is None:
            return
        self._proven[query] = plan
        self._proven.move_to_end(query)
        if len(self._proven) > self._capacity:
            self._proven.popitem(last=False)

    def plan_for(self, query: str) -> Plan | None:
        return self._proven.get(query)
