"""The pipeline's steps, each over a batch in one transaction: screen, post, transmit, settle.

The pipeline claims work with `claim` (FOR UPDATE SKIP LOCKED) and passes the claiming
connection, so claim and step commit together; a payment no longer in the step's status is
skipped, never failed. Each step makes its status change last: the audit append in it holds the
chain head until the commit, and every other transaction that audits waits for that lock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from paywire.domain.accounts import PostingRequest
from paywire.domain.audit_chain import AuditEntry
from paywire.domain.exception_kinds import (
    ACK_MISSING,
    MISSING_REVERSAL,
    ORPHAN_ACK,
    PROCESSING_ERROR,
)
from paywire.domain.money import currency_digits
from paywire.domain.payment import REASON_CODE_MAX, Payment, Reason, utc_iso
from paywire.domain.roles import SYSTEM, SYSTEM_ACTOR
from paywire.domain.screening import ScreeningRules, summarise
from paywire.domain.statuses import Status
from paywire.observability.metrics import (
    payment_processing_duration_seconds,
    payments_completed_total,
    payments_failed_total,
)
from paywire.services import gauges
from paywire.services.ledger import LedgerAdapter
from paywire.services.transitions import Move, move
from paywire.store import audit, delivery, exception_queue, messages
from paywire.store import payments as store
from paywire.store.delivery import Transmission
from paywire.store.exception_queue import ExceptionItem, NewException
from paywire.store.messages import MANUAL, IncomingAnswer, OutgoingMessage
from paywire.store.payments import claim
from paywire.store.tx import Conn, Db, Pool, transaction

# Why a payment approved earlier is REJECTED at posting: its value date has passed, or its
# currency has left ISO 4217, since.
VALUE_DATE_PASSED = "VALUE_DATE_PASSED"
CURRENCY_WITHDRAWN = "CURRENCY_WITHDRAWN"

__all__ = [
    "Outcome",
    "Settlement",
    "claim",
    "count_settled",
    "open_exceptions",
    "open_exceptions_in",
    "post",
    "screen_and_post",
    "settle",
    "settle_in",
    "transmit",
]

NACK = "NACK"


@dataclass(frozen=True, slots=True)
class Outcome:
    """Payments moved, by the status they entered; those not in the step's status are left."""

    moved: dict[Status, list[UUID]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Settlement:
    """What a batch of answers did: payments completed and failed, answers for settled messages
    (ignored), answers naming no message (orphans), answers held as PROCESSING_ERROR (refused),
    and answers whose payment another transaction held: neither applied nor stored (waiting).
    Kept for the metrics, counted once the batch has committed: the exceptions it opened or
    closed, and each settled payment's seconds from approval to answer."""

    completed: list[UUID] = field(default_factory=list)
    failed: list[UUID] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    waiting: list[IncomingAnswer] = field(default_factory=list)
    exceptions: list[ExceptionItem] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)


async def post(
    db: Db,
    payment_ids: Sequence[UUID],
    ledger: LedgerAdapter,
    compose: Callable[[Payment], OutgoingMessage],
) -> Outcome:
    """SCREENED → POSTED (the payments compliance released) through the ledger, with each posted
    payment's message composed and stored in the same transaction; or REJECTED with the ledger's
    reason (for one, INSUFFICIENT_FUNDS)."""
    async with transaction(db) as conn:
        ready = await _lock(conn, payment_ids, Status.SCREENED)
        moves = await _posting(conn, ready, ledger, compose)
        await move(conn, moves, SYSTEM_ACTOR)
    return _outcome(moves)


async def screen_and_post(
    db: Db,
    payment_ids: Sequence[UUID],
    rules: ScreeningRules,
    ledger: LedgerAdapter,
    compose: Callable[[Payment], OutgoingMessage],
) -> Outcome:
    """APPROVED → SCREENED, or HELD with the reason of every rule hit; then what screening
    cleared is posted as `post` posts it, in the same transaction: one step less on every
    payment's way. The audit rows of both changes are written last, after the ledger has locked
    its accounts, so the chain head stays the last lock taken."""
    async with transaction(db) as conn:
        ready = await _lock(conn, payment_ids, Status.APPROVED)
        journal = audit.Journal()
        screening = _screening(ready, rules)
        screened = await move(conn, screening, SYSTEM_ACTOR, journal=journal)
        cleared = [p for p in screened.payments() if p.status is Status.SCREENED]
        posting = await _posting(conn, cleared, ledger, compose)
        await move(conn, posting, SYSTEM_ACTOR, journal=journal)
        await journal.write(conn)
    held = [m for m in screening if m.target is not Status.SCREENED]
    return _outcome(held + posting)


