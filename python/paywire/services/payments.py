"""What operators do to payments through the API: create, approve, reject, cancel, decide, read.

Each call is one transaction; the payment row is locked (FOR UPDATE) before its status is checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

import orjson

from paywire.domain.accounts import CUSTOMER
from paywire.domain.audit_chain import AuditEntry
from paywire.domain.payment import Payment, PaymentDetail, Reason
from paywire.domain.roles import Actor, Role, require_role
from paywire.domain.statuses import ACTION_STEPS, Action, Status
from paywire.domain.validation import Problems, parse_payment, required_text, text
from paywire.errors import Conflict, NotFound, ValidationError
from paywire.observability.metrics import payments_approved_total, payments_initiated_total
from paywire.services.transitions import asked, move
from paywire.store import audit, ledger
from paywire.store import payments as store
from paywire.store.tx import Conn, Db, Pool, connection, transaction

REASON_MAX = 140
CHECKER_REJECTED = "CHECKER_REJECTED"
COMPLIANCE_RELEASED = "COMPLIANCE_RELEASED"
COMPLIANCE_REJECTED = "COMPLIANCE_REJECTED"


@dataclass(frozen=True, slots=True)
class Created:
    """The payment, and whether this request created it (False: an idempotent replay)."""

    payment: Payment
    created: bool


class _KeyTaken(Exception):
    """Another request committed the same Idempotency-Key first; this one rolls back."""


async def create_payment(
    db: Db,
    body: object,
    actor: Actor,
    *,
    idempotency_key: str | None = None,
    request_id: str | None = None,
    today: date | None = None,
) -> Created:
    """Validate and store a new INITIATED payment (MAKER).

    With an Idempotency-Key, the same key and body return the original payment and another body
    is a Conflict; two concurrent requests with one key create one payment.
    """
    require_role(actor, Role.MAKER)
    request_hash = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    if idempotency_key is not None:
        # Before the body is validated: a retry of a request that was accepted returns its
        # payment even when a rule would refuse the body today (its value date has passed).
        _check_key(idempotency_key)
        replay = await _replay(db, actor, idempotency_key, request_hash)
        if replay is not None:
            return Created(replay, False)
    # One clock reading for the default value date, the creation time and the reference's day.
    now = datetime.now(UTC)
    new = parse_payment(body, today=today or now.date())
    try:
        async with transaction(db) as conn:
            await _check_debtor(conn, new.debtor.account, new.currency)
            payment = await store.insert(conn, new, actor.username, now)
            if idempotency_key is not None and not await store.remember_request(
                conn, actor.username, idempotency_key, request_hash, payment.id
            ):
                raise _KeyTaken
            await audit.append(
                conn,
                [
                    AuditEntry(
                        operator=actor.username,
                        action="payment.create",
                        entity="payment",
                        entity_id=str(payment.id),
                        after=payment.as_dict(),
                        request_id=request_id,
                    )
                ],
                payment.created_at,
            )
    except _KeyTaken:
        assert idempotency_key is not None
        replay = await _replay(db, actor, idempotency_key, request_hash)
        if replay is None:
            raise Conflict("the Idempotency-Key could not be resolved; retry") from None
        return Created(replay, False)
    payments_initiated_total.inc()
    return Created(payment, True)


async def approve(
    db: Db, payment_id: UUID, actor: Actor, *, request_id: str | None = None
) -> Payment:
    """INITIATED → APPROVED by a CHECKER who did not create it (four eyes)."""
    (payment,) = await approve_many(db, [payment_id], actor, request_id=request_id)
    return payment


async def approve_many(
    db: Db, payment_ids: Sequence[UUID], actor: Actor, *, request_id: str | None = None
) -> list[Payment]:
    """Approve a batch in one transaction, all or none: one payment the actor may not approve
    (four eyes, status) refuses them all. For bulk approval and load tests."""
    async with transaction(db) as conn:
        locked = await store.lock(conn, payment_ids)
        if len(locked) != len(set(payment_ids)):
            missing = set(payment_ids) - {p.id for p in locked}
            raise NotFound(f"no payment {', '.join(sorted(map(str, missing)))}")
        _refuse_past_value_dates(locked, Action.APPROVE)
        moved = await move(
            conn, [asked(p, Action.APPROVE) for p in locked], actor, request_id=request_id
        )
    approved = moved.payments()
    payments_approved_total.inc(len(approved))
    return approved


async def reject(
    db: Db, payment_id: UUID, actor: Actor, reason: object, *, request_id: str | None = None
) -> Payment:
    """INITIATED → REJECTED by a CHECKER, with a reason."""
    why = Reason(
        CHECKER_REJECTED, required_text(reason, "reason", REASON_MAX, "a reason is required")
    )
    return await _act(db, payment_id, actor, Action.REJECT, why, request_id)


async def cancel(
    db: Db, payment_id: UUID, actor: Actor, *, request_id: str | None = None
) -> Payment:
    """INITIATED → CANCELLED by its MAKER or by an ADMIN."""
    return await _act(db, payment_id, actor, Action.CANCEL, None, request_id)


async def compliance_decision(
    db: Db,
    payment_id: UUID,
    actor: Actor,
    decision: object,
    reason: object,
    *,
    request_id: str | None = None,
) -> Payment:
    """HELD → SCREENED ("release") or REJECTED ("reject") by COMPLIANCE, with a reason."""
    decisions: Mapping[object, tuple[Action, str, str]] = {
        "release": (Action.RELEASE, COMPLIANCE_RELEASED, "payment.release"),
        "reject": (Action.COMPLIANCE_REJECT, COMPLIANCE_REJECTED, "payment.reject"),
    }
    problems = Problems()
    if decision not in decisions:
        problems.add("decision", 'must be "release" or "reject"')
    why = text(reason, "reason", REASON_MAX, problems)
    problems.raise_any("invalid compliance decision")
    assert why is not None
    action, code, audit_action = decisions[decision]
    return await _act(db, payment_id, actor, action, Reason(code, why), request_id, audit_action)


async def get_payment(db: Pool, payment_id: UUID) -> PaymentDetail:
    """The payment with its status history and its message (NotFound if there is none), read
    in one snapshot: a step committing between the reads would show a status its history has
    already left, or an answer for a status not yet reached."""
    async with (
        connection(db) as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        payment = await store.get(conn, payment_id)
        if payment is None:
            raise NotFound(f"no payment {payment_id}")
        history = await store.history(conn, payment_id)
        message = await store.message_summary(conn, payment_id)
    return PaymentDetail(payment, tuple(history), message)


async def payment_id_by_reference(db: Db, reference: str) -> UUID | None:
    """The id of the payment with this reference, for paths that take either."""
    async with connection(db) as conn:
        return await store.id_by_reference(conn, reference)


async def list_payments(
    db: Db,
    *,
    limit: int,
    status: Status | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    after: tuple[datetime, UUID] | None = None,
) -> list[Payment]:
    """Payments newest first; see `paywire.store.payments.page` for the filters."""
    async with connection(db) as conn:
        return await store.page(
            conn,
            limit=limit,
            status=status,
            created_from=created_from,
            created_to=created_to,
            after=after,
        )


async def _act(
    db: Db,
    payment_id: UUID,
    actor: Actor,
    action: Action,
    reason: Reason | None,
    request_id: str | None,
    audit_action: str | None = None,
) -> Payment:
    async with transaction(db) as conn:
        locked = await store.lock(conn, [payment_id])
        if not locked:
            raise NotFound(f"no payment {payment_id}")
        _refuse_past_value_dates(locked, action)
        moved = await move(
            conn,
            [asked(locked[0], action, reason)],
            actor,
            action=audit_action,
            request_id=request_id,
        )
    (payment,) = moved.payments()
    return payment


def _refuse_past_value_dates(payments: Sequence[Payment], action: Action) -> None:
    """An approval or a compliance release sends a payment on its way, and the value date it
    carries to the receiver (IntrBkSttlmDt) must not have passed by then. It was checked at
    entry, which may be days before: a Friday's payment approved on Monday, one held over a
    weekend. Refused, the payment is cancelled or rejected and entered again with a date that
    holds; the date is the debtor's instruction, not the gateway's to move."""
    if action not in (Action.APPROVE, Action.RELEASE):
        return
    source = ACTION_STEPS[action].source
    today = datetime.now(UTC).date()
    for payment in payments:
        if payment.status is source and payment.value_date < today:
            undo = "reject or cancel" if action is Action.APPROVE else "reject"
            raise Conflict(
                f"payment {payment.reference} has the value date {payment.value_date}, which has "
                f"passed (today is {today}, UTC): {undo} it and have it entered again with today's "
                "date or a later one"
            )


async def _replay(db: Db, actor: Actor, key: str, request_hash: str) -> Payment | None:
    async with connection(db) as conn:
        found = await store.idempotent_request(conn, actor.username, key)
        if found is None:
            return None
        recorded_hash, payment_id = found
        if recorded_hash != request_hash:
            raise Conflict("this Idempotency-Key was used with a different request body")
        payment = await store.get(conn, payment_id)
    assert payment is not None  # the key's foreign key keeps its payment
    return payment


async def _check_debtor(conn: Conn, account: str, currency: str) -> None:
    found = await ledger.find_account(conn, account)
    if found is None or found.kind != CUSTOMER:
        message = "is not a ledger account"
    elif found.currency != currency:
        message = f"is held in {found.currency}, not {currency}"
    else:
        return
    raise ValidationError(
        "invalid payment", details=[{"field": "debtor.account", "message": message}]
    )


def _check_key(key: str) -> None:
    problems = Problems()
    text(key, "Idempotency-Key", 255, problems)
    problems.raise_any("invalid Idempotency-Key")
