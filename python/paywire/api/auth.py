"""Sessions: log in for a bearer token, log out to revoke it, and who am I.

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
)
async def me(request: web.Request) -> web.Response:
    return json_response(operator(request).as_dict())