def _screening(ready: Sequence[Payment], rules: ScreeningRules) -> list[Move]:
    moves = []
    for payment in ready:
        hits = rules.screen(payment)
        if hits:
            moves.append(Move(payment, Status.HELD, Reason(*summarise(hits))))
        else:
            moves.append(Move(payment, Status.SCREENED))
    return moves


async def _posting(
    conn: Conn,
    ready: Sequence[Payment],
    ledger: LedgerAdapter,
    compose: Callable[[Payment], OutgoingMessage],
) -> list[Move]:
    """Post through the ledger, in approval order, and store each posted payment's message; the
    moves to make. The ledger takes funds in the order it is handed the payments, and they come
    locked in id order (which keeps lockers from deadlocking): posted so, a payment approved
    later took the funds of one approved before it whenever its random id sorted first. Approval
    order is also the order the screen stage claims in, so a batch posts as the one-by-one
    fallback after a failed batch would."""
    today = datetime.now(UTC).date()
    ready = sorted(ready, key=_approval_order)
    refused = {p.id: why for p in ready if (why := _not_to_post(p, today)) is not None}
    postable = [p for p in ready if p.id not in refused]
    refused |= await ledger.post(
        conn, [PostingRequest(p.id, p.debtor.account, p.amount, p.currency) for p in postable]
    )
    await messages.insert_messages(conn, [compose(p) for p in ready if p.id not in refused])
    return [
        Move(p, Status.REJECTED, refused[p.id]) if p.id in refused else Move(p, Status.POSTED)
        for p in ready
    ]


def _not_to_post(payment: Payment, today: date) -> Reason | None:
    """Why a payment approved or released earlier must not be posted now, if it must not:
    checked at entry and at approval, the terms may have stopped holding since (approved at
    23:59 UTC, a night without the database, a quarantine over midnight, an upgrade between).
    Refused before any money moves, as the message could not go as approved."""
    if payment.value_date < today:
        # The message would carry a settlement date in the past; the date is the debtor's
        # instruction, not the gateway's to move.
        return Reason(
            VALUE_DATE_PASSED,
            f"its value date {payment.value_date} passed (today is {today}, UTC) before it was"
            " posted: enter it again with today's date or a later one",
        )
    try:
        currency_digits(payment.currency)
    except ValueError:
        # Withdrawn from ISO 4217 by an upgrade of the table since it was entered: no message
        # can be built in it, and its posting would be rolled back and tried again for ever.
        return Reason(
            CURRENCY_WITHDRAWN,
            f"its currency {payment.currency} is no longer an ISO 4217 currency: enter it again"
            " in the currency that replaced it",
        )
    return None


async def transmit(
    db: Db, payment_ids: Sequence[UUID], *, at: datetime, lease: timedelta, by: str
) -> list[Transmission]:
    """POSTED → TRANSMITTED with the first transmission of each stored message recorded, before
    it is sent: from here on an answer can settle it and, if the send never happens, the
    message falls due again once `lease` has passed."""
    async with transaction(db) as conn:
        ready = await _lock(conn, payment_ids, Status.POSTED)
        sends = await delivery.start(conn, [p.id for p in ready], at=at, lease=lease, by=by)
        await move(conn, [Move(p, Status.TRANSMITTED) for p in ready], SYSTEM_ACTOR)
        return sends


async def settle(
    db: Pool, answers: Sequence[IncomingAnswer], ledger: LedgerAdapter, *, recheck: bool = False
) -> Settlement:
    """Apply answers as `settle_in` does, in a transaction of their own, and count them once it
    has committed."""
    async with transaction(db) as conn:
        result = await settle_in(conn, answers, ledger, recheck=recheck)
    # After a lost commit, the exceptions it opened or closed are not in the result.
    if result.exceptions or recheck:
        await gauges.refresh_exceptions_open(db)
    count_settled(result)
    return result


