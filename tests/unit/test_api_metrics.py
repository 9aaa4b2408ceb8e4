"""The API's request histogram, read from Prometheus text: /graphql only, deltas, bounds."""

from __future__ import annotations

from bench.api_metrics import parse, scrape, summarize


def histogram(fast: int, slow: int, very_slow: int, seconds: float) -> str:
    """Requests of /graphql in three buckets (cumulative), plus one /health request."""
    total = fast + slow + very_slow
    labels = 'method="POST",path="/graphql",status="200"'
    return f"""# HELP api_request_seconds HTTP request latency
# TYPE api_request_seconds histogram
api_request_seconds_bucket{{{labels},le="0.01"}} {fast}
api_request_seconds_bucket{{{labels},le="0.1"}} {fast + slow}
api_request_seconds_bucket{{{labels},le="+Inf"}} {total}
api_request_seconds_count{{{labels}}} {total}
api_request_seconds_sum{{{labels}}} {seconds}
api_request_seconds_bucket{{method="GET",path="/health",status="200",le="0.01"}} 7
api_request_seconds_bucket{{method="GET",path="/health",status="200",le="0.1"}} 7
api_request_seconds_bucket{{method="GET",path="/health",status="200",le="+Inf"}} 7
api_request_seconds_count{{method="GET",path="/health",status="200"}} 7
api_request_seconds_sum{{method="GET",path="/health",status="200"}} 0.01
"""


def test_deltas_of_graphql_requests_and_their_bucket_bounds() -> None:
    before = parse(histogram(10, 0, 0, 0.05))
    after = parse(histogram(110, 98, 2, 3.05))

    # 200 new requests, 3 s in all: half of them under 10 ms, all but 2 (99%) under 100 ms
    assert summarize(before, after) == {
        "n": 200,
        "mean_ms": 15.0,
        "p50_ms_at_most": 10.0,
        "p99_ms_at_most": 100.0,
        "holds": {
            "seat_map_reads": {},
            "mean_seat_map_render_ms": {"rows": None, "store": None},
            "refused_by_copy": 0,
            "refused_by_claim_script": 0,
            "admitted": 0,
            "mean_admission_wait_ms": None,
            "mean_step_ms": {"saga": None},
            "shed": 0,
        },
    }


def test_a_tail_past_the_last_bound_is_reported_as_such() -> None:
    summary = summarize(parse(""), parse(histogram(0, 1, 9, 20.0)))

    assert summary["p50_ms_at_most"] == "> 100"
    assert summary["p99_ms_at_most"] == "> 100"


def test_no_new_requests() -> None:
    same = parse(histogram(5, 5, 0, 0.1))

    assert summarize(same, same) == {"n": 0}


def test_an_api_that_cannot_be_reached_reads_as_nothing_measured() -> None:
    # port 1 on loopback: nothing listens there, the connection is refused at once
    nothing = scrape("http://127.0.0.1:1")

    assert summarize(nothing, nothing) == {"n": 0}


def admission(admitted: int, waited_seconds: float, shed: int) -> str:
    return f"""# HELP api_hold_admission_wait_seconds How long an admitted hold waited
# TYPE api_hold_admission_wait_seconds histogram
api_hold_admission_wait_seconds_bucket{{le="+Inf"}} {admitted}
api_hold_admission_wait_seconds_count {admitted}
api_hold_admission_wait_seconds_sum {waited_seconds}
# HELP api_holds_shed_total Holds answered TRY_AGAIN
# TYPE api_holds_shed_total counter
api_holds_shed_total {shed}
"""


def test_holds_admitted_their_mean_wait_and_holds_shed_between_two_scrapes() -> None:
    before = parse(histogram(1, 0, 0, 0.001) + admission(4, 1.0, 1))
    after = parse(histogram(2, 0, 0, 0.002) + admission(14, 6.0, 3))

    holds = summarize(before, after)["holds"]
    for figure in ("seat_map_reads", "mean_seat_map_render_ms"):
        del holds[figure]
    del holds["refused_by_claim_script"]
    del holds["refused_by_copy"]
    assert holds == {
        "admitted": 10,
        "mean_admission_wait_ms": 500.0,
        "mean_step_ms": {"saga": None},
        "shed": 2,
    }


def steps(sagas: int, saga_seconds: float) -> str:
    return f"""# HELP api_hold_step_seconds Time an admitted hold spent in each step
# TYPE api_hold_step_seconds histogram
api_hold_step_seconds_bucket{{step="saga",le="+Inf"}} {sagas}
api_hold_step_seconds_count{{step="saga"}} {sagas}
api_hold_step_seconds_sum{{step="saga"}} {saga_seconds}
"""


def test_an_admitted_holds_mean_time_in_each_step_between_two_scrapes() -> None:
    before = parse(histogram(1, 0, 0, 0.001) + steps(1, 1.0))
    after = parse(histogram(2, 0, 0, 0.002) + steps(9, 13.0))

    # 8 holds reached the saga, 12 s in all
    assert summarize(before, after)["holds"]["mean_step_ms"] == {"saga": 1500.0}


def claims(refused: int) -> str:
    return f"""# HELP api_seat_claims_total Hold attempts by what the seats' Redis claims answered
# TYPE api_seat_claims_total counter
api_seat_claims_total{{outcome="refused"}} {refused}
api_seat_claims_total{{outcome="claimed"}} 5
"""


def test_refusals_by_the_claim_script() -> None:
    before = parse(histogram(1, 0, 0, 0.001) + claims(12))
    after = parse(histogram(2, 0, 0, 0.002) + claims(60))

    assert summarize(before, after)["holds"]["refused_by_claim_script"] == 48


def test_seat_map_reads_by_where_they_were_served_from() -> None:
    def reads(hits: int, stale: int, rebuilt: int) -> str:
        return f"""# HELP api_seatmap_reads_total Seat-map reads by where they were served from
# TYPE api_seatmap_reads_total counter
api_seatmap_reads_total{{source="response_cache"}} {hits}
api_seatmap_reads_total{{source="response_cache_stale"}} {stale}
api_seatmap_reads_total{{source="rebuilt"}} {rebuilt}
"""

    before = parse(histogram(1, 0, 0, 0.001) + reads(10, 2, 1))
    after = parse(histogram(2, 0, 0, 0.002) + reads(70, 12, 4))

    assert summarize(before, after)["holds"]["seat_map_reads"] == {
        "rebuilt": 3,
        "response_cache": 60,
        "response_cache_stale": 10,
    }
