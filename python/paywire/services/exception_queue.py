"""The exception queue as ADMINs work it: list the items, resolve one with a note and, for an
unanswered payment, an action: resend it, or settle it with the receiver's own confirmation.

The pipeline and the reconciliation sweep open exceptions (`paywire.services.pipeline`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from uuid import UUID

import orjson

from paywire.domain.audit_chain import AuditEntry
from paywire.domain.exception_kinds import ACK_MISSING
from paywire.domain.payment import REASON_CODE_MAX, Payment
from paywire.domain.roles import Actor, Role, require_role
from paywire.domain.statuses import Status, refuse_own
from paywire.domain.validation import Problems, required_text, text
from paywire.errors import Conflict, NotFound
from paywire.services import gauges
from paywire.services import pipeline as pipeline_services
from paywire.services.ledger import LedgerAdapter
from paywire.services.pipeline import SETTLED, Settlement
from paywire.store import audit, exception_queue
from paywire.store import payments as payment_store
from paywire.store.exception_queue import ExceptionItem
from paywire.store.messages import MANUAL, IncomingAnswer
from paywire.store.tx import Conn, Db, connection, transaction

NOTE_MAX = 1000
CONFIRMATION_MAX = 140


class Driver(Protocol):
    """What the actions need of the pipeline (`paywire.pipeline.runner.Pipeline`)."""

    @property
    def ledger(self) -> LedgerAdapter: ...

    async def grant_retry(
        self, conn: Conn, payment_id: UUID, actor: Actor, *, request_id: str | None = None
    ) -> None: ...

    def release(self, payment_id: UUID) -> None: ...


@dataclass(frozen=True, slots=True)
class Resend:
    """Grant the payment's message one more transmission."""

    def as_dict(self) -> dict[str, Any]:
        return {"name": "resend"}


@dataclass(frozen=True, slots=True)
class MarkSettled:
    """Settle the payment as the receiver confirmed outside the wire: with its ACK, or with its
    NACK and reason code. `confirmation` is the receiver's reference for what it said."""

    outcome: Literal["ACK", "NACK"]
    confirmation: str
    reason_code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": "mark_settled",
            "outcome": self.outcome,
            "confirmation": self.confirmation,
            "reason_code": self.reason_code,
        }


Action = Resend | MarkSettled


def parse_action(body: Mapping[str, Any]) -> Action | None:
    """The action a resolve body asks for, if any; ValidationError naming each problem."""
    problems = Problems()
    name = body.get("action")
    settle_fields = ("outcome", "confirmation", "reason_code")
    if name != "mark_settled":
        for field in settle_fields:
            if field in body:
                problems.add(field, "is only for the action mark_settled")
    if name not in (None, "resend", "mark_settled"):
        problems.add("action", 'must be "resend" or "mark_settled"')
    if name != "mark_settled":
        problems.raise_any("invalid resolution")
        return Resend() if name == "resend" else None
    outcome: Literal["ACK", "NACK"] = "NACK" if body.get("outcome") == "NACK" else "ACK"
    if body.get("outcome") not in ("ACK", "NACK"):
        problems.add("outcome", 'must be "ACK" or "NACK", as the receiver answered')
    confirmation = text(body.get("confirmation"), "confirmation", CONFIRMATION_MAX, problems)
    reason_code = None
    if outcome == "NACK":
        reason_code = text(body.get("reason_code"), "reason_code", REASON_CODE_MAX, problems)
    elif "reason_code" in body:
        problems.add("reason_code", "is only for a NACK")
    problems.raise_any("invalid resolution")
    assert confirmation is not None
    return MarkSettled(outcome, confirmation, reason_code)


async def list_exceptions(
    db: Db,
    *,
    limit: int,
    state: str | None = None,
    kind: str | None = None,
    after: int | None = None,
) -> list[ExceptionItem]:
    """Newest first; `after` is the id of the previous page's last item."""
    async with connection(db) as conn:
        return await exception_queue.page(conn, limit=limit, state=state, kind=kind, after=after)


