"""Parsing and validation are done once per query text, and still refuse what they refused."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import specified_rules

import api.limits_rules as limits_rules
from api.errors import ApiError
from api.limits_rules import depth_limit_rule, make_query_parser, make_query_validator
from api.schema import build_schema

SEATS = "query($e: ID!) { availableSeats(eventId: $e) { id section } }"


def test_the_same_text_is_parsed_once() -> None:
    parse = make_query_parser(max_bytes=10_000)
    assert parse(None, {"query": SEATS}) is parse(None, {"query": SEATS})
    with pytest.raises(ApiError):
        parse(None, {"query": "{ " + "x " * 10_000 + "}"})


def test_validation_runs_once_per_document_and_rules(monkeypatch: Any) -> None:
    schema = build_schema()
    parse = make_query_parser(max_bytes=10_000)
    validate = make_query_validator()
    calls: list[int] = []
    real = limits_rules.validate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(limits_rules, "validate", counting)
    rules = (*specified_rules, depth_limit_rule(10))
    document = parse(None, {"query": SEATS})

    assert validate(schema, document, rules=rules) == []
    assert validate(schema, parse(None, {"query": SEATS}), rules=rules) == []
    assert len(calls) == 1
    validate(schema, document, rules=(*specified_rules, depth_limit_rule(1)))
    assert len(calls) == 2


def test_an_invalid_query_is_refused_every_time() -> None:
    schema = build_schema()
    parse = make_query_parser(max_bytes=10_000)
    validate = make_query_validator()
    document = parse(None, {"query": "{ availableSeats(eventId: 1) { nope } }"})
    rules = tuple(specified_rules)
    first = validate(schema, document, rules=rules)
    assert first and validate(schema, document, rules=rules) == first
