"""The benchmark's figures from what its harness recorded: pure functions over plain data.

Everything ``docs/benchmarks.md`` publishes is computed here, from the replica
snapshots (``/proc`` CPU and RSS, ``/metrics``, Redis ``INFO``), the sessions'
``/debug/sessions``, the client processes' JSON and the publishers' records;
``tests/unit/test_load_analysis.py`` checks them on small hand-made inputs.

Latency (client side): every publisher burst (all layers of a tick) has the
``computed_at`` of its frames; a data patch belongs to the latest burst that
started before it arrived, and its latency is arrival of its last byte minus
the *earliest* ``computed_at`` of that burst (an upper bound: the other frames
of the burst were computed up to the burst's span later). Valid while
latencies stay under the frame period (1 s).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

#: A lean step holds when its client-side p95 latency is at most this, and nothing is skipped.
P95_TARGET_S = 0.25


@dataclass
class Snapshot:
    at: float
    replica_cpu: dict[int, float]
    loop_cpu: dict[int, float]
    rss: dict[int, float]
    metrics: dict[int, dict[str, float]]
    redis_info: dict[str, Any]
    redis_cpu: float
    clients_cpu: float
    publishers_cpu: float


def window_figures(
    a: Snapshot, b: Snapshot, pid: int, sessions: int, published: int
) -> dict[str, Any]:
    """The figures of one measurement window of replica ``pid`` between two snapshots;
    ``published``: frame events appended to ``ns:frames`` meanwhile."""
    span = b.at - a.at
    ma, mb = a.metrics[pid], b.metrics[pid]

    def delta(name: str) -> float:
        return mb.get(name, 0.0) - ma.get(name, 0.0)

    delivered = delta("livegrid_replica_frames_delivered_total")
    fetched = delta("livegrid_replica_frames_fetched_total")
    loop = b.loop_cpu[pid] - a.loop_cpu[pid]
    tick = delta("livegrid_replica_session_tick_seconds_sum")
    cmd = commandstats(b.redis_info, a.redis_info)
    window = {
        "sessions": sessions,
        "window": [a.at, b.at],
        "seconds": span,
        "frames_published": published,
        "frames_fetched": fetched,
        "redis_reads_per_frame": fetched / published if published else math.nan,
        "frames_delivered": delivered,
        "loop_cpu_pct": 100 * loop / span,
        "replica_cpu_pct": 100 * (b.replica_cpu[pid] - a.replica_cpu[pid]) / span,
        "loop_ms_per_layer_frame": 1e3 * loop / delivered if delivered else math.nan,
        "tick_ms_per_layer_frame": 1e3 * tick / delivered if delivered else math.nan,
        "rss_mib": b.rss[pid],
        "server_p95_s": histogram_quantile(mb, ma, 0.95),
        "redis_ops_per_s": (
            b.redis_info["total_commands_processed"] - a.redis_info["total_commands_processed"]
        )
        / span,
        "redis_cpu_pct": 100 * (b.redis_cpu - a.redis_cpu) / span,
        "redis_get_per_frame": cmd.get("get", 0) / published if published else math.nan,
        "clients_cpu_pct": 100 * (b.clients_cpu - a.clients_cpu) / span,
        "publishers_cpu_pct": 100 * (b.publishers_cpu - a.publishers_cpu) / span,
        "sessions_reaped": mb.get("livegrid_replica_sessions_reaped_total", 0.0),
    }
    return window


def skipped_server(
    described: list[dict[str, Any]], events: list[tuple[str, int]]
) -> dict[str, Any]:
    """Frames of ``events`` (layer, frame_seq) that a session (``/debug/sessions``) was
    not given; ``_per_session`` keeps (missing, presents deferred) per session id."""
    wanted: dict[str, set[int]] = defaultdict(set)
    for layer, frame_seq in events:
        wanted[layer].add(frame_seq)
    per_session: dict[str, tuple[int, int]] = {}
    for session in described:
        frames = session.get("frames", {})
        missing = sum(len(seqs - set(frames.get(lid, []))) for lid, seqs in wanted.items())
        per_session[session["id"]] = (missing, session.get("presents_deferred", 0))
    return {**_skipped(per_session), "_per_session": per_session}


def _skipped(per_session: dict[str, tuple[int, int]]) -> dict[str, int]:
    missing = [m for m, _ in per_session.values()]
    return {
        "skipped_server": sum(missing),
        "skipped_server_worst_session": max(missing, default=0),
        "sessions_described": len(per_session),
    }


def split_slow(window: dict[str, Any], clients: list[dict[str, Any]]) -> None:
    """Server-side skipped frames of the normal sessions only; the slow ones apart."""
    per_session: dict[str, tuple[int, int]] = window.pop("_per_session", {})
    slow = [s for r in clients for s in r["sessions"] if s.get("slow") and s["connected_ns"]]
    slow_ids = {s["session_id"] for s in slow}
    window.update(_skipped({k: v for k, v in per_session.items() if k not in slow_ids}))
    t0, t1 = (int(t * 1e9) for t in window["window"])
    slow = [s for s in slow if s["connected_ns"] <= t0]  # open during the whole window
    if not slow:
        return
    window["slow"] = {
        "sessions": len(slow),
        "still_open": sum(1 for s in slow if not s["dropped_ns"]),
        "skipped_server": sum(per_session.get(i, (0, 0))[0] for i in slow_ids),
        "presents_deferred": sum(per_session.get(i, (0, 0))[1] for i in slow_ids),
        "layer_frames_received": sum(c for s in slow for t, _, c in s["data"] if t0 <= t < t1),
        "kib_per_s": sum(b for s in slow for t, b, _ in s["data"] if t0 <= t < t1)
        / 1024
        / window["seconds"]
        / len(slow),
    }


def commandstats(b: dict[str, Any], a: dict[str, Any]) -> dict[str, float]:
    out = {}
    for key, value in b.items():
        if key.startswith("cmdstat_") and isinstance(value, dict):
            before = a.get(key, {}).get("calls", 0)
            out[key.removeprefix("cmdstat_")] = value["calls"] - before
    return out


def histogram_quantile(mb: dict[str, float], ma: dict[str, float], q: float) -> float:
    """Upper bucket bound of the ``q`` quantile of the flush-latency histogram in a window."""
    prefix = "livegrid_replica_flush_latency_seconds_bucket"
    buckets: list[tuple[float, float]] = []
    for key, value in mb.items():
        if key.startswith(prefix):
            bound = float(key.split('le="')[1].rstrip('"}'))
            buckets.append((bound, value - ma.get(key, 0.0)))
    buckets.sort()
    if not buckets or buckets[-1][1] <= 0:
        return math.nan
    total = buckets[-1][1]
    for bound, count in buckets:
        if count >= q * total:
            return bound
    return math.inf


def _bursts(records: dict[str, list[dict[str, Any]]], period_s: float) -> list[tuple[int, int]]:
    """(earliest computed_at, latest computed_at) of each publisher tick, in ns, sorted."""
    ticks: dict[int, list[int]] = defaultdict(list)
    period_ns = int(period_s * 1e9)
    for frames in records.values():
        for frame in frames:
            # Frames are computed just after their tick's due time: round to the nearest tick.
            ticks[(frame["computed_at"] + period_ns // 2) // period_ns].append(frame["computed_at"])
    return sorted((min(v), max(v)) for v in ticks.values())


def add_client_side(
    window: dict[str, Any],
    clients: list[dict[str, Any]],
    records: dict[str, list[dict[str, Any]]],
    period_s: float = 1.0,
) -> None:
    """Latency, received layer-frames and bytes of the sessions open during ``window``."""
    t0, t1 = (int(t * 1e9) for t in window["window"])
    layers = len(records)
    bursts = _bursts(records, period_s)
    inside = [i for i, (start, _) in enumerate(bursts) if t0 <= start < t1 - 2e9]
    if not inside:
        return
    first, last = inside[0], inside[-1]
    lo = bursts[first][0]
    hi = bursts[last + 1][0] if last + 1 < len(bursts) else bursts[last][0] + int(period_s * 1e9)
    starts = [start for start, _ in bursts]
    latencies: list[float] = []
    received = expected = nbytes = frames_total = 0
    sessions = 0
    worst_missing = 0
    for result in clients:
        for session in result["sessions"]:
            if session["error"] or session["stalled"] or session.get("slow"):
                continue
            if not session["connected_ns"]:
                continue
            if session["connected_ns"] > t0:
                continue
            sessions += 1
            got = 0
            for received_ns, size, count in session["data"]:
                if not lo <= received_ns < hi:
                    continue
                burst = _latest_before(starts, received_ns)
                latencies.extend([(received_ns - starts[burst]) / 1e9] * count)
                got += count
                nbytes += size
            frames_total += got
            want = len(inside) * layers
            received += got
            expected += want
            worst_missing = max(worst_missing, want - got)
    latencies.sort()
    window.update(
        {
            "client_sessions": sessions,
            "bursts": len(inside),
            "burst_span_ms": statistics.median((e - s) / 1e6 for s, e in bursts[first : last + 1]),
            "layer_frames_expected": expected,
            "layer_frames_received": received,
            "skipped_client": max(expected - received, 0),
            "skipped_client_worst_session": max(worst_missing, 0),
            "bytes_per_layer_frame": nbytes / frames_total if frames_total else math.nan,
            "bytes_per_session_grid_frame": nbytes / (sessions * len(inside)) if sessions else 0,
            "latency_s": {
                "p50": _quantile(latencies, 0.50),
                "p95": _quantile(latencies, 0.95),
                "p99": _quantile(latencies, 0.99),
                "max": latencies[-1] if latencies else math.nan,
                "samples": len(latencies),
            },
        }
    )


def _latest_before(starts: list[int], t: int) -> int:
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= t:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    return values[min(int(q * len(values)), len(values) - 1)]


def worker_compute(records: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Median compute, encode and publish ms per plotter and frame shape, from the publishers."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for frames in records.values():
        for frame in frames:
            groups[(frame["plotter"], frame["shape"])].append(frame)
    out = []
    for (plotter, shape), frames in sorted(groups.items()):
        total = [f["compute_ms"] + f["encode_ms"] + f["publish_ms"] for f in frames]
        out.append(
            {
                "plotter": plotter,
                "shape": shape,
                "frames": len(frames),
                "compute_ms": statistics.median(f["compute_ms"] for f in frames),
                "encode_ms": statistics.median(f["encode_ms"] for f in frames),
                "publish_ms": statistics.median(f["publish_ms"] for f in frames),
                "total_ms": statistics.median(total),
                "frame_kib": statistics.median(f["bytes"] for f in frames) / 1024,
            }
        )
    return out


def knee(windows: list[dict[str, Any]]) -> str:
    lean = [w for w in windows if w["mode"] == "lean"]
    ok = [w for w in lean if _holds(w)]
    failed = [w for w in lean if not _holds(w)]
    best = max((w["sessions"] for w in ok), default=0)
    first_fail = min((w["sessions"] for w in failed), default=None)
    if first_fail is None:
        return f"held at every step up to {best} sessions (no knee found below it)"
    return f"holds at {best} sessions, fails at {first_fail}"


def _holds(w: dict[str, Any]) -> bool:
    p95 = w.get("latency_s", {}).get("p95", math.inf)
    return bool(
        p95 <= P95_TARGET_S and w["skipped_server"] == 0 and w.get("skipped_client", 1) == 0
    )
