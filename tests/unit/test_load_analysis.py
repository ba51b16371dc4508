"""The benchmark's published figures (benchmarks/load_analysis.py) on hand-made inputs."""

from __future__ import annotations

import math
from typing import Any

import pytest

from benchmarks.load_analysis import (
    Snapshot,
    add_client_side,
    commandstats,
    histogram_quantile,
    knee,
    skipped_server,
    split_slow,
    window_figures,
    worker_compute,
)

S = 1_000_000_000  # ns per second
PID = 42
FLUSH = "livegrid_replica_flush_latency_seconds_bucket"


def _snapshot(at: float, *, loop: float, cpu: float, metrics: dict[str, float],
              commands: int, gets: int, redis_cpu: float = 0.0) -> Snapshot:  # fmt: skip
    return Snapshot(
        at=at,
        replica_cpu={PID: cpu},
        loop_cpu={PID: loop},
        rss={PID: 200.0 + at},
        metrics={PID: metrics},
        redis_info={"total_commands_processed": commands, "cmdstat_get": {"calls": gets}},
        redis_cpu=redis_cpu,
        clients_cpu=0.0,
        publishers_cpu=0.0,
    )


def test_window_figures_are_rates_and_costs_over_the_window() -> None:
    a = _snapshot(100.0, loop=1.0, cpu=2.0, commands=1000, gets=10, metrics={
        "livegrid_replica_frames_delivered_total": 100.0,
        "livegrid_replica_frames_fetched_total": 10.0,
        "livegrid_replica_session_tick_seconds_sum": 0.5,
        f'{FLUSH}{{le="0.1"}}': 0.0, f'{FLUSH}{{le="0.25"}}': 0.0, f'{FLUSH}{{le="+Inf"}}': 0.0,
    })  # fmt: skip
    b = _snapshot(110.0, loop=1.5, cpu=3.0, commands=2000, gets=30, redis_cpu=0.1, metrics={
        "livegrid_replica_frames_delivered_total": 1100.0,
        "livegrid_replica_frames_fetched_total": 30.0,
        "livegrid_replica_session_tick_seconds_sum": 0.9,
        f'{FLUSH}{{le="0.1"}}': 90.0, f'{FLUSH}{{le="0.25"}}': 100.0,
        f'{FLUSH}{{le="+Inf"}}': 100.0,
    })  # fmt: skip

    w = window_figures(a, b, PID, sessions=10, published=20)

    assert w["seconds"] == 10.0
    assert w["loop_cpu_pct"] == pytest.approx(5.0)
    assert w["replica_cpu_pct"] == pytest.approx(10.0)
    assert w["loop_ms_per_layer_frame"] == pytest.approx(0.5)  # 0.5 s over 1000 layer-frames
    assert w["tick_ms_per_layer_frame"] == pytest.approx(0.4)
    assert w["redis_reads_per_frame"] == pytest.approx(1.0)  # 20 fetched for 20 published
    assert w["redis_get_per_frame"] == pytest.approx(1.0)
    assert w["redis_ops_per_s"] == pytest.approx(100.0)
    assert w["redis_cpu_pct"] == pytest.approx(1.0)
    assert w["server_p95_s"] == 0.25  # 95 of 100 only below the 0.25 bound
    assert w["rss_mib"] == 310.0


def test_a_window_without_frames_has_no_per_frame_costs() -> None:
    a = _snapshot(0.0, loop=0.0, cpu=0.0, metrics={}, commands=0, gets=0)
    b = _snapshot(1.0, loop=0.1, cpu=0.1, metrics={}, commands=0, gets=0)

    w = window_figures(a, b, PID, sessions=1, published=0)

    assert math.isnan(w["loop_ms_per_layer_frame"])
    assert math.isnan(w["redis_reads_per_frame"])
    assert math.isnan(w["server_p95_s"])


def test_histogram_quantile_is_the_upper_bound_of_the_bucket_reaching_q() -> None:
    before = {
        f'{FLUSH}{{le="0.05"}}': 5.0,
        f'{FLUSH}{{le="0.5"}}': 5.0,
        f'{FLUSH}{{le="+Inf"}}': 5.0,
    }
    after = {
        f'{FLUSH}{{le="0.05"}}': 15.0,
        f'{FLUSH}{{le="0.5"}}': 25.0,
        f'{FLUSH}{{le="+Inf"}}': 25.0,
    }

    assert histogram_quantile(after, before, 0.5) == 0.05  # 10 of 20 in the window
    assert histogram_quantile(after, before, 0.95) == 0.5


def test_commandstats_counts_calls_per_command_in_the_window() -> None:
    before = {"cmdstat_get": {"calls": 3}}
    after = {"cmdstat_get": {"calls": 10}, "cmdstat_xread": {"calls": 4}, "uptime": 9}

    assert commandstats(after, before) == {"get": 7, "xread": 4}


