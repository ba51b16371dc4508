"""Sign-in and roles: who a session is and what it may change (see docs/adr/0011)."""

from app.auth.roles import Identity, Permission, Role

__all__ = ["Identity", "Permission", "Role"]
