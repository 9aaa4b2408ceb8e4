"""The API's own copies of seat-map responses: expiry with the Redis entry, a byte budget."""

from __future__ import annotations

import time

from api.response_cache import _Entry, _NearCache


def _entry(body: bytes, version: bytes = b"1", ttl: float = 60.0) -> _Entry:
    return _Entry(version, body, time.monotonic() + ttl)


def test_a_copy_is_served_until_it_expires() -> None:
    near = _NearCache(max_bytes=1_000)
    near.put("live", _entry(b"a"))
    near.put("gone", _entry(b"b", ttl=-0.001))

    live = near.get("live")
    assert live is not None and live.body == b"a"
    assert near.get("gone") is None


def test_the_least_recently_read_copies_go_first_past_the_byte_budget() -> None:
    near = _NearCache(max_bytes=10)
    near.put("a", _entry(b"aaaa"))
    near.put("b", _entry(b"bbbb"))
    assert near.get("a") is not None  # now the most recently used
    near.put("c", _entry(b"cccc"))  # 12 bytes: one must go

    assert near.get("b") is None
    assert near.get("a") is not None and near.get("c") is not None


def test_replacing_a_copy_counts_its_bytes_once_and_an_oversized_body_is_not_kept() -> None:
    near = _NearCache(max_bytes=10)
    for version in (b"1", b"2", b"3"):
        near.put("a", _entry(b"aaaaaaaa", version))
    near.put("b", _entry(b"bb"))
    kept = near.get("a")
    assert kept is not None and kept.version == b"3"
    assert near.get("b") is not None

    near.put("huge", _entry(b"x" * 11))
    assert near.get("huge") is None
    assert near.get("a") is not None  # nothing was evicted for a body that cannot fit
