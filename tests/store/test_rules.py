"""The rules the database itself enforces, tried with plain SQL that bypasses paywire's code."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from paywire.domain.statuses import TRANSITIONS, Status
from paywire.store.tx import Pool

ACME = "DE89370400440532013000"
# How each status is reached along allowed transitions, with what the other checks need.
PATH = {
    Status.INITIATED: [],
    Status.APPROVED: [Status.APPROVED],
    Status.SCREENED: [Status.APPROVED, Status.SCREENED],
    Status.HELD: [Status.APPROVED, Status.HELD],
    Status.POSTED: [Status.APPROVED, Status.SCREENED, Status.POSTED],
    Status.TRANSMITTED: [Status.APPROVED, Status.SCREENED, Status.POSTED, Status.TRANSMITTED],
    Status.COMPLETED: [
        Status.APPROVED, Status.SCREENED, Status.POSTED, Status.TRANSMITTED, Status.COMPLETED,
    ],
    Status.CANCELLED: [Status.CANCELLED],
    Status.REJECTED: [Status.REJECTED],
    Status.FAILED: [
        Status.APPROVED, Status.SCREENED, Status.POSTED, Status.TRANSMITTED, Status.FAILED,
    ],
}  # fmt: skip
ALLOWED = {(t.source, t.target) for t in TRANSITIONS}


@pytest.fixture
async def conn(owner_pool: Pool) -> AsyncIterator[asyncpg.Connection]:
    """A session of the schema's owner, who holds every privilege on the tables: what refuses
    it is the rules themselves (the gateway's role is refused more, tests/store/test_grants.py)."""
    async with owner_pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO operators (username, password_hash, roles) VALUES"
            " ('mia', '$argon2id$x', '{MAKER}'), ('carol', '$argon2id$x', '{CHECKER}')"
        )
        await connection.execute(
            "INSERT INTO accounts (account, name, currency, balance)"
            " VALUES ($1, 'ACME', 'EUR', 100)",
            ACME,
        )
        yield connection


async def _payment(conn: asyncpg.Connection, status: Status = Status.INITIATED) -> uuid.UUID:
    payment_id: uuid.UUID = await conn.fetchval(
        """
        INSERT INTO payments (amount, currency, value_date, debtor_name, debtor_account,
                              creditor_name, creditor_account, creditor_agent_bic, created_by)
        VALUES (10, 'EUR', current_date, 'ACME', $1, 'Globex', 'FR1420041010050500013M02606',
                'BNPAFRPP', 'mia')
        RETURNING id
        """,
        ACME,
    )
    for step in PATH[status]:
        await _set_status(conn, payment_id, step)
    return payment_id


async def _set_status(conn: asyncpg.Connection, payment_id: uuid.UUID, status: Status) -> None:
    await conn.execute(
        """
        UPDATE payments SET status = $2, reason_code = 'X',
            approved_by = coalesce(approved_by, CASE WHEN $2 = 'APPROVED' THEN 'carol' END),
            approved_at = coalesce(approved_at, CASE WHEN $2 = 'APPROVED' THEN now() END)
        WHERE id = $1
        """,
        payment_id,
        status.value,
    )


async def _approved(conn: asyncpg.Connection, n: int) -> list[uuid.UUID]:
    """N payments entered and approved in two statements, in the order of their ids."""
    ids: list[uuid.UUID] = await conn.fetchval(
        """
        WITH p AS (
            INSERT INTO payments (amount, currency, value_date, debtor_name, debtor_account,
                                  creditor_name, creditor_account, creditor_agent_bic, created_by)
            SELECT 10, 'EUR', current_date, 'ACME', $1, 'Globex',
                   'FR1420041010050500013M02606', 'BNPAFRPP', 'mia'
            FROM generate_series(1, $2)
            RETURNING id
        )
        SELECT array_agg(id ORDER BY id) FROM p
        """,
        ACME,
        n,
    )
    await conn.execute(
        "UPDATE payments SET status = 'APPROVED', approved_by = 'carol', approved_at = now()"
        " WHERE id = ANY($1::uuid[])",
        ids,
    )
    return ids


