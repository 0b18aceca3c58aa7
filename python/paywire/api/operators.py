"""Operator management for ADMIN: list, create, change roles, active flag or password.

An admin may not take away their own ADMIN role or deactivate themselves (409): the operator
service refuses it, whoever calls it, so the gateway cannot lose its last administrator by a slip.
"""

from __future__ import annotations

from aiohttp import web

from paywire.api import params, schemas
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL, REQUEST_ID, SESSION_CACHE
from paywire.api.routes import Reply, Routes, body, operator
from paywire.domain.roles import Role
from paywire.services import operators

routes = Routes("operators")

ADMIN = (Role.ADMIN,)


@routes.get(
    "/api/v1/operators",
    summary="All operators",
    roles=ADMIN,
    replies={200: Reply("Operators by user name", schemas.ref("OperatorList"))},
)
async def list_operators(request: web.Request) -> web.Response:
    found = await operators.list_operators(request.app[DB_POOL])
    return json_response({"items": [o.as_dict() for o in found], "next_cursor": None})


@routes.post(
    "/api/v1/operators",
    summary="Create an operator",
    roles=ADMIN,
    body=schemas.ref("OperatorCreate"),
    replies={201: Reply("Created, active", schemas.OPERATOR)},
    errors=(409,),
)
async def create_operator(request: web.Request) -> web.Response:
    new = body(request)
    created = await operators.create_operator(
        request.app[DB_POOL],
        operator(request),
        new["username"],
        new["password"],
        new["roles"],
        request_id=request[REQUEST_ID],
    )
    return json_response(created.as_dict(), status=201)


@routes.patch(
    "/api/v1/operators/{id}",
    summary="Change an operator's roles, active flag or password",
    roles=ADMIN,
    body=schemas.ref("OperatorPatch"),
    replies={200: Reply("The operator after the change", schemas.OPERATOR)},
    errors=(409,),
    description="Deactivation or a new password ends the operator's sessions; a new password "
    "must be replaced by the operator's own at their next sign-in (`password_change_required`). "
    "An admin cannot remove their own ADMIN role, deactivate themselves, or set their own "
    "password here (409: POST /api/v1/auth/password asks for the current one).",
)
async def update_operator(request: web.Request) -> web.Response:
    target = params.uuid_path(request.match_info["id"], "operator")
    change = body(request)
    updated = await operators.update_operator(
        request.app[DB_POOL],
        operator(request),
        target,
        roles=change.get("roles"),
        active=change.get("active"),
        password=change.get("password"),
        request_id=request[REQUEST_ID],
        cache=request.app[SESSION_CACHE],
    )
    return json_response(updated.as_dict())
