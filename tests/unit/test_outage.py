"""What counts as a backend outage (api/outage.py), including looping exception chains."""

from __future__ import annotations

import redis.exceptions

from api.outage import is_outage


def test_a_backend_error_anywhere_in_the_chain_is_an_outage() -> None:
    try:
        try:
            raise redis.exceptions.ConnectionError("refused")
        except redis.exceptions.ConnectionError as exc:
            raise RuntimeError("the claim failed") from exc
    except RuntimeError as outer:
        assert is_outage(outer)
    assert not is_outage(ValueError("a bug"))


def test_a_chain_that_loops_ends_the_search() -> None:
    first, second = ValueError("first"), KeyError("second")
    first.__context__ = second
    second.__context__ = first  # a cycle, as concurrent handlers can leave behind
    assert is_outage(first) is False
    third = TimeoutError("late")
    second.__cause__ = third
    assert is_outage(first) is True
