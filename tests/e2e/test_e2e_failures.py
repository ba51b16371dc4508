"""Losing any one process costs the tabs nothing but a moment.

Processes are killed by PID (``kill -9``) while five tabs watch; every wait is
bounded, and the recovery bounds (lease ttl + 2 s, the stale
timeout) are asserted from the moment of the kill.
"""

from __future__ import annotations

import time

import pytest
from e2e_browser import BrowserProcess
from e2e_cluster import FAST_FAILURE_ENV, wait_until
from e2e_steps import all_delivered_after, delivered, keeps_updating, open_five, open_tabs
from e2e_workspaces import small_workspace

from livegrid.models import JobSpec
from livegrid.stores.jobs import JobStore

pytestmark = pytest.mark.e2e

LAYERS = ("img", "mon")
LAYER_OF_JOB = {"det": "img", "mon": "mon"}
RATES = {"detector_panel_0": 2, "monitor_1": 2, "temperature": 1}
LEASE_TTL_S = int(FAST_FAILURE_ENV["LIVEGRID_LEASE_TTL_MS"]) / 1000
STALE_AFTER_S = float(FAST_FAILURE_ENV["LIVEGRID_STALE_AFTER_S"])
HEARTBEAT_S = float(FAST_FAILURE_ENV["LIVEGRID_HEARTBEAT_INTERVAL_S"])


def _toasted_once_everywhere(tabs, texts: list[str]) -> None:
    for tab in tabs:
        for text in texts:
            assert tab.toast_count(text) == 1, (tab.name, text, tab.toasts())


def test_a_killed_worker_costs_each_layer_at_most_lease_ttl_plus_2_s(start_cluster, browser):
    # 4 Hz: a taken-over job's first frame comes a quarter of a second after the claim.
    rates = {**RATES, "detector_panel_0": 4, "monitor_1": 4}
    cluster = start_cluster(workspace=small_workspace(), rates=rates)
    tabs = open_five(cluster, browser)

    def spread() -> dict[str, str] | None:
        held = {job: cluster.job_status(job).worker for job in LAYER_OF_JOB}
        return held if len(set(held.values()) - {""}) == 2 else None

    holders = wait_until(spread, 30, "each worker to hold one job")
    keeps_updating(cluster, tabs, LAYERS, "every tab updating before the kill")

    # A worker that handed a job over does not claim it back for 3 lease ttls (no
    # ping-pong); if the pool balanced itself at start, kill the giver, so that the
    # survivor may take over at once, as in a pool that has been running for a while.
    moved = [n["message"] for n in cluster.notifications() if "moved from worker" in n["message"]]
    givers = {message.split("moved from worker ")[1].split(" ")[0] for message in moved}
    victim = givers.pop() if givers else holders["det"]
    affected = [job for job, worker in holders.items() if worker == victim]
    cluster.workers[victim].kill()
    killed, killed_at = time.monotonic(), time.time()
    at_kill = cluster.layer_seqs(LAYERS)
    deadline = LEASE_TTL_S + 2

    def resumed() -> bool:
        assert all(state != "error" for state in cluster.layer_states(LAYERS).values())
        assert not any(tab.errors() for tab in tabs), "a tab shows a layer in ERROR"
        published = cluster.layer_seqs(LAYERS)
        return all(published[lid] > at_kill[lid] for lid in LAYERS) and all_delivered_after(
            cluster, tabs, at_kill
        )

    wait_until(
        resumed,
        deadline,
        f"every layer on every tab to update again within {deadline} s",
        lambda: {
            "at kill": at_kill,
            "published": cluster.layer_seqs(LAYERS),
            "taken over (s after the kill)": [
                round(int(n["ts"]) / 1e9 - killed_at, 2)
                for n in cluster.notifications()
                if "taken over" in n["message"]
            ],
            "tabs": {tab.name: delivered(cluster, tab) for tab in tabs},
        },
    )
    print(f"every tab updated every layer {time.monotonic() - killed:.2f} s after the kill")

    taken_over = [f"Job {job} was taken over by worker" for job in affected]
    wait_until(
        lambda: all(tab.toast_count(text) for tab in tabs for text in taken_over),
        10,
        "the taken-over toasts in every tab",
    )
    # A later notification is a barrier: a repeat of a taken-over toast would come before it.
    JobStore(cluster.client, cluster.keys).reset("mon", user="e2e")
    barrier = "Job mon was reset."
    wait_until(lambda: all(tab.toast_count(barrier) for tab in tabs), 10, "the barrier toast")
    _toasted_once_everywhere(tabs, taken_over)
    for job in LAYER_OF_JOB:
        notices = [
            n for n in cluster.notifications() if n["job"] == job and "taken over" in n["message"]
        ]
        assert len(notices) == (1 if job in affected else 0), (job, notices)
    keeps_updating(cluster, tabs, LAYERS, "every tab updating after the takeover")