async def test_the_database_knows_exactly_the_domains_transitions(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch("SELECT from_status, to_status FROM payment_transitions")
    assert {(Status(r["from_status"]), Status(r["to_status"])) for r in rows} == ALLOWED


@pytest.mark.parametrize("source", list(Status))
async def test_every_illegal_transition_is_refused_by_the_database(
    conn: asyncpg.Connection, source: Status
) -> None:
    payment_id = await _payment(conn, source)
    refused = [t for t in Status if t is not source and (source, t) not in ALLOWED]
    for target in refused:
        # The row's CHECK constraints run before the once-per-statement transition check, so
        # a change that also breaks one of them (approved_before_processing, say) is refused
        # under that name.
        with pytest.raises(
            asyncpg.CheckViolationError, match=r"not an allowed transition|violates check"
        ):
            async with conn.transaction():
                await _set_status(conn, payment_id, target)
    assert refused  # every status has some target it may not take


async def test_every_allowed_transition_passes_the_database(conn: asyncpg.Connection) -> None:
    for source, target in sorted(ALLOWED):
        payment_id = await _payment(conn, source)
        await _set_status(conn, payment_id, target)
        status = await conn.fetchval("SELECT status FROM payments WHERE id = $1", payment_id)
        assert status == target


async def test_a_payment_starts_initiated(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="starts INITIATED"):
        await conn.execute(
            """
            INSERT INTO payments (status, amount, currency, value_date, debtor_name, debtor_account,
                                  creditor_name, creditor_account, creditor_agent_bic, created_by)
            VALUES ('APPROVED', 10, 'EUR', current_date, 'A', $1, 'G', 'X1', 'BNPAFRPP', 'mia')
            """,
            ACME,
        )


async def test_four_eyes_is_a_check_constraint(conn: asyncpg.Connection) -> None:
    payment_id = await _payment(conn)
    with pytest.raises(asyncpg.CheckViolationError, match="payments_four_eyes"):
        await conn.execute(
            "UPDATE payments SET status = 'APPROVED', approved_by = 'mia', approved_at = now()"
            " WHERE id = $1",
            payment_id,
        )


async def test_unknown_statuses_and_unapproved_processing_are_refused(
    conn: asyncpg.Connection,
) -> None:
    initiated, approved = await _payment(conn), await _payment(conn, Status.APPROVED)
    await conn.execute("ALTER TABLE payments DISABLE TRIGGER payments_transition")
    try:
        with pytest.raises(asyncpg.CheckViolationError, match="payments_status_known"):
            await conn.execute("UPDATE payments SET status = 'PAID' WHERE id = $1", approved)
        with pytest.raises(asyncpg.CheckViolationError, match="approved_before_processing"):
            await conn.execute("UPDATE payments SET status = 'POSTED' WHERE id = $1", initiated)
    finally:
        await conn.execute("ALTER TABLE payments ENABLE TRIGGER payments_transition")


async def test_the_terms_of_a_payment_are_fixed(conn: asyncpg.Connection) -> None:
    payment_id = await _payment(conn, Status.APPROVED)
    for sql in (
        "UPDATE payments SET amount = 11 WHERE id = $1",
        "UPDATE payments SET creditor_account = 'X' WHERE id = $1",
        "UPDATE payments SET approved_by = NULL, approved_at = NULL WHERE id = $1",
    ):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="fixed"):
            await conn.execute(sql, payment_id)


async def test_the_debtor_must_be_a_ledger_account_in_the_currency(
    conn: asyncpg.Connection,
) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute(
            """
            INSERT INTO payments (amount, currency, value_date, debtor_name, debtor_account,
                                  creditor_name, creditor_account, creditor_agent_bic, created_by)
            VALUES (10, 'USD', current_date, 'A', $1, 'G', 'X1', 'BNPAFRPP', 'mia')
            """,
            ACME,
        )


async def test_history_and_ledger_are_append_only(conn: asyncpg.Connection) -> None:
    payment_id = await _payment(conn)
    await conn.execute(
        "INSERT INTO payment_events (payment_id, status, at, by)"
        " VALUES ($1, 'INITIATED', now(), 'mia')",
        payment_id,
    )
    for sql in ("UPDATE payment_events SET by = 'x'", "DELETE FROM payment_events"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await conn.execute(sql)
    account_id = await conn.fetchval("SELECT id FROM accounts WHERE account = $1", ACME)
    clearing = await conn.fetchval(
        "INSERT INTO accounts (account, name, currency, kind) VALUES ('C', 'C', 'EUR', 'CLEARING')"
        " RETURNING id"
    )
    posting_id = uuid.uuid4()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO postings (id, payment_id, kind) VALUES ($1, $2, 'POSTING')",
            posting_id,
            payment_id,
        )
        await conn.execute(
            "INSERT INTO ledger_entries (posting_id, account_id, amount, currency)"
            " VALUES ($1, $2, -10, 'EUR'), ($1, $3, 10, 'EUR')",
            posting_id,
            account_id,
            clearing,
        )
    for sql in ("UPDATE ledger_entries SET amount = 1", "DELETE FROM postings"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await conn.execute(sql)
    with pytest.raises(asyncpg.UniqueViolationError, match="postings_one_per_kind"):
        await conn.execute(
            "INSERT INTO postings (id, payment_id, kind) VALUES ($1, $2, 'POSTING')",
            uuid.uuid4(),
            payment_id,
        )


@pytest.mark.parametrize(
    "table",
    [
        "payments",
        "payment_events",
        "idempotency_keys",
        "payment_work",
        "accounts",
        "postings",
        "ledger_entries",
        "messages",
        "answers",
        "exceptions",
        "audit_chain",
        "operators",  # no rule of its own: the cascade reaches the payments
    ],
)
async def test_records_cannot_be_truncated_even_by_cascade(
    conn: asyncpg.Connection, table: str
) -> None:
    await _payment(conn)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="are records"):
        await conn.execute(f"TRUNCATE {table} CASCADE")
    assert await conn.fetchval("SELECT count(*) FROM payments") == 1


