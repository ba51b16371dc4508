"""The session's management tabs: jobs, workspace edits and the system overview.

Each tab is built once per session with its ``panel`` and refreshed from the
replica's :class:`~app.view.ReplicaView` on the session's IOLoop; refresh() is
cheap when its part of the view did not change and never touches Redis. Edits go
through :class:`~app.actions.Actions` on button clicks.
"""

from app.widgets.jobs import JobsTab
from app.widgets.manage import ManageTab
from app.widgets.system import SystemTab

__all__ = ["JobsTab", "ManageTab", "SystemTab"]