async def settle_in(
    conn: Conn,
    answers: Sequence[IncomingAnswer],
    ledger: LedgerAdapter,
    *,
    request_id: str | None = None,
    resolving: int | None = None,
    recheck: bool = False,
) -> Settlement:
    """Apply answers in the caller's transaction: the first for a TRANSMITTED payment settles
    it, ACK → COMPLETED, NACK → FAILED with its posting reversed. Every answer is kept; one
    naming no message opens an ORPHAN_ACK exception, one whose UETR differs from the message's a
    PROCESSING_ERROR, and one contradicting how the payment was settled (a NACK after the ACK,
    or an ACK after the NACK an operator recorded) an ACK_MISSING: the ledger follows the first
    answer, and an operator must find out from the receiver which is true. UETRs are compared as
    the connection compares them: as text, in the lower case `parse_answer` hands over and
    `str(UUID)` writes, so an answer settles the same on either path. `request_id` ties the
    audit rows to the operator's request that recorded an answer, and `resolving` names the
    exception that request resolves with it. An answer whose payment another transaction holds
    is handed back in `waiting`, untouched, with any other answer to the same message: the
    caller settles them again later, in their order (the first settles). With `recheck`, the
    caller is settling answers again after a failure that may have come after their commit (a
    COMMIT whose reply was lost): those stored already are not stored or applied again, and the
    ones among them that settled their payments are in the result, so that they are counted
    once. Nothing is counted here: the caller counts the result (`count_settled`, and
    `exceptions_open` when it opened or closed any) once its transaction has committed, as
    `settle` does; counted inside it, a rollback (of the resolution an operator records an
    answer with) would leave settlements counted that never happened."""
    result = Settlement()
    settled: list[tuple[Payment, IncomingAnswer]] = []
    # Settled by a commit the caller did not hear of: counted, not applied again.
    settled_before: list[tuple[Payment, IncomingAnswer]] = []
    async with transaction(conn):
        found = await store.lock_by_msg_id(conn, sorted({a.msg_id for a in answers}))
        locked, held = found.locked, found.held
        if held:
            result.waiting.extend(a for a in answers if a.msg_id in held)
            answers = [a for a in answers if a.msg_id not in held]
            if not answers:
                return result
        by_msg_id = {p.msg_id: p for p in locked}
        if recheck:
            stored = await messages.already_stored(conn, answers)
            settled_before = [
                (by_msg_id[a.msg_id], a)
                for a in answers
                if stored.get(messages.receipt(a)) and a.msg_id in by_msg_id
            ]
            answers = [a for a in answers if messages.receipt(a) not in stored]
        await messages.insert_answers(
            conn, answers, [_payment_id(by_msg_id, a.msg_id) for a in answers]
        )
        moves, problems = [], []
        taken: dict[UUID, str] = {}  # the payments this batch settles, with the answer's kind
        for answer in answers:
            payment = by_msg_id.get(answer.msg_id)
            if payment is None:
                result.orphans.append(answer.msg_id)
                problems.append(
                    NewException(ORPHAN_ACK, None, answer.msg_id, f"{answer.kind} {answer.status}")
                )
            elif payment.id in taken or payment.status is not Status.TRANSMITTED:
                result.ignored.append(answer.msg_id)
                settled_as = taken.get(payment.id) or _SETTLED_AS.get(payment.status)
                if settled_as is None:
                    # POSTED: its message is stored but was never sent (a send follows the
                    # commit of TRANSMITTED). A receiver answering it has it from elsewhere, and
                    # so has one answering a message whose transmissions were given back.
                    problems.append(_unsent(payment, answer))
                elif settled_as != answer.kind and _names(answer, payment):
                    problems.append(_contradiction(payment, answer, settled_as))
            elif payment.id in found.never_sent and answer.status != MANUAL:
                # Its every transmission was given back unsent (the breaker opened, no
                # connection had room): its message never reached the receiver either.
                result.ignored.append(answer.msg_id)
                problems.append(_unsent(payment, answer))
            elif not _names(answer, payment):
                result.refused.append(answer.msg_id)
                problems.append(
                    NewException(
                        PROCESSING_ERROR,
                        payment.id,
                        answer.msg_id,
                        f"{answer.kind} names UETR {answer.uetr}, the message has {payment.uetr}",
                    )
                )
            else:
                taken[payment.id] = answer.kind
                settled.append((payment, answer))
                moves.append(_settling_move(payment, answer))
        failed = [m.payment.id for m in moves if m.target is Status.FAILED]
        reversed_ids = set(await ledger.reverse(conn, failed)) if failed else set()
        problems += [
            NewException(MISSING_REVERSAL, pid, None, "no posting to reverse")
            for pid in failed
            if pid not in reversed_ids
        ]
        await messages.mark_answered(
            conn, [p.id for p, _ in settled], [a.received_at for _, a in settled]
        )
        # The audit rows last, once every other lock is taken: opening an exception may wait for
        # an operator resolving the same item, who in turn waits for the chain head, which
        # appending would hold by then. Closed before the batch's own problems open: a
        # contradiction within the batch (an ACK and a NACK for one payment) opens an
        # ACK_MISSING the answer must not close.
        journal = audit.Journal()
        result.exceptions.extend(await _close_answered(conn, settled, journal, resolving))
        result.exceptions.extend(await open_exceptions_in(conn, problems, journal))
        await move(conn, moves, SYSTEM_ACTOR, request_id=request_id, journal=journal)
        await journal.write(conn)
    for payment, answer in settled + settled_before:
        (result.completed if answer.kind == "ACK" else result.failed).append(payment.id)
        if payment.approved_at is not None:
            elapsed = (answer.received_at - payment.approved_at).total_seconds()
            result.durations.append(max(elapsed, 0.0))
    return result


