"""The OpenAPI 3.0 document, built from the endpoint registry and the shared schemas.

Nothing here is written by hand per endpoint: roles, parameters, bodies and replies all come
from the declarations the server itself routes and validates with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from paywire import __version__
from paywire.api.routes import Endpoint, Param
from paywire.api.schemas import ERROR
from paywire.api.validation import Schema

_ERROR_DESCRIPTIONS: Mapping[int, str] = {
    400: "Invalid input; `details` names each offending field",
    401: "No token, or an expired, revoked or malformed one",
    403: "The operator lacks the role, or the four-eyes rule forbids the action, or must choose "
    "their own password first (PASSWORD_CHANGE_REQUIRED)",
    404: "No such resource",
    409: "The resource's state does not allow the action, or an idempotency key clashes",
    413: "The body is larger than 64 KiB",
    415: "The body is not sent with `Content-Type: application/json`",
    421: "The `Host` is not one this gateway answers to (`PAYWIRE_ALLOWED_HOSTS`)",
    429: "Too many failed logins, or too many logins being checked at once; wait and retry",
    503: "The database, or the component this request needs, is not available; retry later",
}

_DESCRIPTION = """\
The admin surface of paywire, a payment transmission gateway.

Authenticate with `POST /api/v1/auth/login` and send the returned token as
`Authorization: Bearer <token>`. Amounts are decimal strings. Every response carries
`X-Request-Id`; errors have the shape of the `Error` schema. Each operation lists the roles
that may call it (`x-roles`); an empty list means any signed-in operator.
"""


def build_document(
    endpoints: Iterable[Endpoint], components: Mapping[str, Schema]
) -> dict[str, Any]:
    documented = [endpoint for endpoint in endpoints if endpoint.documented]
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in documented:
        operation = _operation(endpoint)
        for status, links in _links(endpoint, documented, components).items():
            operation["responses"][str(status)]["links"] = links
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {"title": "paywire admin API", "version": __version__, "description": _DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": dict(components),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "opaque"}
            },
        },
    }


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "responses": _responses(endpoint),
    }
    description = endpoint.description
    if endpoint.roles is not None:
        roles = sorted(endpoint.roles)
        operation["security"] = [{"bearerAuth": []}]
        operation["x-roles"] = roles
        who = ", ".join(roles) if roles else "any signed-in operator"
        description = f"Roles: {who}.\n\n{description}".strip()
    else:
        operation["security"] = []
    if description:
        operation["description"] = description
    parameters = [_path_param(name) for name in endpoint.path_params]
    parameters += [_param(p) for p in endpoint.params]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": endpoint.body}},
        }
    return operation


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, reply in sorted(endpoint.replies.items()):
        entry: dict[str, Any] = {"description": reply.description}
        if reply.schema is not None:
            entry["content"] = {reply.content_type: {"schema": reply.schema}}
        for content_type, schema in reply.alternatives.items():
            entry.setdefault("content", {})[content_type] = {"schema": schema}
        responses[str(status)] = entry
    for status in sorted(error_statuses(endpoint)):
        responses[str(status)] = {
            "description": _ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {"application/json": {"schema": ERROR}},
        }
    return responses


def _links(
    source: Endpoint, endpoints: list[Endpoint], components: Mapping[str, Schema]
) -> dict[int, dict[str, Any]]:
    """OpenAPI links, derived rather than declared: a reply that carries a resource with an `id`
    (or, from the collection path itself, a list of them) links to every operation on
    `<collection>/{id}` and below, fed with that id. Clients, and stateful testing, follow them
    from a created payment to its approval, from a listed operator to its change."""
    collection = source.path.split("/{", 1)[0]
    targets = [
        (target, target.path_params[0])
        for target in endpoints
        if target.path_params and target.path.split("/{", 1)[0] == collection
    ]
    found: dict[int, dict[str, Any]] = {}
    for status, reply in source.replies.items():
        pointer = _id_pointer(reply.schema, components)
        # A list under an item's path is another resource's (an account's entries).
        if pointer is None or not targets or (source.path_params and pointer != "/id"):
            continue
        found[status] = {
            target.operation_id: {
                "operationId": target.operation_id,
                "parameters": {param: f"$response.body#{pointer}"},
            }
            for target, param in targets
        }
    return found


def _id_pointer(schema: Schema | None, components: Mapping[str, Schema]) -> str | None:
    """Where a reply of `schema` holds a resource id: `/id`, `/items/0/id` for a list, or None."""
    schema = _resolve(schema, components)
    if schema is None:
        return None
    for part in schema.get("allOf", ()):
        pointer = _id_pointer(part, components)
        if pointer is not None:
            return pointer
    properties = schema.get("properties", {})
    if "id" in properties:
        return "/id"
    items = _resolve(properties.get("items", {}).get("items"), components)
    if items is not None and "id" in items.get("properties", {}):
        return "/items/0/id"
    return None


def _resolve(schema: Schema | None, components: Mapping[str, Schema]) -> Schema | None:
    if schema is not None and "$ref" in schema:
        return components.get(str(schema["$ref"]).rsplit("/", 1)[-1])
    return schema


def error_statuses(endpoint: Endpoint) -> set[int]:
    """The error statuses an endpoint can answer with, from its declaration: 421 for a Host
    the gateway is not (every request), 503 wherever the database is read for the token (the
    session is looked up) or for what the endpoint declares."""
    statuses = {*endpoint.errors, 421}
    if endpoint.roles is not None:
        statuses.update((401, 503))
        if endpoint.roles or not endpoint.before_own_password:
            statuses.add(403)
    if endpoint.body is not None or any(p.location == "query" for p in endpoint.params):
        statuses.add(400)
    if endpoint.body is not None:
        statuses.update((413, 415))
    if endpoint.path_params:
        statuses.add(404)
    return statuses


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _param(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.location,
        "required": param.required,
        "description": param.description,
        "schema": dict(param.schema),
    }
