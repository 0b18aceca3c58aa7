"""The exception queue for ADMINs: list it, and resolve an item with a note and an action.

Actions drive the item's payment through this process's pipeline, so they answer 503 without one.
"""

from __future__ import annotations

from aiohttp import web

from paywire.api import params, schemas
from paywire.api.errors import Unavailable
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL, PIPELINE, REQUEST_ID
from paywire.api.paging import decode_cursor, page, parse_int
from paywire.api.routes import Param, Reply, Routes, body, operator, query
from paywire.domain.roles import Role
from paywire.services import exception_queue as service
from paywire.store.exception_queue import ExceptionItem

routes = Routes("exceptions")

ADMIN = (Role.ADMIN,)
FILTERS = (
    Param("state", schemas.EXCEPTION_STATE, "Only exceptions in this state"),
    Param("kind", schemas.EXCEPTION_KIND, "Only exceptions of this kind"),
)


@routes.get(
    "/api/v1/exceptions",
    summary="The exception queue, newest first",
    roles=ADMIN,
    params=(*FILTERS, *params.PAGING),
    replies={200: Reply("A page of exceptions", schemas.ref("ExceptionList"))},
)
async def list_exceptions(request: web.Request) -> web.Response:
    q = query(request)
    limit = params.limit(q)
    found = await service.list_exceptions(
        request.app[DB_POOL],
        limit=limit + 1,
        state=q.get("state"),
        kind=q.get("kind"),
        after=decode_cursor(q["cursor"], parse_int) if "cursor" in q else None,
    )
    return json_response(page(found, limit, ExceptionItem.as_dict, lambda e: (e.id,)))


@routes.post(
    "/api/v1/exceptions/{id}/resolve",
    summary="Resolve an OPEN exception with a note, optionally acting on its payment",
    roles=ADMIN,
    body=schemas.ref("ExceptionResolve"),
    replies={200: Reply("The exception, RESOLVED", schemas.ref("Exception"))},
    errors=(409, 503),
    description="`note` says what was done. `action` `resend` grants the payment's message one "
    "more transmission; `mark_settled` settles the TRANSMITTED payment as the receiver "
    "confirmed outside the wire: `outcome` `ACK`, or `NACK` with the receiver's "
    "`reason_code`, and `confirmation` (the receiver's reference). The answer is recorded as "
    "MANUAL and applied like any other: a NACK reverses the posting. The ACK_MISSING of a "
    "payment still TRANSMITTED takes one of the two actions: a note alone is 409. Audited.",
)
async def resolve_exception(request: web.Request) -> web.Response:
    exception_id = params.int_path(request.match_info["id"], "exception")
    given = body(request)
    action = service.parse_action(given)
    driver = request.app[PIPELINE]
    if action is not None and driver is None:
        raise Unavailable("this gateway process runs no pipeline")
    resolved = await service.resolve_exception(
        request.app[DB_POOL],
        exception_id,
        operator(request),
        given["note"],
        action,
        driver=driver,
        request_id=request[REQUEST_ID],
    )
    if driver is not None and action is not None:
        driver.wake()
    return json_response(resolved.as_dict())
