"""An invisible browser-side component: the tab's identity, visibility and heartbeat.

``tab_id`` lives in the tab's ``sessionStorage``, so it survives a reload and a
reconnect to another replica: the session adopts the notification cursor stored
under it (``ns:cursor:{tab_id}``) and no toast is lost or shown twice.
``visible`` follows ``document.visibilityState``: a hidden browser tab gets no
plot updates until it is shown again. ``beats`` grows every few seconds while
the page lives.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

BEAT_INTERVAL_MS = 5_000


class Beacon(JSComponent):
    tab_id = param.String(default="", doc="Stable id of the browser tab.")
    visible = param.Boolean(default=True, doc="Whether the browser tab is visible.")
    beats = param.Integer(default=0, doc="Heartbeats the page has sent.")

    _esm = f"""
export function render({{ model }}) {{
  let id = window.sessionStorage.getItem("livegrid-tab");
  if (!id) {{
    id = (window.crypto && window.crypto.randomUUID)
      ? window.crypto.randomUUID()
      : Math.random().toString(36).slice(2) + Date.now().toString(36);
    window.sessionStorage.setItem("livegrid-tab", id);
  }}
  model.tab_id = id;
  const report = () => {{ model.visible = document.visibilityState !== "hidden"; }};
  document.addEventListener("visibilitychange", report);
  report();
  const timer = setInterval(() => {{ model.beats = model.beats + 1; }}, {BEAT_INTERVAL_MS});
  model.on("remove", () => {{
    clearInterval(timer);
    document.removeEventListener("visibilitychange", report);
  }});
  const el = document.createElement("span");
  el.style.display = "none";
  el.dataset.testid = "beacon";
  return el;
}}
"""
