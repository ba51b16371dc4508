"""Steps the end-to-end tests share: opening tabs and reading what each tab's session showed."""

from __future__ import annotations

from collections.abc import Iterable

from e2e_browser import BrowserProcess, Tab
from e2e_cluster import Cluster, wait_until


def open_tabs(cluster: Cluster, browser: BrowserProcess, urls: dict[str, str]) -> list[Tab]:
    """One tab per ``name → url``, each returned once its session is live on a replica."""
    tabs = [browser.open(url, name) for name, url in urls.items()]
    for tab in tabs:
        wait_until(lambda tab=tab: cluster.session_of(tab.tab_id()), 15, f"{tab.name}'s session")
    return tabs


def open_five(cluster: Cluster, browser: BrowserProcess) -> list[Tab]:
    """Three tabs on replica A and two on replica B."""
    a, b = cluster.replicas["a"].url, cluster.replicas["b"].url
    return open_tabs(cluster, browser, {"a1": a, "a2": a, "a3": a, "b1": b, "b2": b})


def delivered(cluster: Cluster, tab: Tab) -> dict[str, list[int]]:
    """The frame seqs the tab's session put on its plots, per layer (``/debug/sessions``)."""
    frames: dict[str, list[int]] = cluster.session_of(tab.tab_id()).get("frames", {})
    return frames


def all_delivered_after(cluster: Cluster, tabs: list[Tab], seqs: dict[str, int]) -> bool:
    """Whether each tab's session showed a frame newer than ``seqs[layer]`` of every layer."""
    sessions = cluster.sessions_by_tab()
    for tab in tabs:
        frames = sessions.get(tab.tab_id(), {}).get("frames", {})
        if not all(any(n > seq for n in frames.get(layer, [])) for layer, seq in seqs.items()):
            return False
    return True


def grew(
    now: dict[str, list[int]], before: dict[str, list[int]], layers: Iterable[str], by: int
) -> bool:
    """Whether each of ``layers`` got at least ``by`` frames newer than ``before``'s last."""
    for layer in layers:
        last = (before.get(layer) or [0])[-1]
        if len([seq for seq in now.get(layer, []) if seq > last]) < by:
            return False
    return True


def keeps_updating(
    cluster: Cluster, tabs: list[Tab], layers: Iterable[str], what: str, timeout: float = 20
) -> None:
    """Wait until every tab showed two new frames of each of ``layers``: its session put
    them on its plots and its page received them."""
    layers = list(layers)
    start = [delivered(cluster, tab) for tab in tabs]
    shown = [tab.updates() for tab in tabs]
    wait_until(
        lambda: all(
            grew(delivered(cluster, tab), before, layers, 2)
            and tab.updates() >= seen + 2 * len(layers)
            for tab, before, seen in zip(tabs, start, shown, strict=True)
        ),
        timeout,
        what,
        lambda: {
            tab.name: {"page updates": tab.updates() - seen, "frames": delivered(cluster, tab)}
            for tab, seen in zip(tabs, shown, strict=True)
        },
    )


def badges_in(tab: Tab, cell: str) -> list[str]:
    """The layer ids of the badges in the header of ``cell`` (e.g. "cell-0-1"), in order."""
    return list(
        tab.page.eval_on_selector_all(
            f"[data-testid={cell}] [data-testid^=layer-state-]",
            "els => els.map(e => e.dataset.testid.slice(12))",
        )
    )
