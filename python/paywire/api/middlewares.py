"""Cross-cutting concerns of every request, outermost first: request id, timing, security
headers, error mapping, body limit. Handlers stay free of all of them.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from paywire.api import errors
from paywire.api.keys import PAYMENT_ID, REQUEST_ID, SETTINGS
from paywire.errors import PaywireError
from paywire.observability.logging import request_id_var
from paywire.observability.metrics import http_request_duration_seconds
from paywire.store.tx import TRANSIENT_ERRORS

log = logging.getLogger("paywire.api")

REQUEST_ID_HEADER = "X-Request-Id"
MAX_BODY_BYTES = 64 * 1024
UNMATCHED_ROUTE = "unmatched"

# An incoming id is kept only when it cannot smuggle anything into logs or headers.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

UI_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# Data endpoints are never pages: they load nothing and may be framed by nobody.
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
DATA_PREFIXES = ("/api/", "/health", "/metrics", "/api-docs/openapi.json")
STATIC_PREFIXES = ("/ui/", "/api-docs/assets/")


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    token = request_id_var.set(request_id)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        # Only redirects get here; everything else became a response in `error_middleware`.
        exc.headers[REQUEST_ID_HEADER] = request_id
        raise
    finally:
        request_id_var.reset(token)
    response.headers[REQUEST_ID_HEADER] = request_id
    return response


# Probes and scrapes arrive every few seconds from machines: at INFO they would be most of the
# log, whose volume is bounded in a pod. They are counted in the metric all the same, and one
# that fails is logged at INFO like any request.
QUIET_ROUTES = frozenset({"/health", "/health/live", "/metrics"})


@web.middleware
async def timing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    elapsed = time.perf_counter() - started
    route = route_template(request)
    http_request_duration_seconds.labels(
        method=request.method, route=route, status=str(response.status)
    ).observe(elapsed)
    quiet = route in QUIET_ROUTES and response.status < 400
    extra: dict[str, object] = {"duration_ms": round(elapsed * 1000, 3), "status": response.status}
    if PAYMENT_ID in request:
        extra["payment_id"] = request[PAYMENT_ID]
    log.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s %d",
        request.method,
        route,
        response.status,
        extra=extra,
    )
    return response


def route_template(request: web.Request) -> str:
    """The matched route's template (`/api/v1/payments/{id}`), never the raw path, so the
    metric's label set stays bounded."""
    match_info = request.match_info
    if match_info.http_exception is not None:
        return UNMATCHED_ROUTE
    resource = match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED_ROUTE


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    add_security_headers(request, response)
    return response


def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The headers every response carries, unless the handler set its own; a streamed
    response needs them before it starts, which is before this middleware sees it."""
    headers = response.headers
    is_data = request.path.startswith(DATA_PREFIXES)
    headers.setdefault("Content-Security-Policy", DATA_CSP if is_data else UI_CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=()")
    # aiohttp would name itself and Python with their versions.
    headers["Server"] = "paywire"
    # Static assets may be revalidated from cache; anything carrying data never is stored.
    static = request.path.startswith(STATIC_PREFIXES)
    headers.setdefault("Cache-Control", "no-cache" if static else "no-store")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = request.get(REQUEST_ID)
    try:
        return await handler(request)
    except PaywireError as exc:
        if errors.status_for(exc) == 500:
            log.exception("unmapped paywire error")
        return errors.from_paywire_error(exc, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return errors.from_http_exception(exc, request_id)
    except TRANSIENT_ERRORS as exc:
        log.warning("transient failure, answered 503: %s: %s", type(exc).__name__, exc)
        return errors.database_unavailable(request_id)
    except Exception:
        # The detail goes to the log under this request id, never to the client.
        log.exception("unhandled error")
        return errors.internal_error(request_id)


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer only to a Host the gateway is: an IP address, localhost, or a name of
    PAYWIRE_ALLOWED_HOSTS. A page whose own name an attacker points at the gateway's address
    (DNS rebinding) is same-origin with it, and could otherwise send JSON logins, lock operators
    out and read /metrics; it cannot choose the Host its requests carry."""
    name = host_name(request.host)
    if not answers_to(name, request.app[SETTINGS].allowed_hosts):
        raise errors.MisdirectedRequest(
            f"this gateway does not answer to the host name {name!r}: add it to "
            "PAYWIRE_ALLOWED_HOSTS if it is the gateway's"
        )
    return await handler(request)


def host_name(host: str) -> str:
    """The name of a Host header, without its port: `[::1]:3000` → `::1`."""
    if host.startswith("["):
        return host[1 : host.find("]")].lower()
    name, colon, port = host.rpartition(":")
    return (name if colon and port.isdigit() else host).lower().rstrip(".")


def answers_to(name: str, allowed: tuple[str, ...]) -> bool:
    if name == "localhost" or name in allowed:
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse an announced oversized body before reading it; bodies without a length are cut
    off by the app's `client_max_size` while they are read."""
    length = request.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise errors.PayloadTooLarge(f"the request body is larger than {MAX_BODY_BYTES} bytes")
    return await handler(request)


MIDDLEWARES = (
    request_id_middleware,
    timing_middleware,
    security_headers_middleware,
    error_middleware,
    host_middleware,
    body_limit_middleware,
)
