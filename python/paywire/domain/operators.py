"""An operator as the gateway knows it: the actor of its requests, plus what the API shows.

Built by the store from a row, and from its `as_dict` form by the session cache.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from paywire.domain.payment import utc_iso
from paywire.domain.roles import Actor, Role


@dataclass(frozen=True, slots=True)
class Operator(Actor):
    """An operator as stored: the actor of its requests, plus what the API shows about it."""

    id: UUID
    active: bool
    created_at: datetime
    updated_at: datetime
    # Their password was chosen by an ADMIN: until they choose their own, they can do nothing
    # else (the API answers 403 PASSWORD_CHANGE_REQUIRED).
    password_change_required: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "username": self.username,
            "roles": sorted(self.roles),
            "active": self.active,
            "created_at": utc_iso(self.created_at),
            "updated_at": utc_iso(self.updated_at),
            "password_change_required": self.password_change_required,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operator:
        """The operator `as_dict` gave, back from its JSON form."""
        return cls(
            username=data["username"],
            roles=frozenset(Role(r) for r in data["roles"]),
            id=UUID(data["id"]),
            active=data["active"],
            created_at=datetime.fromisoformat(data["created_at"]),
            updated_at=datetime.fromisoformat(data["updated_at"]),
            password_change_required=data["password_change_required"],
        )

    def audited(self) -> dict[str, Any]:
        """What an audit row's before/after records of an operator: the row itself carries
        the id and the time."""
        return {"username": self.username, "roles": sorted(self.roles), "active": self.active}
