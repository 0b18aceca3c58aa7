"""Payments: entry, listing, detail, and the operator actions on them (SPEC §7).

Handlers parse, call the payment services and render; who may do what to which payment (four
eyes, own payments) is decided by the domain, the coarse role gate by the route declarations.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from uuid import UUID

from aiohttp import web

from paywire.api import params, schemas
from paywire.api.errors import Unavailable
from paywire.api.jsonio import json_response
from paywire.api.keys import DB_POOL, PAYMENT_ID, PIPELINE, REQUEST_ID
from paywire.api.paging import decode_cursor, page, parse_time_and_uuid
from paywire.api.routes import ANY_OPERATOR, Param, Reply, Routes, body, operator, query
from paywire.domain.payment import Payment
from paywire.domain.roles import Role
from paywire.domain.statuses import ACTION_STEPS, Action, Status
from paywire.errors import NotFound
from paywire.services import payments as service

routes = Routes("payments")

FILTERS = (
    Param("status", schemas.STATUS, "Only payments in this status"),
    Param("from", schemas.DATE, "Only payments created on or after this UTC day"),
    Param("to", schemas.DATE, "Only payments created on or before this UTC day"),
)
IDEMPOTENCY_KEY = Param(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255},
    "Repeat the key to retry safely: the same key and body return the original payment",
    location="header",
)
# Set on the answer to a request that repeated an earlier one's Idempotency-Key and body.
REPLAYED = "Idempotent-Replayed"
BY_ID_OR_REFERENCE = "`id` is the payment's id or its reference (PW-YYYYMMDD-XXXXXXXX)."
CONFLICT = (409,)


async def resolve(request: web.Request) -> UUID:
    """The payment id the path names: its id, or its reference as operators type it."""
    key = request.match_info["id"]
    try:
        found: UUID | None = UUID(key)
    except ValueError:
        found = await service.payment_id_by_reference(request.app[DB_POOL], key)
    if found is None:
        raise NotFound(f"no payment {key}")
    request[PAYMENT_ID] = found
    return found


@routes.post(
    "/api/v1/payments",
    summary="Enter a credit transfer",
    roles=(Role.MAKER,),
    params=(IDEMPOTENCY_KEY,),
    body=schemas.ref("PaymentCreate"),
    replies={
        201: Reply(
            "Created, INITIATED; or, repeated with an Idempotency-Key and the same body, the "
            "payment the first request created, with `Idempotent-Replayed: true`",
            schemas.PAYMENT,
        ),
    },
    errors=CONFLICT,
    description="`value_date` defaults to today (UTC); the debtor account must be a ledger "
    "account in the payment's currency.",
)
async def create_payment(request: web.Request) -> web.Response:
    created = await service.create_payment(
        request.app[DB_POOL],
        body(request),
        operator(request),
        idempotency_key=request.headers.get("Idempotency-Key"),
        request_id=request[REQUEST_ID],
    )
    request[PAYMENT_ID] = created.payment.id
    # A replay answers as the first request did (a client retrying after a lost response gets
    # what it would have got), and says that it is one.
    replayed = {} if created.created else {REPLAYED: "true"}
    return json_response(created.payment.as_dict(), status=201, headers=replayed)


@routes.get(
    "/api/v1/payments",
    summary="Payments, newest first",
    roles=ANY_OPERATOR,
    params=(*FILTERS, *params.PAGING),
    replies={200: Reply("A page of payments", schemas.ref("PaymentList"))},
)
async def list_payments(request: web.Request) -> web.Response:
    q = query(request)
    limit = params.limit(q)
    created_from, created_to = params.days(q)
    found = await service.list_payments(
        request.app[DB_POOL],
        limit=limit + 1,
        status=Status(q["status"]) if "status" in q else None,
        created_from=created_from,
        created_to=created_to,
        after=decode_cursor(q["cursor"], parse_time_and_uuid) if "cursor" in q else None,
    )
    return json_response(
        page(found, limit, Payment.as_dict, lambda p: (p.created_at.isoformat(), p.id))
    )


@routes.get(
    "/api/v1/payments/{id}",
    summary="A payment with its status history and its message",
    roles=ANY_OPERATOR,
    description=BY_ID_OR_REFERENCE,
    replies={200: Reply("The payment", schemas.PAYMENT_DETAIL)},
)
async def get_payment(request: web.Request) -> web.Response:
    detail = await service.get_payment(request.app[DB_POOL], await resolve(request))
    return json_response(detail.as_dict())


Run = Callable[[web.Request, UUID], Awaitable[Payment]]


def _action(
    path: str,
    summary: str,
    roles: tuple[Role, ...],
    run: Run,
    errors: tuple[int, ...] = CONFLICT,
    *,
    takes: tuple[Action, ...] = (),
    description: str = "",
    **kw: object,
) -> None:
    """Register POST /api/v1/payments/{id}/<path>: resolve the payment, act, render it, and
    tell this process's pipeline there may be work (approved or released payments).

    The document says which status the endpoint's actions (`takes`) apply to from the same
    table the service checks, so it cannot promise a status the server refuses."""
    sources = sorted({ACTION_STEPS[action].source for action in takes})
    if sources:
        description += (
            f" Only for a payment that is {' or '.join(sources)}: in any other status the answer "
            "is 409 and nothing changes."
        )

    async def handler(request: web.Request) -> web.Response:
        payment = await run(request, await resolve(request))
        pipeline = request.app[PIPELINE]
        if pipeline is not None:
            pipeline.wake()
        return json_response(payment.as_dict())

    handler.__name__ = f"{path}_payment"
    routes.post(
        f"/api/v1/payments/{{id}}/{path}",
        summary=summary,
        roles=roles,
        replies={200: Reply("The payment after the action", schemas.PAYMENT)},
        errors=errors,
        description=description.strip(),
        **kw,
    )(handler)


_action(
    "approve",
    "Approve an INITIATED payment (four eyes: not its initiator)",
    (Role.CHECKER,),
    lambda r, pid: service.approve(r.app[DB_POOL], pid, operator(r), request_id=r[REQUEST_ID]),
    takes=(Action.APPROVE,),
    description=f"{BY_ID_OR_REFERENCE} The initiator may never approve, whatever their roles. "
    "409 once the payment's value date has passed: reject it, and have it entered again.",
)
_action(
    "reject",
    "Reject an INITIATED payment with a reason",
    (Role.CHECKER,),
    lambda r, pid: service.reject(
        r.app[DB_POOL], pid, operator(r), body(r)["reason"], request_id=r[REQUEST_ID]
    ),
    body=schemas.ref("RejectRequest"),
    takes=(Action.REJECT,),
    description=BY_ID_OR_REFERENCE,
)
_action(
    "cancel",
    "Cancel an INITIATED payment (its MAKER, or an ADMIN)",
    (Role.MAKER, Role.ADMIN),
    lambda r, pid: service.cancel(r.app[DB_POOL], pid, operator(r), request_id=r[REQUEST_ID]),
    takes=(Action.CANCEL,),
    description=f"{BY_ID_OR_REFERENCE} A MAKER may cancel only payments they entered.",
)
_action(
    "compliance",
    "Decide on a HELD payment: release it to screening passed, or reject it",
    (Role.COMPLIANCE,),
    lambda r, pid: service.compliance_decision(
        r.app[DB_POOL],
        pid,
        operator(r),
        body(r)["decision"],
        body(r)["reason"],
        request_id=r[REQUEST_ID],
    ),
    body=schemas.ref("ComplianceDecision"),
    takes=(Action.RELEASE, Action.COMPLIANCE_REJECT),
    description=f"{BY_ID_OR_REFERENCE} Not by the payment's initiator or approver (four eyes). "
    "A release is 409 once the payment's value date has passed: reject it instead.",
)


async def _retry(request: web.Request, payment_id: UUID) -> Payment:
    pipeline = request.app[PIPELINE]
    if pipeline is None:
        raise Unavailable("this gateway process runs no pipeline")
    await pipeline.retry(payment_id, operator(request), request_id=request[REQUEST_ID])
    return (await service.get_payment(request.app[DB_POOL], payment_id)).payment


_action(
    "retry",
    "Drive a stuck payment on now",
    (Role.ADMIN,),
    _retry,
    errors=(*CONFLICT, 503),
    description=f"{BY_ID_OR_REFERENCE} A TRANSMITTED payment gets one more transmission at once, "
    "even after its ACK_MISSING exception; one waiting in APPROVED, SCREENED or POSTED is taken "
    "out of quarantine and claimed at once. Any other status is a conflict. Not by the "
    "payment's initiator or approver (four eyes, as on its exceptions).",
)
