"""An event's copy of the claims: feed messages, and a snapshot completed by replaying them."""

from __future__ import annotations

import pytest

from adapters.claims_mirror import EventClaims, FeedChange, parse_change


def test_feed_messages_are_parsed() -> None:
    assert parse_change(b"ev|set|A|1900|s1,s2") == FeedChange("ev", "A", 1900, ("s1", "s2"))
    assert parse_change("ev|drop|||s3") == FeedChange("ev", None, 0, ("s3",))
    with pytest.raises(ValueError):
        parse_change("ev|grant|A|1|s1")


def test_a_copy_answers_live_claims_in_claim_order() -> None:
    copy = EventClaims()
    copy.loaded({b"s2": b"A|100", b"s1": b"B|99", b"L:s2": b"A|100"})  # a grant is no claim
    copy.apply(FeedChange("ev", "C", 120, ("s3",)))

    assert set(copy.claims or {}) == {"s1", "s2", "s3"}
    assert copy.taken(["s3", "s2", "s1", "s4"], now=99) == ("s1", "s2", "s3")
    assert copy.taken(["s3", "s2", "s1"], now=100) == ("s2", "s3")  # live to the second
    copy.apply(FeedChange("ev", None, 0, ("s2", "s3")))
    assert copy.taken(["s1", "s2", "s3"], now=0) == ("s1",)


def test_changes_seen_while_loading_are_replayed_on_the_snapshot() -> None:
    copy = EventClaims()
    # Seen before the snapshot arrived; the snapshot already holds the first two.
    copy.apply(FeedChange("ev", "A", 100, ("s1",)))
    copy.apply(FeedChange("ev", None, 0, ("s1",)))
    copy.apply(FeedChange("ev", "B", 100, ("s1", "s2")))  # made after the snapshot
    copy.apply(FeedChange("ev", None, 0, ("s3",)))  # made after the snapshot
    assert copy.claims is None

    copy.loaded({b"s3": b"C|100"})

    assert copy.claims == {"s1": ("B", 100), "s2": ("B", 100)}
    assert copy.pending == []


def test_replaying_changes_the_snapshot_already_holds_ends_where_redis_is() -> None:
    changes = [
        FeedChange("ev", "A", 100, ("s1", "s2")),
        FeedChange("ev", None, 0, ("s1",)),
        FeedChange("ev", "B", 110, ("s1",)),
        FeedChange("ev", "A", 130, ("s2",)),
    ]
    final = EventClaims()
    final.loaded({})
    for change in changes:
        final.apply(change)
    for taken_after in range(len(changes) + 1):  # the snapshot saw this many of them
        seen = EventClaims()
        seen.loaded({})
        for change in changes[:taken_after]:
            seen.apply(change)
        snapshot = {s.encode(): f"{h}|{t}".encode() for s, (h, t) in seen.claims.items()}
        copy = EventClaims()
        for change in changes:
            copy.apply(change)
        copy.loaded(snapshot)
        assert copy.claims == final.claims, taken_after
