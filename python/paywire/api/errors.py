"""The one place where errors become HTTP: status codes and the SPEC §7 error body.

Domain errors map by class; aiohttp's own HTTP exceptions (no route, wrong method, body too
large) get the same body shape so clients parse one format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from paywire.api.jsonio import json_response
from paywire.errors import (
    AuthenticationError,
    Conflict,
    NotFound,
    PaywireError,
    PermissionDenied,
    Throttled,
    UnsupportedMediaType,
    ValidationError,
)


class PayloadTooLarge(PaywireError):
    code = "PAYLOAD_TOO_LARGE"


class MisdirectedRequest(PaywireError):
    """A request whose Host names something other than this gateway (docs/SECURITY.md)."""

    code = "MISDIRECTED_REQUEST"


class Unavailable(PaywireError):
    """A part of the gateway this request needs is not running in this process."""

    code = "UNAVAILABLE"


# Checked in order, so a subclass listed before its base wins.
_STATUS_BY_CLASS: tuple[tuple[type[PaywireError], int], ...] = (
    (ValidationError, 400),
    (AuthenticationError, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (MisdirectedRequest, 421),
    (Throttled, 429),
    (Unavailable, 503),
)

# aiohttp raises these itself, before or instead of a handler.
_CODE_BY_HTTP_STATUS: Mapping[int, str] = {
    400: ValidationError.code,
    404: NotFound.code,
    405: "METHOD_NOT_ALLOWED",
    413: PayloadTooLarge.code,
}

INTERNAL_MESSAGE = "internal error; quote the request id when reporting it"


def status_for(error: PaywireError) -> int:
    for cls, status in _STATUS_BY_CLASS:
        if isinstance(error, cls):
            return status
    return 500


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: Sequence[Any] = (),
    request_id: str | None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    body = {
        "error": {"code": code, "message": message, "details": list(details)},
        "request_id": request_id,
    }
    return json_response(body, status=status, headers=headers)


def from_paywire_error(error: PaywireError, request_id: str | None) -> web.Response:
    status = status_for(error)
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="paywire"'
    if status == 500:
        return internal_error(request_id)
    return error_response(
        status,
        error.code,
        error.message,
        details=error.details,
        request_id=request_id,
        headers=headers,
    )


# What the router's own refusals say, in place of the bare reason phrase ("Not Found").
_ROUTER_MESSAGES = {
    404: "no such path: the endpoints are listed at /api-docs",
    413: "the request body is larger than the limit",
}


def from_http_exception(exc: web.HTTPException, request_id: str | None) -> web.Response:
    code = _CODE_BY_HTTP_STATUS.get(exc.status, exc.reason.upper().replace(" ", "_"))
    message = _ROUTER_MESSAGES.get(exc.status, exc.reason)
    headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
    return error_response(exc.status, code, message, request_id=request_id, headers=headers)


def internal_error(request_id: str | None) -> web.Response:
    return error_response(500, "INTERNAL", INTERNAL_MESSAGE, request_id=request_id)


DATABASE_RETRY_AFTER_S = 1
DATABASE_MESSAGE = (
    "the database is unreachable or did not answer in time; retry in a moment (a payment "
    "created again with the same Idempotency-Key is not created twice)"
)


def database_unavailable(request_id: str | None) -> web.Response:
    """A transient database failure is the caller's to retry, not a fault of the gateway: the
    transaction rolled back, or (cut off in its commit) a retry finds what it did."""
    return error_response(
        503,
        Unavailable.code,
        DATABASE_MESSAGE,
        request_id=request_id,
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )
