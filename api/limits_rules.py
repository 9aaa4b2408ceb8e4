"""Query size and depth limits, enforced before a query runs."""

from __future__ import annotations

from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    parse,
)

from api.errors import BAD_USER_INPUT, ApiError


def make_query_parser(max_bytes: int, max_tokens: int = 5000) -> Any:
    """Ariadne ``query_parser``: refuses oversized queries before parsing them."""

    def parse_query(context: Any, data: dict[str, Any]) -> DocumentNode:
        query = data["query"]
        if len(query.encode()) > max_bytes:
            raise ApiError(BAD_USER_INPUT, f"query is larger than {max_bytes} bytes")
        return parse(query, max_tokens=max_tokens)

    return parse_query


def depth_limit_rule(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self._fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }

        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = self._depth(node.selection_set, 0, frozenset())
            if depth > max_depth:
                self.report_error(
                    ApiError(BAD_USER_INPUT, f"query depth {depth} exceeds {max_depth}")
                )

        def _depth(self, selection: SelectionSetNode | None, depth: int, seen: frozenset) -> int:
            if selection is None or depth > max_depth:
                return depth
            deepest = depth
            for node in selection.selections:
                if isinstance(node, FieldNode):
                    if node.name.value.startswith("__"):
                        continue  # introspection has its own fixed shape
                    deepest = max(deepest, self._depth(node.selection_set, depth + 1, seen))
                elif isinstance(node, InlineFragmentNode):
                    deepest = max(deepest, self._depth(node.selection_set, depth, seen))
                elif isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    fragment = self._fragments.get(name)
                    if fragment is not None and name not in seen:
                        deepest = max(
                            deepest, self._depth(fragment.selection_set, depth, seen | {name})
                        )
            return deepest

    return DepthLimit
