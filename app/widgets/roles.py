"""Controls a session's role may not use: disabled, with a tooltip saying why.

Only the look: ``Actions`` refuses the change on the server whatever the browser sends.
"""

from __future__ import annotations

from html import escape

import panel as pn

from app.actions import Actions
from app.auth.roles import Permission


def disable_unless(actions: Actions, permission: Permission, *buttons: pn.widgets.Button) -> None:
    if actions.may(permission):
        return
    # Panel renders a description as Markdown into HTML: the user name in it stays text.
    reason = escape(actions.identity.refusal(permission))
    for button in buttons:
        button.disabled = True
        button.description = reason