def count_settled(settlement: Settlement) -> None:
    """Count the payments a settlement completed and failed, and how long each took; once the
    transaction it was part of has committed."""
    payments_completed_total.inc(len(settlement.completed))
    payments_failed_total.inc(len(settlement.failed))
    for seconds in settlement.durations:
        payment_processing_duration_seconds.observe(seconds)


async def open_exceptions(db: Pool, items: Sequence[NewException]) -> list[ExceptionItem]:
    """Open exceptions (e.g. a PROCESSING_ERROR for a payment that failed its step) in a
    transaction of their own; one already open is kept."""
    async with transaction(db) as conn:
        opened = await open_exceptions_in(conn, items)
    if opened:
        await gauges.refresh_exceptions_open(db)
    return opened


async def open_exceptions_in(
    conn: Conn, items: Sequence[NewException], journal: audit.Journal | None = None
) -> list[ExceptionItem]:
    """Open and audit, in the caller's transaction, the exceptions not already open; the audit
    rows now, or in `journal` for the caller to write last. The caller refreshes
    `exceptions_open` once its transaction has committed: counted inside it, the gauge would
    also count what a rollback then takes back, and a failure of the count that the refresh
    shrugs off would leave the caller's transaction aborted."""
    if not items:
        return []
    opened = await exception_queue.open_many(conn, items)
    await audit_opened(conn, opened, journal)
    return opened


async def audit_opened(
    conn: Conn, opened: Sequence[ExceptionItem], journal: audit.Journal | None = None
) -> None:
    """Audit, as the gateway, the exceptions just opened in the caller's transaction: now, or
    in `journal` for the caller to write last."""
    entries = [
        AuditEntry.by_system("exception.open", "exception", str(item.id), after=item.as_dict())
        for item in opened
    ]
    if journal is None:
        await audit.append(conn, entries)
    else:
        journal.add(entries, datetime.now(UTC))


