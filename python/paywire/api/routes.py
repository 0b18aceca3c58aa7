"""The endpoint registry: each route is declared once with its method, path, roles, parameters
and schemas. aiohttp routing, role checks, input validation and the OpenAPI document all read
these declarations, so the published document cannot drift from what the server does.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any, Literal

from aiohttp import web

from paywire.api import security
from paywire.api.jsonio import read_json
from paywire.api.keys import BODY, OPERATOR, QUERY
from paywire.api.validation import Schema, compile_validator
from paywire.domain.operators import Operator
from paywire.errors import NotFound

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ParamLocation = Literal["query", "header"]

# `roles=PUBLIC` needs no token; `roles=ANY_OPERATOR` needs a valid token and no particular role.
PUBLIC: frozenset[str] | None = None
ANY_OPERATOR: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True, slots=True)
class Param:
    name: str
    schema: Schema
    description: str
    required: bool = False
    location: ParamLocation = "query"


@dataclasses.dataclass(frozen=True, slots=True)
class Reply:
    """One documented success response; `alternatives` are the other media types it may come
    in (a query parameter chooses), each with its schema."""

    description: str
    schema: Schema | None = None
    content_type: str = "application/json"
    alternatives: Mapping[str, Schema] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    roles: frozenset[str] | None
    body: Schema | None = None
    params: tuple[Param, ...] = ()
    replies: Mapping[int, Reply] = dataclasses.field(default_factory=dict)
    errors: tuple[int, ...] = ()
    description: str = ""
    documented: bool = True
    # Open to an operator who must choose their own password first (who am I, log out, change
    # it); every other endpoint answers them 403 PASSWORD_CHANGE_REQUIRED.
    before_own_password: bool = False

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(
            part[1:-1] for part in self.path.split("/") if part.startswith("{") and part[-1] == "}"
        )


class Routes:
    """The endpoints of one resource module, declared with decorators."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        roles: Collection[str] | None,
        replies: Mapping[int, Reply],
        body: Schema | None = None,
        params: Iterable[Param] = (),
        errors: Iterable[int] = (),
        description: str = "",
        documented: bool = True,
        before_own_password: bool = False,
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method=method,
                    path=path,
                    handler=handler,
                    operation_id=handler.__name__,
                    summary=summary,
                    tag=self.tag,
                    roles=None if roles is None else frozenset(roles),
                    body=body,
                    params=tuple(params),
                    replies=dict(replies),
                    errors=tuple(errors),
                    description=description,
                    documented=documented,
                    before_own_password=before_own_password,
                )
            )
            return handler

        return register

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)


def install(
    app: web.Application, endpoints: Iterable[Endpoint], components: Mapping[str, Schema]
) -> None:
    """Add each endpoint to the app's router behind its guard: authentication and roles first,
    then query and body validation, then the handler."""
    endpoints = list(endpoints)
    paths = [endpoint.path for endpoint in endpoints]
    for endpoint in endpoints:
        routed = _routed(endpoint.path, paths)
        app.router.add_route(endpoint.method, routed, _guard(endpoint, components))


def _routed(path: str, paths: Iterable[str]) -> str:
    """`path` as the router matches it: a `{variable}` never takes a word that another path has
    in its place (`/api/v1/payments/{id}` leaves `reconciliation` to the reports), so a path cut
    short of such a route is an unknown path like any other, not an id that names nothing."""
    parts = path.split("/")
    others = [other.split("/") for other in paths]
    routed = list(parts)
    for index, part in enumerate(parts):
        if not part.startswith("{"):
            continue
        words = sorted(
            {
                other[index]
                for other in others
                if len(other) > index
                and other[:index] == parts[:index]
                and not other[index].startswith("{")
            }
        )
        if words:
            taken = "|".join(re.escape(word) for word in words)
            routed[index] = f"{{{part[1:-1]}:(?!(?:{taken})(?:/|$))[^{{}}/]+}}"
    return "/".join(routed)


def _guard(endpoint: Endpoint, components: Mapping[str, Schema]) -> Handler:
    check_body = None if endpoint.body is None else compile_validator(endpoint.body, components)
    query_params = [p for p in endpoint.params if p.location == "query"]
    check_query = compile_validator(_params_object(query_params), components, where="query")
    header_params = [p for p in endpoint.params if p.location == "header"]
    check_headers = compile_validator(_params_object(header_params), components, where="header")

    async def guarded(request: web.Request) -> web.StreamResponse:
        if endpoint.roles is not None:
            operator = await security.authenticate(request)
            if not endpoint.before_own_password:
                security.require_own_password(operator)
            security.require_any_role(operator, endpoint.roles)
            request[OPERATOR] = operator
        if any("\x00" in value for value in request.match_info.values()):
            # No resource has a NUL in its name, and PostgreSQL could not even look one up.
            raise NotFound("no such resource")
        check_headers(
            {p.name: request.headers[p.name] for p in header_params if p.name in request.headers}
        )
        request[QUERY] = check_query(_query_values(request, query_params))
        if check_body is not None:
            request[BODY] = check_body(await read_json(request))
        return await endpoint.handler(request)

    guarded.__name__ = endpoint.operation_id
    return guarded


def _params_object(params: Iterable[Param]) -> Schema:
    params = list(params)
    return {
        "type": "object",
        "properties": {p.name: p.schema for p in params},
        "required": [p.name for p in params if p.required],
    }


def _query_values(request: web.Request, params: Iterable[Param]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in params:
        raw = request.query.get(param.name)
        if raw is None:
            continue
        if param.schema.get("type") == "integer":
            try:
                values[param.name] = int(raw)
                continue
            except ValueError:
                pass
        values[param.name] = raw
    return values


def operator(request: web.Request) -> Operator:
    """The operator the guard authenticated for this request."""
    return request[OPERATOR]


def body(request: web.Request) -> dict[str, Any]:
    """The request body, already validated against the endpoint's schema."""
    value: dict[str, Any] = request[BODY]
    return value


def query(request: web.Request) -> dict[str, Any]:
    """The declared query parameters present on the request, validated and converted."""
    value: dict[str, Any] = request[QUERY]
    return value
