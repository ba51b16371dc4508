"""Who may do what: the three roles, the actions that change shared state, the refusals.

Pure decisions: no Panel, Bokeh, Tornado or Redis. ``viewer`` watches (zoom, slice,
their own tab and view), ``operator`` also runs jobs and edits the workspace,
``admin`` also loads whole workspaces and reads the ``/debug/*`` endpoints.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class Role(enum.IntEnum):
    """Ordered: a role may do everything the roles below it may."""

    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"{text!r} is not a role; use viewer, operator or admin") from None


class Permission(enum.Enum):
    """Actions that change shared state, each with the least role allowed to do it."""

    RUN_JOBS = ("start, stop or reset jobs", Role.OPERATOR)
    EDIT_WORKSPACE = ("edit grids and plots", Role.OPERATOR)
    LOAD_WORKSPACE = ("load a whole workspace", Role.ADMIN)
    DEBUG = ("read the debug endpoints", Role.ADMIN)

    def __init__(self, what: str, least: Role) -> None:
        self.what = what
        self.least = least


@dataclass(frozen=True)
class Identity:
    """The authenticated user (or, with sign-in off, the chosen name) and their role."""

    user: str
    role: Role
    #: False when sign-in is off: the name is whatever the URL said.
    signed_in: bool = True

    def may(self, permission: Permission) -> bool:
        return self.role >= permission.least

    def refusal(self, permission: Permission) -> str:
        """Why this user may not do it, as a sentence for a toast or a tooltip."""
        return (
            f"Not allowed: you are signed in as {self.user} with the role {self.role.label}; "
            f"only the {permission.least.label} role and above may {permission.what}."
        )


def role_from_groups(
    groups: Iterable[str], mapping: Mapping[str, Role], default: Role | None
) -> Role | None:
    """The highest role any of ``groups`` maps to, else ``default`` (None = not let in)."""
    roles = [mapping[g] for g in groups if g in mapping]
    return max(roles) if roles else default


def split_groups(value: str | Iterable[str] | None) -> list[str]:
    """Groups from a header (``a,b`` or ``a b``) or a claim (a list or one string)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [g for g in value.replace(",", " ").split() if g]
    return [str(g).strip() for g in value if str(g).strip()]