async def test_an_unbalanced_posting_is_refused_at_commit(conn: asyncpg.Connection) -> None:
    payment_id = await _payment(conn)
    account_id = await conn.fetchval("SELECT id FROM accounts WHERE account = $1", ACME)
    posting_id = uuid.uuid4()
    transaction = conn.transaction()
    await transaction.start()
    await conn.execute(
        "INSERT INTO postings (id, payment_id, kind) VALUES ($1, $2, 'POSTING')",
        posting_id,
        payment_id,
    )
    # One leg only: accepted for now, since the check waits for the commit.
    await conn.execute(
        "INSERT INTO ledger_entries (posting_id, account_id, amount, currency)"
        " VALUES ($1, $2, -10, 'EUR')",
        posting_id,
        account_id,
    )
    with pytest.raises(asyncpg.CheckViolationError, match="not balanced"):
        await transaction.commit()
    assert await conn.fetchval("SELECT count(*) FROM ledger_entries") == 0


async def test_entries_are_in_their_accounts_currency(conn: asyncpg.Connection) -> None:
    payment_id = await _payment(conn)
    account_id = await conn.fetchval("SELECT id FROM accounts WHERE account = $1", ACME)
    posting_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO postings (id, payment_id, kind) VALUES ($1, $2, 'POSTING')",
        posting_id,
        payment_id,
    )
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="ledger_entries_account_fkey"):
        await conn.execute(
            "INSERT INTO ledger_entries (posting_id, account_id, amount, currency)"
            " VALUES ($1, $2, -10, 'USD')",
            posting_id,
            account_id,
        )


async def test_balances_stay_covered_unless_overdraft(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.CheckViolationError, match="accounts_funded"):
        await conn.execute("UPDATE accounts SET balance = -0.01 WHERE account = $1", ACME)
    await conn.execute(
        "UPDATE accounts SET overdraft = true, balance = -5 WHERE account = $1", ACME
    )


@pytest.mark.parametrize(
    ("roles", "username"),
    [
        ([], "ok"),
        (["MAKER", "ROOT"], "ok"),
        (["MAKER", None], "ok"),
        (["MAKER"], "system"),
        (["MAKER"], "Mia"),
    ],
)
async def test_operator_roles_and_names_are_checked(
    conn: asyncpg.Connection, roles: list[str | None], username: str
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO operators (username, password_hash, roles) VALUES ($1, '$argon2id$x', $2)",
            username,
            roles,
        )


async def test_user_names_are_permanent(conn: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="permanent"):
        await conn.execute("UPDATE operators SET username = 'mia2' WHERE username = 'mia'")


async def test_exceptions_open_once_and_resolve_with_a_note(conn: asyncpg.Connection) -> None:
    payment_id = await _payment(conn)
    insert = "INSERT INTO exceptions (kind, payment_id) VALUES ('ACK_MISSING', $1) RETURNING id"
    exception_id = await conn.fetchval(insert, payment_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.fetchval(insert, payment_id)
    with pytest.raises(asyncpg.CheckViolationError, match="exceptions_resolution"):
        await conn.execute(
            "UPDATE exceptions SET state = 'RESOLVED', resolved_at = now(), resolved_by = 'mia',"
            " note = ' ' WHERE id = $1",
            exception_id,
        )
    await conn.execute(
        "UPDATE exceptions SET state = 'RESOLVED', resolved_at = now(), resolved_by = 'mia',"
        " note = 'answered by phone' WHERE id = $1",
        exception_id,
    )
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="OPEN to RESOLVED"):
        await conn.execute("UPDATE exceptions SET state = 'OPEN' WHERE id = $1", exception_id)
    assert await conn.fetchval(insert, payment_id) != exception_id  # a new one may open now


