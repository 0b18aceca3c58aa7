"""Bearer-token authentication and role checks for the route guard.

Tokens are resolved by the session service (`paywire.services.auth`); this module reads the
header and compares roles, so every endpoint is protected the same way.
"""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from paywire.api.keys import DB_POOL, SESSION_CACHE
from paywire.domain.operators import Operator
from paywire.errors import AuthenticationError, PasswordChangeRequired, PermissionDenied
from paywire.services import auth

_SCHEME = "bearer"


def bearer_token(request: web.Request) -> str:
    """The request's token, refused unless paywire could have issued it: header bytes that are
    not UTF-8 arrive as surrogate escapes, which would fail the token's hash as a 500."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != _SCHEME or not token:
        raise AuthenticationError("a bearer token is required")
    if not auth.TOKEN_SHAPE.fullmatch(token):
        raise AuthenticationError(
            "the bearer token is malformed; send the token that POST /api/v1/auth/login returned"
        )
    return token


async def authenticate(request: web.Request) -> Operator:
    return await auth.authenticate(
        request.app[DB_POOL], bearer_token(request), cache=request.app[SESSION_CACHE]
    )


def require_own_password(operator: Operator) -> None:
    """Pass unless an ADMIN chose the operator's password and they have not replaced it yet."""
    if operator.password_change_required:
        raise PasswordChangeRequired(
            "your password was set by an administrator: choose your own first"
            " (POST /api/v1/auth/password, or passwd in the terminal), then sign in with it"
        )


def require_any_role(operator: Operator, roles: Collection[str]) -> None:
    """Pass when `roles` is empty (any operator) or the operator holds one of them."""
    if roles and not set(operator.roles) & set(roles):
        raise PermissionDenied(
            f"this action needs one of the roles {', '.join(sorted(roles))}",
            details=[{"required_roles": sorted(roles)}],
        )
