"""Sessions: log in for a bearer token, log out to revoke it, who am I, and a new password.

Lockout after repeated failed logins is the session service's (`paywire.services.auth`); it
surfaces here as 429.
"""

from __future__ import annotations

from aiohttp import web

from paywire.api import schemas
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL, LOGIN_ATTEMPTS, REQUEST_ID, SESSION_CACHE, SETTINGS
from paywire.api.routes import ANY_OPERATOR, PUBLIC, Reply, Routes, body, operator
from paywire.api.security import bearer_token
from paywire.services import auth

routes = Routes("auth")


@routes.post(
    "/api/v1/auth/login",
    summary="Log in: a bearer token for the operator",
    roles=PUBLIC,
    body=schemas.ref("LoginRequest"),
    replies={200: Reply("A new session", schemas.ref("LoginResult"))},
    errors=(401, 429, 503),
    description="Five failed logins for one user name in fifteen minutes lock it for fifteen "
    "minutes (429), whether or not the name exists. 429 too, not counted as an attempt, while "
    "too many password checks are under way: retry in a second.",
)
async def login(request: web.Request) -> web.Response:
    credentials = body(request)
    session = await auth.login(
        request.app[DB_POOL],
        credentials["username"],
        credentials["password"],
        token_ttl_s=request.app[SETTINGS].token_ttl_s,
        request_id=request[REQUEST_ID],
        attempts=request.app[LOGIN_ATTEMPTS],
    )
    return json_response(session.as_dict())


@routes.post(
    "/api/v1/auth/logout",
    summary="Log out: revoke this token",
    roles=ANY_OPERATOR,
    replies={204: Reply("Revoked")},
    before_own_password=True,
)
async def logout(request: web.Request) -> web.Response:
    await auth.logout(
        request.app[DB_POOL],
        bearer_token(request),
        request_id=request[REQUEST_ID],
        cache=request.app[SESSION_CACHE],
    )
    return web.Response(status=204)


@routes.get(
    "/api/v1/auth/me",
    summary="The signed-in operator and roles",
    roles=ANY_OPERATOR,
    replies={200: Reply("The operator", schemas.OPERATOR)},
    before_own_password=True,
)
async def me(request: web.Request) -> web.Response:
    return json_response(operator(request).as_dict())


@routes.post(
    "/api/v1/auth/password",
    summary="Change one's own password; every session of the operator ends, this one too",
    roles=ANY_OPERATOR,
    body=schemas.ref("PasswordChange"),
    replies={204: Reply("Changed: sign in again with the new password")},
    errors=(409, 429),
    before_own_password=True,
    description="The only thing an operator whose password an ADMIN set (a new operator, or a "
    "password reset) can do besides `me` and `logout` (`password_change_required`; every other "
    "endpoint answers them 403 `PASSWORD_CHANGE_REQUIRED`). A wrong `current_password` is 400 "
    "and counts as a failed login: five in fifteen minutes lock the name (429). The new "
    "password must differ from the current one.",
)
async def change_password(request: web.Request) -> web.Response:
    change = body(request)
    await auth.change_password(
        request.app[DB_POOL],
        operator(request),
        change["current_password"],
        change["new_password"],
        request_id=request[REQUEST_ID],
        attempts=request.app[LOGIN_ATTEMPTS],
        cache=request.app[SESSION_CACHE],
    )
    return web.Response(status=204)
