"""Who acts: operator roles, the actor of a change, and the pipeline's own `system` actor.

An operator may hold several roles; what each role may do to a payment is in `statuses`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from paywire.errors import PermissionDenied

# The name the gateway itself acts under in status histories and audit rows; no operator has it.
SYSTEM = "system"


class Role(StrEnum):
    MAKER = "MAKER"
    CHECKER = "CHECKER"
    COMPLIANCE = "COMPLIANCE"
    ADMIN = "ADMIN"
    AUDITOR = "AUDITOR"


@dataclass(frozen=True, slots=True)
class Actor:
    """Whoever causes a change: an operator with roles, or the gateway (`SYSTEM`, no roles)."""

    username: str
    roles: frozenset[Role]

    @property
    def is_system(self) -> bool:
        return self.username == SYSTEM

    def has(self, *roles: Role) -> bool:
        """Any one of `roles` is enough: roles given together are alternatives (CHECKER or
        ADMIN may act), never roles needed at once."""
        return not self.roles.isdisjoint(roles)


SYSTEM_ACTOR = Actor(SYSTEM, frozenset())


def require_role(actor: Actor, *roles: Role) -> None:
    """The services' own role check (PermissionDenied), whatever a route declared: they are
    called by `paywire bench` and the tests too, not only through the guarded routes."""
    if not actor.has(*roles):
        raise PermissionDenied(f"needs the role {' or '.join(roles)}")


def parse_roles(values: Iterable[object]) -> frozenset[Role]:
    """Roles from their names; ValueError naming the first unknown one, or for none at all."""
    roles = set()
    for value in values:
        if not isinstance(value, str) or value not in Role.__members__:
            raise ValueError(f"{value!r} is not a role; roles are {', '.join(Role)}")
        roles.add(Role(value))
    if not roles:
        raise ValueError("an operator needs at least one role")
    return frozenset(roles)