@pytest.mark.parametrize(("resolver", "known"), [("mia", True), ("system", True), ("eve", False)])
async def test_an_exception_is_resolved_by_an_operator_or_the_gateway(
    conn: asyncpg.Connection, resolver: str, known: bool
) -> None:
    """`system` (the gateway closing an ACK_MISSING whose answer came late) besides operators;
    no one else (migration 0019, which replaced the foreign key on operators)."""
    exception_id = await conn.fetchval(
        "INSERT INTO exceptions (kind, payment_id) VALUES ('ACK_MISSING', $1) RETURNING id",
        await _payment(conn),
    )
    resolve = (
        "UPDATE exceptions SET state = 'RESOLVED', resolved_at = now(), resolved_by = $2,"
        " note = 'answered' WHERE id = $1"
    )
    if known:
        await conn.execute(resolve, exception_id, resolver)
    else:
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="not by eve"):
            await conn.execute(resolve, exception_id, resolver)


async def test_references_follow_the_format_and_never_repeat(conn: asyncpg.Connection) -> None:
    references = await conn.fetch("SELECT payment_reference() AS r FROM generate_series(1, 2000)")
    values = [row["r"] for row in references]
    assert len(set(values)) == len(values)
    assert all(len(v) == 20 and v.startswith("PW-") for v in values)
    assert len({v[-1] for v in itertools.islice(values, 64)}) > 8  # scrambled, not counting


WORK = {Status.APPROVED, Status.SCREENED, Status.HELD, Status.POSTED, Status.TRANSMITTED}


@pytest.mark.parametrize("status", list(Status))
async def test_the_work_list_follows_every_status_change(
    conn: asyncpg.Connection, status: Status
) -> None:
    """Whoever changes a status, plain SQL included, the pipeline's work list follows: listed
    with its status and the time it entered it while the pipeline works on it, gone after."""
    payment_id = await _payment(conn, status)
    listed = await conn.fetchrow(
        "SELECT w.status, w.since = p.updated_at AS since_entered FROM payment_work w"
        " JOIN payments p ON p.id = w.payment_id WHERE w.payment_id = $1",
        payment_id,
    )
    if status in WORK:
        assert listed is not None
        assert (Status(listed["status"]), listed["since_entered"]) == (status, True)
    else:
        assert listed is None


async def test_the_work_list_follows_a_batch_in_one_statement(conn: asyncpg.Connection) -> None:
    ids = [await _payment(conn, Status.APPROVED) for _ in range(3)] + [
        await _payment(conn, Status.TRANSMITTED)
    ]
    await conn.execute(
        """
        UPDATE payments SET status = CASE status WHEN 'APPROVED' THEN 'SCREENED'
                                                 ELSE 'COMPLETED' END
        WHERE id = ANY($1::uuid[])
        """,
        ids,
    )
    rows = await conn.fetch("SELECT payment_id, status FROM payment_work ORDER BY payment_id")
    assert {(r["payment_id"], r["status"]) for r in rows} == {(i, "SCREENED") for i in ids[:3]}


async def test_one_illegal_change_refuses_a_whole_batch(conn: asyncpg.Connection) -> None:
    """The transition check runs once per statement (a hash join of old and new rows, 0012):
    in a batch the size the pipeline claims, one illegal change still refuses every change."""
    ids = await _approved(conn, 500)
    odd_one = ids[250]
    await _set_status(conn, odd_one, Status.SCREENED)
    with pytest.raises(asyncpg.CheckViolationError, match=f"payment {odd_one}: SCREENED -> HELD"):
        await conn.execute(
            "UPDATE payments SET status = 'HELD', reason_code = 'X' WHERE id = ANY($1::uuid[])",
            ids,
        )
    statuses = await conn.fetch(
        "SELECT status, count(*) FROM payments WHERE id = ANY($1::uuid[]) GROUP BY status", ids
    )
    assert {(r["status"], r["count"]) for r in statuses} == {("APPROVED", 499), ("SCREENED", 1)}


async def test_a_claim_reads_the_work_list_only_as_far_as_it_takes(
    conn: asyncpg.Connection,
) -> None:
    """Under a backlog a claim walks the list in order and stops (0013): the work a claim
    costs the database is its batch, not the backlog."""
    oldest = await _approved(conn, 5)
    await _approved(conn, 2000)

    async def entries_read() -> int:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return int(
            await conn.fetchval(
                "SELECT idx_tup_read FROM pg_stat_user_indexes"
                " WHERE indexrelname = 'payment_work_claim_idx'"
            )
        )

    before = await entries_read()
    async with conn.transaction():
        claimed = await conn.fetch("SELECT id FROM payment_work_claim('APPROVED', 5, '{}') AS id")
    assert sorted(row["id"] for row in claimed) == oldest
    assert await entries_read() - before <= 10