async def resolve_exception(
    db: Db,
    exception_id: int,
    actor: Actor,
    note: object,
    action: Action | None = None,
    *,
    driver: Driver | None = None,
    request_id: str | None = None,
) -> ExceptionItem:
    """OPEN → RESOLVED by an ADMIN, with a note saying what was done, and the action taken with
    it in the same transaction; `driver` is needed for an action.

    Four eyes hold here as on the payment itself: neither its initiator nor its approver may
    resolve its exceptions, whatever their roles. Settling by hand fails a payment (and
    credits the debtor back) or completes it on the resolver's word, and a note alone closes
    a ledger mismatch: one person must not both make a payment and decide what became of it."""
    require_role(actor, Role.ADMIN)
    why = required_text(note, "note", NOTE_MAX, "a note is required")
    if action is not None and driver is None:
        raise ValueError("an action needs the pipeline")
    now = datetime.now(UTC)
    settlement: Settlement | None = None
    async with transaction(db) as conn:
        before = await exception_queue.get(conn, exception_id, lock=True)
        if before is None:
            raise NotFound(f"no exception {exception_id}")
        if before.state != "OPEN":
            raise Conflict(f"exception {exception_id} is {before.state}, not OPEN")
        payment = None
        if before.payment_id is not None:
            payment = await _check_payment(conn, before, actor, action)
        if action is not None:
            assert driver is not None
            settlement = await _act(conn, before, payment, actor, why, action, driver, request_id)
        after = await exception_queue.resolve(conn, exception_id, actor.username, why, now)
        assert after is not None  # locked and OPEN above
        record = after.as_dict()
        if action is not None:
            record["action"] = action.as_dict()
        entry = AuditEntry(
            operator=actor.username,
            action="exception.resolve",
            entity="exception",
            entity_id=str(exception_id),
            before=before.as_dict(),
            after=record,
            request_id=request_id,
        )
        await audit.append(conn, [entry], now)
    # Counted once committed, as the pipeline counts what it settles and the exceptions it
    # opens: a resolution that fails after its answer settled the payment leaves no count.
    await gauges.refresh_exceptions_open(db)
    if settlement is not None:
        pipeline_services.count_settled(settlement)
    if isinstance(action, Resend) and after.payment_id is not None:
        assert driver is not None
        driver.release(after.payment_id)
    return after


async def _check_payment(
    conn: Conn, item: ExceptionItem, actor: Actor, action: Action | None
) -> Payment | None:
    """The item's payment, locked for an action; four eyes on it, no note alone for an
    ACK_MISSING whose payment is still unanswered, and no action on one the receiver settled.

    A note alone would leave the message sent no more and the payment TRANSMITTED, its money
    in the clearing account, with nothing left to settle it and nothing left to report it
    (reconciliation takes a resolved exception as the item's account). An action is checked
    under the payment's lock: an answer settling it meanwhile skips the item this resolution
    holds, so the operator must hear that the payment is settled, not that a resend failed."""
    assert item.payment_id is not None
    if action is None:
        payment = await payment_store.get(conn, item.payment_id)
    else:
        payment = next(iter(await payment_store.lock(conn, [item.payment_id])), None)
    if payment is None:
        return None
    refuse_own(actor, payment.created_by, payment.approved_by, "resolve its exceptions")
    if action is None and item.kind == ACK_MISSING and payment.status is Status.TRANSMITTED:
        raise Conflict(
            f"payment {payment.reference} is still unanswered: resolve its ACK_MISSING with the "
            'action "resend", or "mark_settled" with the answer the receiver gave you; or leave '
            "it open until the receiver answers"
        )
    if action is not None and item.kind == ACK_MISSING and payment.status in SETTLED:
        raise Conflict(
            f"payment {payment.reference} is {payment.status}, settled by its first answer: "
            f"there is nothing to resend or settle; resolve exception {item.id} with a note alone"
        )
    return payment


async def _act(
    conn: Conn,
    item: ExceptionItem,
    payment: Payment | None,
    actor: Actor,
    note: str,
    action: Action,
    driver: Driver,
    request_id: str | None,
) -> Settlement | None:
    """Take `action` in the resolution's transaction; what a settlement by hand did, for the
    caller to count once that transaction has committed."""
    if payment is None:
        raise Conflict(f"exception {item.id} has no payment to act on")
    if isinstance(action, Resend):
        await driver.grant_retry(conn, payment.id, actor, request_id=request_id)
        return None
    if payment.status is not Status.TRANSMITTED:
        raise Conflict(f"the payment is {payment.status}: only a TRANSMITTED one is settled")
    # Recorded as an answer like any other, marked MANUAL, so the payment is settled the one
    # way every payment is: a NACK still reverses the posting, and nothing fails without one.
    answer = IncomingAnswer(
        msg_id=payment.msg_id,
        kind=action.outcome,
        status=MANUAL,
        reason_code=action.reason_code,
        reason_text=action.confirmation,
        uetr=None,
        payload=orjson.dumps(
            {
                "manual": True,
                "exception_id": item.id,
                "operator": actor.username,
                "note": note,
                **action.as_dict(),
            },
            option=orjson.OPT_SORT_KEYS,
        ),
        received_at=datetime.now(UTC),
    )
    # The payment is locked by this transaction, so the answer cannot be handed back to wait.
    return await pipeline_services.settle_in(
        conn, [answer], driver.ledger, request_id=request_id, resolving=item.id
    )
