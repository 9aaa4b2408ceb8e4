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


def test_this_processs_own_claim_is_in_the_copy_before_the_feed_brings_it() -> None:
    copy = EventClaims()
    copy.loaded({}, count=1)
    copy.apply(FeedChange("ev", "A", 100, ("s9",)), count=2)

    copy.claimed_here(["s1", "s2"], "B", 120, since=2)  # nothing heard of s1, s2 since

    assert copy.taken(["s1", "s2", "s9"], now=0) == ("s1", "s2", "s9")
    # the feed's own copy of it, later, changes nothing
    copy.apply(FeedChange("ev", "B", 120, ("s1", "s2")), count=3)
    assert copy.claims == {"s1": ("B", 120), "s2": ("B", 120), "s9": ("A", 100)}


def test_a_claim_the_feed_has_already_overtaken_is_not_set_again() -> None:
    copy = EventClaims()
    copy.loaded({}, count=1)
    sent = 1
    # While the claim's answer waited on a busy loop, the feed brought the claim and then
    # its release (the hold failed at once): the late local copy must not bring it back.
    copy.apply(FeedChange("ev", "B", 120, ("s1",)), count=2)
    copy.apply(FeedChange("ev", None, 0, ("s1",)), count=3)

    copy.claimed_here(["s1", "s2"], "B", 120, since=sent)

    assert copy.taken(["s1"], now=0) == ()  # the feed's word: free
    assert copy.taken(["s2"], now=0) == ("s2",)  # nothing heard of s2 since: the claim


def test_a_claim_sent_before_the_copy_was_loaded_is_left_to_the_feed() -> None:
    loading = EventClaims()
    loading.claimed_here(["s1"], "B", 120, since=0)
    assert loading.claims is None and loading.pending == []

    copy = EventClaims()
    copy.loaded({}, count=5)  # a snapshot taken after the claim was sent (at 4) has its word
    copy.claimed_here(["s1"], "B", 120, since=4)
    assert copy.claims == {}
