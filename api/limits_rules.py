"""Query size, depth and width limits, and text a database cannot store, refused before a
query runs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Collection
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    ValidationContext,
    parse,
    validate,
)

from api.errors import BAD_USER_INPUT, ApiError


def make_query_parser(max_bytes: int, max_tokens: int = 5000, cache_size: int = 512) -> Any:
    """Ariadne ``query_parser``: refuses oversized queries before parsing them.

    Clients send the same few operations over and over (an on-sale is thousands of copies of
    one seat-map query), so documents are parsed once and shared: execution never mutates
    an AST. Sharing the object also lets ``make_query_validator`` validate each text once.
    """

    @lru_cache(maxsize=cache_size)
    def parse_text(query: str) -> DocumentNode:
        return parse(query, max_tokens=max_tokens)

    def parse_query(context: Any, data: dict[str, Any]) -> DocumentNode:
        query = data["query"]
        if len(query.encode()) > max_bytes:
            raise ApiError(BAD_USER_INPUT, f"query is larger than {max_bytes} bytes")
        return parse_text(query)

    return parse_query


def make_query_validator(cache_size: int = 512) -> Any:
    """Ariadne ``query_validator`` that validates a (shared) document once per rule set.

    Validating every copy of the same query repeats the same work: the result depends only
    on the schema, the document and the rules.
    """
    results: OrderedDict[tuple[int, int, tuple[type, ...]], tuple[Any, list]] = OrderedDict()
    lock = threading.Lock()

    def validate_query(
        schema: GraphQLSchema,
        document: DocumentNode,
        rules: Collection[type[ASTValidationRule]] | None = None,
        **kwargs: Any,
    ) -> list[GraphQLError]:
        key = (id(schema), id(document), tuple(rules or ()))
        with lock:
            found = results.get(key)
            if found is not None and found[0] is document:
                results.move_to_end(key)
                return found[1]
        errors = validate(schema, document, rules=rules, **kwargs)
        with lock:
            # the document is kept alive with its result, so its id cannot be reused
            results[key] = (document, errors)
            if len(results) > cache_size:
                results.popitem(last=False)
        return errors

    return validate_query


class _WithFragments(ASTValidationRule):
    """A rule that follows fragment spreads: the document's fragments by name."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self._fragments = {
            d.name.value: d
            for d in context.document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }


def depth_limit_rule(max_depth: int) -> type[ASTValidationRule]:
    class DepthLimit(_WithFragments):
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


def root_fields_rule(max_fields: int, max_mutations: int) -> type[ASTValidationRule]:
    """At most ``max_fields`` root fields per operation (``max_mutations`` for a mutation),
    aliases and fragments included: one request is one unit of work to the rate limits."""

    class RootFields(_WithFragments):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            count = self._count(node.selection_set, frozenset())
            mutation = node.operation == OperationType.MUTATION
            limit = max_mutations if mutation else max_fields
            if count > limit:
                kind = "mutation" if mutation else "operation"
                self.report_error(
                    ApiError(
                        BAD_USER_INPUT,
                        f"a {kind} may select at most {limit} root field(s), aliases included;"
                        f" this one selects {count}",
                    )
                )

        def _count(self, selection: SelectionSetNode, seen: frozenset) -> int:
            count = 0
            for node in selection.selections:
                if isinstance(node, FieldNode):
                    count += node.name.value != "__typename"
                elif isinstance(node, InlineFragmentNode):
                    count += self._count(node.selection_set, seen)
                elif isinstance(node, FragmentSpreadNode):
                    fragment = self._fragments.get(node.name.value)
                    if fragment is not None and node.name.value not in seen:
                        count += self._count(fragment.selection_set, seen | {node.name.value})
            return count

    return RootFields


def has_nul(value: Any) -> bool:
    """A NUL character anywhere in a request's decoded JSON (PostgreSQL's text cannot hold it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


class NoNulInStrings(ASTValidationRule):
    """String literals with a NUL (``"\\u0000"``): bad input, not a database error later."""

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if "\x00" in node.value:
            self.report_error(ApiError(BAD_USER_INPUT, "text may not contain NUL characters"))
