"""The benchmark's Markdown report (``results.md``) from its results (``results.json``)."""

from __future__ import annotations

import math
from typing import Any

from benchmarks import worker_publish


def _f(value: Any, fmt: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def markdown(results: dict[str, Any]) -> str:
    lines = [f"Machine: {results['machine']}", f"Command: `{results['command']}`", ""]
    if results.get("worker"):
        lines += ["### Worker: compute + publish of one image frame (`worker_publish.measure`)", ""]
        lines += [worker_publish.HEADER, *map(worker_publish.table_row, results["worker"]), ""]
    if results.get("worker_run"):
        lines += [
            "### Worker: frames of the run, per plotter and size (publishers)",
            "",
            "| plotter | frame shape | frames | compute ms | encode ms | publish ms "
            "| total ms (median) | frame KiB | frames/s per core |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results["worker_run"]:
            lines.append(
                f"| {r['plotter']} | {r['shape']} | {r['frames']} | {r['compute_ms']:.2f} | "
                f"{r['encode_ms']:.2f} | {r['publish_ms']:.2f} | {r['total_ms']:.2f} | "
                f"{r['frame_kib']:.0f} | {1000 / r['total_ms']:.0f} |"
            )
        lines.append("")
    windows = results.get("windows", [])
    if windows:
        base = {w["sessions"]: w for w in windows if w["mode"] == "baseline"}
        lines += [
            "### Replica: present cost, latency, skipped frames, per configuration",
            "",
            "| mode | sessions | loop ms / session / layer-frame (ratio to baseline) "
            "| tick ms / layer-frame | loop CPU % | replica CPU % | p50 / p95 / p99 / max ms "
            "| server p95 ≤ | skipped (server / client) | KiB / layer-frame | RSS MiB "
            "| Redis reads / frame | Redis ops/s | Redis CPU % | clients CPU % |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w in windows:
            lat = w.get("latency_s", {})
            ratio = ""
            ref = base.get(w["sessions"])
            if w["mode"] == "lean" and ref and w["loop_ms_per_layer_frame"]:
                x = ref["loop_ms_per_layer_frame"] / w["loop_ms_per_layer_frame"]
                ratio = f" ({x:.0f}x less)"
            cost = _f(w["loop_ms_per_layer_frame"], ".3f")
            lines.append(
                f"| {w['mode']} | {w['sessions']} | {cost}{ratio} | "
                f"{_f(w['tick_ms_per_layer_frame'], '.3f')} | {w['loop_cpu_pct']:.0f} | "
                f"{w['replica_cpu_pct']:.0f} | "
                f"{_f(lat.get('p50', math.nan) * 1e3, '.0f')} / "
                f"{_f(lat.get('p95', math.nan) * 1e3, '.0f')} / "
                f"{_f(lat.get('p99', math.nan) * 1e3, '.0f')} / "
                f"{_f(lat.get('max', math.nan) * 1e3, '.0f')} | "
                f"{_f(w['server_p95_s'] * 1e3, '.0f')} ms | "
                f"{w['skipped_server']} / {w.get('skipped_client', '-')} | "
                f"{_f(w.get('bytes_per_layer_frame', math.nan) / 1024, '.0f')} | "
                f"{w['rss_mib']:.0f} | {_f(w['redis_reads_per_frame'])} | "
                f"{w['redis_ops_per_s']:.0f} | {w['redis_cpu_pct']:.1f} | "
                f"{w['clients_cpu_pct']:.0f} |"
            )
        lines.append("")
        for mode in ("baseline", "lean"):
            ws = [w for w in windows if w["mode"] == mode]
            if len(ws) >= 2:
                slope = (ws[-1]["rss_mib"] - ws[0]["rss_mib"]) / (
                    ws[-1]["sessions"] - ws[0]["sessions"]
                )
                lines.append(
                    f"- {mode}: RSS per added session under load "
                    f"({ws[0]['sessions']} → {ws[-1]['sessions']}): {slope:.2f} MiB"
                )
            idle = next((w["idle"] for w in ws if "idle" in w), None)
            if idle:
                lines.append(
                    f"- {mode}: RSS per idle session ({idle['added_sessions']} opened after "
                    f"{idle['warm_sessions']}, no frames): {idle['mib_per_idle_session']:.2f} MiB"
                )
        lines.append("")
    if results.get("knee"):
        lines += [f"Knee: {results['knee']}", ""]
    if results.get("slow"):
        lines += [
            "### Slow clients: the other sessions with and without them",
            "",
            "| window | sessions | loop CPU % | p50 / p95 / p99 ms (others) "
            "| skipped, others (server / client) | slow sessions (open at the end of the run) "
            "| slow: layer-frames received / presents deferred since opened / KiB/s each |",
            "|---|---|---|---|---|---|---|",
        ]
        for w in results["slow"]:
            lat = w.get("latency_s", {})
            slow = w.get("slow", {})
            slow_cells = (
                f"{slow['sessions']} ({slow['still_open']}) | {slow['layer_frames_received']} / "
                f"{slow['presents_deferred']} / {slow['kib_per_s']:.0f}"
                if slow
                else "0 | -"
            )
            lines.append(
                f"| {w['mode']} | {w['sessions']} | {w['loop_cpu_pct']:.0f} | "
                + " / ".join(_f(lat.get(q, math.nan) * 1e3, ".0f") for q in ("p50", "p95", "p99"))
                + f" | {w['skipped_server']} / {w.get('skipped_client', '-')} | {slow_cells} |"
            )
        lines.append("")
    churn = results.get("churn")
    if churn:
        lines += [
            "### Churn",
            "",
            f"{churn['seconds']:.0f} s of batches of {churn['batch']} sessions held "
            f"{churn['hold_s']:.0f} s: {churn['opened']} opened, {churn['closed']} closed, "
            f"{churn['failed']} failed. RSS after the first batch "
            f"{churn.get('rss_after_first_batch_mib', math.nan):.0f} MiB, after "
            f"{churn.get('warmup_s', 0):.0f} s of warm-up churn {churn['rss_start_mib']:.0f} MiB"
            f" (start) → {churn['rss_end_mib']:.0f} MiB at the end "
            f"({churn['rss_change_pct']:+.1f} %). Panel views {churn.get('panel_views_start')}"
            f" → {churn.get('panel_views_end')}. Afterwards: "
            f"{churn['live_sessions_end']} live sessions, gauge {churn['sessions_gauge_end']:.0f},"
            f" {churn['redis_session_entries_end']} entries in ns:sessions.",
            "",
        ]
    return "\n".join(lines)