def test_tabs_of_a_killed_replica_reload_on_another_and_miss_no_notification(
    start_cluster, browser
):
    # A short stale timeout makes the notification cursors' lifetime (4 x stale) short
    # enough to outlive it before the kill: a quiet tab must not lose its cursor. After the
    # kill the same lifetime must cover the test's own steps until the tabs reload on B
    # (two notifications, a job start, the load balancer's switch): 8 s was too tight on
    # a loaded machine, 16 s is not.
    stale_s = 4
    cluster = start_cluster(
        workspace=small_workspace(), rates=RATES, env={"LIVEGRID_STALE_AFTER_S": str(stale_s)}
    )
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    front = cluster.front.url
    tabs = open_tabs(
        cluster,
        browser,
        {"front1": front, "front2": front, "front3": front, "b1": b.url, "b2": b.url},
    )
    moved, stayed = tabs[:3], tabs[3:]
    assert [tab.replica() for tab in tabs] == [a.replica_id] * 3 + [b.replica_id] * 2
    moved[2].select_tab("Jobs")
    keeps_updating(cluster, [*moved[:2], *stayed], LAYERS, "every grid tab updating")
    jobs = JobStore(cluster.client, cluster.keys)
    jobs.reset("mon", user="e2e")
    before = "Job mon was reset."
    wait_until(
        lambda: all(tab.toast_count(before) for tab in tabs),
        10,
        "a toast before the kill",
        lambda: {tab.name: tab.toasts() for tab in tabs},
    )
    quiet_since = time.monotonic()
    cursors = [cluster.keys.session_cursor(tab.tab_id()) for tab in moved]
    wait_until(
        lambda: time.monotonic() - quiet_since > 4 * stale_s + 1,
        4 * stale_s + 5,
        "the tabs to stay quiet longer than a notification cursor lives unless kept alive",
    )
    assert all(cluster.client.exists(key) for key in cursors), "a live tab lost its cursor"

    # The load balancer takes a moment to notice: no replica answers the front meanwhile,
    # so the notifications below are issued while the moved tabs have no session at all.
    cluster.front.backends = []
    a.kill()
    wait_until(
        lambda: all(tab.connection_state() == "reconnecting" for tab in moved),
        10,
        "the moved tabs to notice that their replica is gone",
    )
    jobs.reset("det", user="e2e")
    jobs.start(JobSpec(id="temp", workflow="history", source="temperature"), user="e2e")
    wait_until(
        lambda: (
            cluster.notification_seq("det", "was reset")
            and cluster.notification_seq("temp", "started")
        ),
        10,
        "two notifications while the moved tabs have no session",
    )
    cluster.front.backends = [b.port]

    wait_until(
        lambda: all(tab.replica() == b.replica_id for tab in moved),
        20,
        "the moved tabs to show replica B",
    )
    wait_until(
        lambda: [tab.active_tab() for tab in moved] == ["Main", "Main", "Jobs"],
        10,
        "each moved tab back on the tab it showed",
        lambda: [tab.active_tab() for tab in moved],
    )
    keeps_updating(cluster, [*moved[:2], *stayed], LAYERS, "every grid tab updating on B")
    jobs.stop("temp", user="e2e")
    after = "Job temp stopped."
    wait_until(lambda: all(tab.toast_count(after) for tab in tabs), 10, "a toast after")
    _toasted_once_everywhere(
        tabs, [before, "Job det was reset.", "Job temp started on worker", after]
    )
    assert all(tab.connection_state() == "connected" for tab in moved)
    assert [tab.loads() for tab in stayed] == [1, 1], "a tab of replica B reloaded"


def test_a_redis_restart_shows_reconnecting_then_live_data_without_reload(start_cluster, browser):
    cluster = start_cluster(workspace=small_workspace(), rates=RATES)
    tabs = open_five(cluster, browser)
    keeps_updating(cluster, tabs, LAYERS, "every tab updating before the restart")
    loads = [tab.loads() for tab in tabs]

    cluster.redis.stop()
    wait_until(
        lambda: all(tab.redis_state() == "reconnecting" for tab in tabs),
        15,
        "every tab to show that Redis is reconnecting",
    )
    cluster.redis.start()
    wait_until(
        lambda: all(tab.redis_state() == "connected" for tab in tabs),
        20,
        "every tab to show that Redis is connected again",
    )
    keeps_updating(cluster, tabs, LAYERS, "live data in every tab after the restart", timeout=30)
    assert all(state == "ready" for state in cluster.layer_states(LAYERS).values())
    assert not any(tab.errors() for tab in tabs)
    assert [tab.loads() for tab in tabs] == loads, "a tab reloaded"


def test_tabs_of_a_killed_browser_leave_the_system_tab_within_the_stale_timeout(
    start_cluster, browser, launch_browser
):
    cluster = start_cluster(workspace=small_workspace(), rates=RATES)
    a, b = cluster.replicas["a"], cluster.replicas["b"]
    doomed: BrowserProcess = launch_browser()
    lost = open_tabs(cluster, doomed, {"doomed1": a.url, "doomed2": b.url})
    lost_ids = {cluster.session_of(tab.tab_id())["id"] for tab in lost}
    (observer,) = open_tabs(cluster, browser, {"observer": a.url})
    observer.select_tab("System")
    mine = cluster.session_of(observer.tab_id())["id"]

    def listed() -> set[str]:
        return set(
            observer.page.eval_on_selector_all(
                "[data-testid=lg-sessions-table] tr[data-id]", "rows => rows.map(r => r.dataset.id)"
            )
        )

    wait_until(lambda: listed() == {*lost_ids, mine}, 15, "three sessions in the System tab")

    doomed.kill()
    killed = time.monotonic()
    # Reaped once the last heartbeat (at most one interval before the kill) is older than
    # the stale timeout; the System tab shows the registry as read in the next heartbeat.
    bound = STALE_AFTER_S + 3 * HEARTBEAT_S
    wait_until(lambda: listed() == {mine}, bound, f"the dead tabs to leave within {bound} s")
    print(f"the dead tabs left the System tab {time.monotonic() - killed:.2f} s after the kill")
    live = {m.decode() for m in cluster.client.zrange(cluster.keys.sessions, 0, -1)}
    assert live == {mine}
    wait_until(
        lambda: not any(s["id"] in lost_ids for r in (a, b) for s in r.sessions()),
        10,
        "the replicas to tear the dead sessions down",
    )
