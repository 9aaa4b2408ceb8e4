"""What the paths that answer without graphql-core share (``api/response_cache.py``,
``api/hold_refusals.py``): the one document shape they take, and the query texts graphql-core
has executed without errors in this process. They only take a
text graphql-core has already run cleanly: parsing, validation and the depth limit depend on
the text alone, so that run stands for them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from graphql import FieldNode, OperationDefinitionNode, OperationType, parse

Plan = TypeVar("Plan")


def lone_root_field(
    query: str, kind: OperationType, name: str
) -> tuple[OperationDefinitionNode, FieldNode] | None:
    """The operation and its root field when the document is one ``kind`` operation selecting
    only the field ``name``, neither with directives; otherwise None."""
    try:
        document = parse(query, no_location=True)
    except Exception:  # noqa: BLE001 - malformed queries are the executor's to report
        return None
    if len(document.definitions) != 1:
        return None
    operation = document.definitions[0]
    if not isinstance(operation, OperationDefinitionNode):
        return None
    if operation.operation != kind or operation.directives:
        return None
    roots = operation.selection_set.selections
    if len(roots) != 1 or not isinstance(roots[0], FieldNode):
        return None
    field = roots[0]
    if field.name.value != name or field.directives:
        return None
    return operation, field


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
