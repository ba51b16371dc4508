"""A small browser-side component: the tab's identity, visibility, place and reconnects.

``tab_id`` lives in the tab's ``sessionStorage``, so it survives a reload and a
reconnect to another replica: the session adopts the notification cursor stored
under it (``ns:cursor:{tab_id}``) and no toast is lost or shown twice.
``screen`` is the tab on screen (a grid id or a side tab's name); the browser
keeps it in ``sessionStorage`` too and reports it to the next session of the
same tab, which shows that tab again. ``visible`` follows
``document.visibilityState``: a hidden browser tab gets no plot updates until it
is shown again. ``beats`` grows every few seconds while the page lives.

Reconnects: when the websocket to the replica is lost, Panel shows the toast
:data:`RECONNECTING`, the component's element turns ``data-state="reconnecting"``
(``data-testid="connection"``) and it polls ``readyz`` on the page's own
origin, i.e. through the load balancer; as soon as a ready replica answers, it
reloads the page, which opens a new session there. Bokeh's own reconnect is
turned off (``app/server.py``): it re-pulls the document into the page, and
BokehJS 3.9 drops the binary buffers of that document (``replace_with_json``
ignores them), so a page showing plots cannot be restored that way.
"""

from __future__ import annotations

import param
from panel.custom import JSComponent

BEAT_INTERVAL_MS = 5_000
#: How often a page that lost its replica asks whether one is ready again.
RECONNECT_POLL_MS = 1_000
#: The toast a page shows from losing its replica until it reloads.
RECONNECTING = "The connection to the dashboard was lost; reconnecting…"


class Beacon(JSComponent):
    tab_id = param.String(default="", doc="Stable id of the browser tab.")
    screen = param.String(default="", doc="The tab on screen: a grid id or a side tab's name.")
    visible = param.Boolean(default=True, doc="Whether the browser tab is visible.")
    beats = param.Integer(default=0, doc="Heartbeats the page has sent.")

    _esm = f"""
export function render({{ model, view }}) {{
  let id = window.sessionStorage.getItem("livegrid-tab");
  if (!id) {{
    id = (window.crypto && window.crypto.randomUUID)
      ? window.crypto.randomUUID()
      : Math.random().toString(36).slice(2) + Date.now().toString(36);
    window.sessionStorage.setItem("livegrid-tab", id);
  }}
  model.tab_id = id;
  const saved = window.sessionStorage.getItem("livegrid-screen");
  if (saved && saved !== model.screen) {{
    model.screen = saved;
  }}
  const remember = () => {{
    if (model.screen) window.sessionStorage.setItem("livegrid-screen", model.screen);
  }};
  model.on("screen", remember);
  remember();
  const report = () => {{ model.visible = document.visibilityState !== "hidden"; }};
  document.addEventListener("visibilitychange", report);
  report();
  const timer = setInterval(() => {{ model.beats = model.beats + 1; }}, {BEAT_INTERVAL_MS});

  const el = document.createElement("span");
  el.style.display = "none";
  el.dataset.testid = "connection";
  el.dataset.state = "connected";
  let polling = null;
  const poll = async () => {{
    try {{
      const answer = await fetch(new URL("readyz", window.location.href), {{ cache: "no-store" }});
      if (answer.ok) {{
        window.location.reload();
        return;
      }}
    }} catch (error) {{
      // No replica reachable yet: ask again.
    }}
    polling = setTimeout(poll, {RECONNECT_POLL_MS});
  }};
  const lost = () => {{
    if (polling !== null) return;
    el.dataset.state = "reconnecting";
    polling = setTimeout(poll, 0);
  }};
  const doc = view.model.document;
  if (doc != null) doc.on_event("connection_lost", lost);

  model.on("remove", () => {{
    clearInterval(timer);
    document.removeEventListener("visibilitychange", report);
  }});
  return el;
}}
"""