async def _close_answered(
    conn: Conn,
    settled: Sequence[tuple[Payment, IncomingAnswer]],
    journal: audit.Journal,
    resolving: int | None,
) -> list[ExceptionItem]:
    """Resolve, as the gateway, the open ACK_MISSING of each payment settled, their audit rows
    in `journal`: the answer came after all, and an operator asking the receiver for it would
    ask for nothing. The exception an operator resolves by recording an answer (`resolving`)
    is theirs to close; any other ACK_MISSING of that payment is closed here too."""
    answered = {p.id: a for p, a in settled}
    locked = await exception_queue.lock_open(conn, ACK_MISSING, list(answered))
    waiting = {pid: item for pid, item in locked.items() if item.id != resolving}
    if not waiting:
        return []
    before = {item.id: item for item in waiting.values()}
    notes = {item.id: _closing_note(answered[pid], resolving) for pid, item in waiting.items()}
    at = datetime.now(UTC)
    closed = await exception_queue.resolve_many(conn, notes, SYSTEM, at)
    journal.add(
        [
            AuditEntry.by_system(
                "exception.resolve",
                "exception",
                str(item.id),
                before=before[item.id].as_dict(),
                after=item.as_dict(),
            )
            for item in closed
        ],
        at,
    )
    return closed


def _closing_note(answer: IncomingAnswer, resolving: int | None) -> str:
    """What closed an ACK_MISSING: the receiver's answer, come after all, or an operator's
    record of it through exception `resolving`."""
    settled_as = "COMPLETED" if answer.kind == "ACK" else "FAILED"
    if answer.status == MANUAL:
        return (
            f"settled by hand with exception {resolving}: {answer.kind} recorded "
            f"{utc_iso(answer.received_at)}; the payment is {settled_as}"
        )
    return (
        f"the receiver answered after all: {answer.kind} {answer.status} received "
        f"{utc_iso(answer.received_at)}; the payment is {settled_as}"
    )


async def _lock(conn: Conn, payment_ids: Sequence[UUID], status: Status) -> list[Payment]:
    """The payments still in `status`, locked; the others are skipped, never failed."""
    locked = await store.lock(conn, payment_ids)
    return [p for p in locked if p.status is status]


def _approval_order(payment: Payment) -> tuple[datetime, UUID]:
    """Approved first, first; the id orders payments approved together (`approve_many`)."""
    assert payment.approved_at is not None  # every payment screened or posted was approved
    return payment.approved_at, payment.id


def _outcome(moves: Sequence[Move]) -> Outcome:
    moved: dict[Status, list[UUID]] = defaultdict(list)
    for m in moves:
        moved[m.target].append(m.payment.id)
    return Outcome(dict(moved))


def _settling_move(payment: Payment, answer: IncomingAnswer) -> Move:
    if answer.kind == "ACK":
        return Move(payment, Status.COMPLETED)
    code = answer.reason_code or NACK
    text = answer.reason_text
    if len(code) > REASON_CODE_MAX:
        code, text = NACK, f"{answer.reason_code}: {answer.reason_text or ''}".rstrip(": ")
    return Move(payment, Status.FAILED, Reason(code, text))


_SETTLED_AS = {Status.COMPLETED: "ACK", Status.FAILED: "NACK"}
# What an answer (or its record by hand) leaves a payment in.
SETTLED = frozenset(_SETTLED_AS)


def _unsent(payment: Payment, answer: IncomingAnswer) -> NewException:
    return NewException(
        PROCESSING_ERROR,
        payment.id,
        answer.msg_id,
        f"{answer.kind} {answer.status} for a message not sent yet (the payment is "
        f"{payment.status}, no transmission of it has left): kept, not settled; ask the receiver"
        " where it has it from",
    )


def _names(answer: IncomingAnswer, payment: Payment) -> bool:
    """Whether the answer is to this payment's message: no UETR, or the message's."""
    return answer.uetr is None or answer.uetr == str(payment.uetr)


def _contradiction(payment: Payment, answer: IncomingAnswer, settled_as: str) -> NewException:
    return NewException(
        ACK_MISSING,
        payment.id,
        answer.msg_id,
        f"{answer.kind} {answer.status} after the payment was settled by a {settled_as}: the "
        "answers contradict each other; the ledger follows the first",
    )


def _payment_id(by_msg_id: dict[str, Payment], msg_id: str) -> UUID | None:
    payment = by_msg_id.get(msg_id)
    return payment.id if payment else None