def test_frames_a_session_was_not_given_count_as_skipped_server_side() -> None:
    events = [("img", 1), ("img", 2), ("lines", 1)]
    described = [
        {"id": "s1", "frames": {"img": [1, 2], "lines": [1]}},
        {"id": "s2", "frames": {"img": [2]}, "presents_deferred": 4},
    ]

    figures = skipped_server(described, events)

    assert figures["skipped_server"] == 2
    assert figures["skipped_server_worst_session"] == 2
    assert figures["sessions_described"] == 2
    assert figures["_per_session"] == {"s1": (0, 0), "s2": (2, 4)}


def test_slow_sessions_are_counted_apart_from_the_others() -> None:
    window: dict[str, Any] = {"window": [10.0, 20.0], "seconds": 10.0, **skipped_server(
        [{"id": "fast", "frames": {}}, {"id": "slow", "frames": {}, "presents_deferred": 7}],
        [("img", 1)],
    )}  # fmt: skip
    clients = [{"sessions": [
        {"session_id": "slow", "slow": True, "connected_ns": 5 * S, "dropped_ns": 0,
         "data": [(12 * S, 2048, 1), (25 * S, 9999, 1)]},
    ]}]  # fmt: skip

    split_slow(window, clients)

    assert window["skipped_server"] == 1  # the fast session's only
    assert window["slow"] == {
        "sessions": 1, "still_open": 1, "skipped_server": 1, "presents_deferred": 7,
        "layer_frames_received": 1, "kib_per_s": pytest.approx(0.2),
    }  # fmt: skip


def _records(*burst_starts_s: float) -> dict[str, list[dict[str, Any]]]:
    """Two layers per publisher tick, the second computed 10 ms after the first."""
    return {
        "a": [{"computed_at": int(t * S)} for t in burst_starts_s],
        "b": [{"computed_at": int(t * S) + 10_000_000} for t in burst_starts_s],
    }


def _session(data: list[tuple[int, int, int]], **fields: Any) -> dict[str, Any]:
    return {"error": "", "stalled": False, "connected_ns": 1 * S, "data": data, **fields}


def test_latency_is_arrival_minus_the_earliest_computed_at_of_the_latest_burst() -> None:
    window: dict[str, Any] = {"window": [10.0, 14.0]}
    data = [(10 * S + 50_000_000, 2000, 2), (11 * S + 100_000_000, 2000, 2)]

    add_client_side(window, [{"sessions": [_session(data)]}], _records(10, 11, 12, 13))

    assert window["bursts"] == 2  # those starting in [10 s, 14 s - 2 s)
    assert window["burst_span_ms"] == pytest.approx(10.0)
    assert window["layer_frames_expected"] == window["layer_frames_received"] == 4
    assert window["skipped_client"] == 0
    assert window["bytes_per_layer_frame"] == 1000
    latency = window["latency_s"]
    assert (latency["p50"], latency["max"], latency["samples"]) == (
        pytest.approx(0.1), pytest.approx(0.1), 4,
    )  # fmt: skip
    assert latency["p95"] == pytest.approx(0.1)


def test_frames_a_session_did_not_receive_count_as_skipped_client_side() -> None:
    window: dict[str, Any] = {"window": [10.0, 14.0]}
    sessions = [
        _session([(10 * S + 50_000_000, 2000, 2)]),  # nothing from the second burst
        _session([], stalled=True),  # stalled, slow, failed and late sessions do not count
        _session([], connected_ns=11 * S),
    ]

    add_client_side(window, [{"sessions": sessions}], _records(10, 11, 12, 13))

    assert window["client_sessions"] == 1
    assert window["skipped_client"] == 2
    assert window["skipped_client_worst_session"] == 2


def test_worker_compute_reports_medians_per_plotter_and_shape() -> None:
    frame = {"plotter": "image", "shape": "256x256", "encode_ms": 1.0, "publish_ms": 1.0}
    records = {"img": [
        {**frame, "compute_ms": c, "bytes": 1024 * k} for c, k in [(1.0, 1), (3.0, 2), (8.0, 3)]
    ]}  # fmt: skip

    [row] = worker_compute(records)

    assert (row["frames"], row["compute_ms"], row["total_ms"], row["frame_kib"]) == (3, 3.0, 5.0, 2)


def _lean(sessions: int, p95: float, skipped: int = 0) -> dict[str, Any]:
    return {"mode": "lean", "sessions": sessions, "skipped_server": skipped,
            "skipped_client": 0, "latency_s": {"p95": p95}}  # fmt: skip


def test_the_knee_is_the_first_step_over_the_p95_target_or_with_skipped_frames() -> None:
    assert knee([_lean(10, 0.08), _lean(50, 0.2), _lean(100, 0.3)]) == (
        "holds at 50 sessions, fails at 100"
    )
    assert knee([_lean(10, 0.08), _lean(50, 0.1, skipped=1)]) == "holds at 10 sessions, fails at 50"
    assert (
        knee([_lean(10, 0.08)]) == "held at every step up to 10 sessions (no knee found below it)"
    )
