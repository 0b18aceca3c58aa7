"""Initial operators and ledger accounts: the demo set, or exactly those of a seed file.

Re-running changes nothing that already matches; every change is audited as the `system` actor.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from argon2 import PasswordHasher

from paywire.domain.accounts import CLEARING_PREFIX, CUSTOMER
from paywire.domain.audit_chain import AuditEntry
from paywire.domain.identifiers import iban_check_digits
from paywire.domain.money import parse_amount
from paywire.domain.operators import Operator
from paywire.domain.roles import Role
from paywire.domain.validation import NAME_MAX, Problems, account, currency_code, text
from paywire.errors import Conflict, ValidationError
from paywire.services.auth_state import SessionCache
from paywire.services.operators import check_operator
from paywire.services.passwords import DEFAULT_HASHER, hash_password, verify_password
from paywire.store import audit, ledger
from paywire.store import operators as operator_store
from paywire.store.tx import Conn, Db, connection, transaction

_R = Role
DEMO_OPERATORS: tuple[tuple[str, tuple[Role, ...]], ...] = (
    ("maker", (_R.MAKER,)),
    ("maker2", (_R.MAKER,)),
    ("checker", (_R.CHECKER,)),
    ("checker2", (_R.CHECKER,)),
    ("compliance", (_R.COMPLIANCE,)),
    ("admin", (_R.ADMIN,)),
    ("auditor", (_R.AUDITOR,)),
)
# (country, BBAN, name, currency, balance, overdraft): IBANs get their check digits computed.
_DEMO_ACCOUNTS = (
    ("DE", "370400440532013000", "ACME GmbH", "EUR", "1000000.00", False),
    ("DE", "500105175407324931", "Stark Industries Europe", "EUR", "250.00", False),
    ("NL", "ABNA0417164300", "Wayne Enterprises BV", "EUR", "0.00", True),
    ("DE", "370400440532013001", "ACME GmbH (USD)", "USD", "500000.00", False),
    ("GB", "NWBK60161331926819", "Globex Ltd", "GBP", "250000.00", False),
    ("FR", "30006000011234567890189", "Initech Japon SARL", "JPY", "50000000", False),
)


@dataclass(frozen=True, slots=True)
class SeedOperator:
    username: str
    password: str
    roles: frozenset[Role]


@dataclass(frozen=True, slots=True)
class SeedAccount:
    account: str
    name: str
    currency: str
    balance: Decimal
    overdraft: bool


@dataclass(slots=True)
class SeedReport:
    """What a seed did, per operator and account; `passwords` only for operators it created
    with a generated password (shown once, never stored in clear)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    # The operators whose roles, password or active flag the seed changed: their cached
    # sessions must go, as an ADMIN's change through the API drops them.
    operators_changed: list[UUID] = field(default_factory=list)
    # The operators who must now choose their own password: the file's is the installer's.
    must_choose_password: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def demo_seed() -> tuple[list[SeedOperator], list[SeedAccount]]:
    """The demo operators, each with a fresh password, and the demo accounts."""
    operators = [
        SeedOperator(name, secrets.token_urlsafe(12), frozenset(roles))
        for name, roles in DEMO_OPERATORS
    ]
    accounts = [
        SeedAccount(
            country + iban_check_digits(country, bban) + bban,
            name,
            currency,
            Decimal(balance),
            overdraft,
        )
        for country, bban, name, currency, balance, overdraft in _DEMO_ACCOUNTS
    ]
    return operators, accounts


def parse_seed_file(data: object) -> tuple[list[SeedOperator], list[SeedAccount]]:
    """The operators and accounts of a seed file (SPEC §10), or ValidationError naming each
    problem as e.g. `operators[1].roles`."""
    if not isinstance(data, Mapping):
        raise ValidationError(
            "invalid seed file",
            details=[{"field": "", "message": "must be a JSON object with operators and accounts"}],
        )
    problems = Problems()
    for extra in sorted(set(data) - {"operators", "accounts"}):
        problems.add(str(extra), "unknown field")
    operators = [
        op
        for i, item in enumerate(_list(data, "operators", problems))
        if (op := _seed_operator(item, f"operators[{i}]", problems)) is not None
    ]
    accounts = [
        acc
        for i, item in enumerate(_list(data, "accounts", problems))
        if (acc := _seed_account(item, f"accounts[{i}]", problems)) is not None
    ]
    for kind, names in (
        ("operators", [o.username for o in operators]),
        ("accounts", [a.account for a in accounts]),
    ):
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.add(kind, f"{name} appears more than once")
    problems.raise_any("invalid seed file")
    return operators, accounts


async def seed_demo(
    db: Db,
    *,
    hasher: PasswordHasher = DEFAULT_HASHER,
    show: Callable[[SeedReport], None] | None = None,
) -> SeedReport:
    """The demo operators and accounts, and clearing accounts for their currencies.

    Only what is missing is created; generated passwords are reported for those created, to
    `show` before the transaction commits: they are shown once, so if showing them fails
    (output closed, disk full) nothing is created and a run again makes new ones.
    """
    operators, accounts = demo_seed()
    return await _seed(
        db, operators, accounts, demo=True, hasher=hasher, own_passwords=True, show=show
    )


async def operators_of_its_own(db: Db) -> list[str]:
    """Some operators of the database that are not demo operators (at most three): a database
    that has them is not a demo's, and neither `paywire seed` without a file nor `paywire demo`
    may give it the demo's ADMIN and balances."""
    demo = [name for name, _roles in DEMO_OPERATORS]
    async with connection(db) as conn:
        return await operator_store.usernames_except(conn, demo, limit=3)


async def seed_file(
    db: Db,
    data: object,
    *,
    hasher: PasswordHasher = DEFAULT_HASHER,
    cache: SessionCache | None = None,
    own_passwords: bool = False,
) -> SeedReport:
    """Exactly the operators and accounts of a seed file: missing ones are created, differing
    ones brought in line. An operator keeps its password hash when the file's password verifies;
    an account's balance is only set while it has no ledger entries (postings move it after).
    The changed operators' sessions are dropped from `cache` (REDIS_URL's) once committed: a
    file that takes a role away or rotates a leaked password counts at once on every gateway,
    not when the cached entries run out.

    A password the file sets is whoever wrote the file's: the operator must choose their own
    at their next sign-in, unless the file's are `own_passwords` (the demo's, generated for
    whoever runs it)."""
    operators, accounts = parse_seed_file(data)
    report = await _seed(
        db, operators, accounts, demo=False, hasher=hasher, own_passwords=own_passwords
    )
    if cache is not None:
        for operator_id in report.operators_changed:
            await cache.forget_operator(operator_id)
    return report


async def _seed(
    db: Db,
    operators: Sequence[SeedOperator],
    accounts: Sequence[SeedAccount],
    *,
    demo: bool,
    hasher: PasswordHasher,
    own_passwords: bool,
    show: Callable[[SeedReport], None] | None = None,
) -> SeedReport:
    report = SeedReport()
    plans = await _plan_operators(db, operators, keep_existing=demo, hasher=hasher)
    async with transaction(db) as conn:
        # In the order operator changes take them (ADMINs first, by id), so that a seed beside
        # an ADMIN's change never deadlocks with it.
        await operator_store.lock_active_admins(conn)
        entries = []
        for plan in plans:
            entries += await _apply_operator(
                conn, plan, report, keep_existing=demo, own_passwords=own_passwords
            )
            if plan.existing is None and demo:
                report.passwords[plan.op.username] = plan.op.password
        # Accounts as postings take them: clearing accounts opened before any is locked, and
        # the file's accounts locked at once in id order, not one by one in the file's order.
        if demo:
            await ledger.open_clearing_accounts(conn, {a.currency for a in accounts})
        await ledger.lock_accounts(conn, [a.account for a in accounts])
        for acc in accounts:
            entries += await _apply_account(conn, acc, report, keep_existing=demo)
        await audit.append(conn, entries)
        if show is not None:
            show(report)
    return report


@dataclass(frozen=True, slots=True)
class _OperatorPlan:
    """What a seed does to one operator: `new_hash` when it sets the password; `adopted` the
    current hash, to be remembered as a file's, when the file's password is the operator's
    already but no seed file set it (made through the API, or before migration 0022)."""

    op: SeedOperator
    existing: Operator | None
    new_hash: str | None = None
    adopted: str | None = None


async def _plan_operators(
    db: Db, operators: Sequence[SeedOperator], *, keep_existing: bool, hasher: PasswordHasher
) -> list[_OperatorPlan]:
    """Per operator: the stored one, if any, and a new hash when its password must be set.
    Hashing happens here, outside the transaction, in worker threads.

    The file's password is compared with the one a seed file set last, not with the operator's
    own: the same file run again after the operator has chosen theirs (which a file's password
    requires) changes nothing, while a file with a new password rotates it. An operator no file
    has given a password is compared with their current one, which, the same, is adopted as
    the file's, so that their next choice survives the file too."""
    plans: list[_OperatorPlan] = []
    for op in operators:
        async with connection(db) as conn:
            found = await operator_store.credentials(conn, op.username)
        if found is None:
            plans.append(_OperatorPlan(op, None, await hash_password(op.password, hasher)))
        elif keep_existing:
            plans.append(_OperatorPlan(op, found.operator))
        elif await verify_password(found.seeded_password_hash or found.password_hash, op.password):
            adopted = None if found.seeded_password_hash else found.password_hash
            plans.append(_OperatorPlan(op, found.operator, adopted=adopted))
        else:
            new_hash = await hash_password(op.password, hasher)
            plans.append(_OperatorPlan(op, found.operator, new_hash))
    return plans


async def _apply_operator(
    conn: Conn,
    plan: _OperatorPlan,
    report: SeedReport,
    *,
    keep_existing: bool,
    own_passwords: bool,
) -> list[AuditEntry]:
    op, existing, new_hash = plan.op, plan.existing, plan.new_hash
    label = f"operator {op.username}"
    if existing is None:
        assert new_hash is not None
        # Not `own_passwords`, the password is the installer's, as one an ADMIN sets is: the
        # operator must choose their own at their next sign-in.
        created = await operator_store.insert(
            conn,
            op.username,
            new_hash,
            op.roles,
            password_change_required=not own_passwords,
            seeded_password_hash=new_hash,
        )
        report.created.append(label)
        if not own_passwords:
            report.must_choose_password.append(op.username)
        entity_id = str(created.id)
        return [
            AuditEntry.by_system("operator.create", "operator", entity_id, after=created.audited())
        ]
    if plan.adopted is not None:
        await operator_store.adopt_seeded_password(conn, existing.id, plan.adopted)
    if new_hash is None and (keep_existing or (existing.roles == op.roles and existing.active)):
        report.unchanged.append(label)
        return []
    # A new password likewise; new roles leave the flag as it was.
    updated = await operator_store.update(
        conn,
        existing.id,
        password_hash=new_hash,
        roles=op.roles,
        active=True,
        password_change_required=not own_passwords if new_hash is not None else None,
        seeded_password_hash=new_hash,
    )
    assert updated is not None
    if new_hash is not None and not own_passwords:
        report.must_choose_password.append(op.username)
    if new_hash is not None:
        # As a password change through the API does: a seed file that rotates a leaked
        # password must end the sessions opened with the old one.
        await operator_store.revoke_all_sessions(conn, existing.id, datetime.now(UTC))
    report.updated.append(label)
    report.operators_changed.append(existing.id)
    after = {**updated.audited(), "password_changed": new_hash is not None}
    before = existing.audited()
    return [
        AuditEntry.by_system(
            "operator.update", "operator", str(existing.id), before=before, after=after
        )
    ]


async def _apply_account(
    conn: Conn, acc: SeedAccount, report: SeedReport, *, keep_existing: bool
) -> list[AuditEntry]:
    label = f"account {acc.account}"
    found = await ledger.find_account(conn, acc.account)
    wanted = {"name": acc.name, "balance": acc.balance, "overdraft": acc.overdraft}
    if found is None:
        account_id = await ledger.insert_account(
            conn, acc.account, acc.name, acc.currency, acc.balance, acc.overdraft, CUSTOMER
        )
        report.created.append(label)
        view = _acc_view(acc)
        return [AuditEntry.by_system("account.create", "account", str(account_id), after=view)]
    if found.currency != acc.currency or found.kind != CUSTOMER:
        raise _conflict(label, f"exists as a {found.kind} account in {found.currency}")
    # The file's balance is the opening balance: what the account held before its entries. Read
    # in a statement of its own, after the lock: a posting committed while the lock was awaited
    # is seen, and none can commit while it is held.
    entries, posted = await ledger.posted_to(conn, found.id)
    opening = found.balance - posted
    current = {"name": found.name, "balance": opening, "overdraft": found.overdraft}
    if current == wanted or keep_existing:
        report.unchanged.append(label)
        return []
    if opening != acc.balance and entries:
        raise _conflict(
            label,
            f"has ledger entries; its opening balance is {opening}, and its balance changes"
            " only through postings",
        )
    balance = acc.balance + posted
    if balance < 0 and not acc.overdraft:
        # The database's rule too (a balance below zero needs the overdraft), which would end
        # the seed in a traceback rather than in a refusal saying when it can be done.
        raise _conflict(
            label,
            f"is overdrawn ({balance} {found.currency}); it can lose its overdraft once its"
            " balance is 0 or more",
        )
    await ledger.update_account(
        conn, found.id, name=acc.name, balance=balance, overdraft=acc.overdraft
    )
    report.updated.append(label)
    before = {**current, "balance": str(current["balance"])}
    view = _acc_view(acc)
    return [
        AuditEntry.by_system("account.update", "account", str(found.id), before=before, after=view)
    ]


def _list(data: Mapping[str, Any], name: str, problems: Problems) -> list[Any]:
    value = data.get(name, [])
    if not isinstance(value, list):
        problems.add(name, "must be a list")
        return []
    return value


def _seed_operator(item: object, where: str, problems: Problems) -> SeedOperator | None:
    if not isinstance(item, Mapping):
        problems.add(where, "must be an object with username, password and roles")
        return None
    for extra in sorted(set(item) - {"username", "password", "roles"}):
        problems.add(f"{where}.{extra}", "unknown field")
    try:
        username, password, roles = check_operator(
            item.get("username"), item.get("password"), item.get("roles")
        )
    except ValidationError as exc:
        for detail in exc.details:
            problems.add(f"{where}.{detail['field']}", detail["message"])
        return None
    return SeedOperator(username, password, roles)


def _seed_account(item: object, where: str, problems: Problems) -> SeedAccount | None:
    if not isinstance(item, Mapping):
        problems.add(where, "must be an object with account, name, currency and balance")
        return None
    for extra in sorted(set(item) - {"account", "name", "currency", "balance", "overdraft"}):
        problems.add(f"{where}.{extra}", "unknown field")
    acct = account(item.get("account"), f"{where}.account", problems)
    if acct is not None and acct.upper().startswith(CLEARING_PREFIX):
        # paywire opens these itself on a currency's first posting, and finds them by `account`.
        problems.add(f"{where}.account", f"{CLEARING_PREFIX}… is kept for the clearing accounts")
        acct = None
    name = text(item.get("name"), f"{where}.name", NAME_MAX, problems)
    currency = currency_code(item.get("currency"), f"{where}.currency", problems)
    balance = None
    if currency is not None:
        try:
            balance = parse_amount(item.get("balance", "0"), currency, allow_zero=True)
        except ValueError as exc:
            problems.add(f"{where}.balance", str(exc))
    overdraft = item.get("overdraft", False)
    if not isinstance(overdraft, bool):
        problems.add(f"{where}.overdraft", "must be true or false")
    if acct is None or name is None or balance is None or currency is None:
        return None
    return SeedAccount(acct, name, currency, balance, bool(overdraft))


def _acc_view(acc: SeedAccount) -> dict[str, Any]:
    return {
        "account": acc.account,
        "name": acc.name,
        "currency": acc.currency,
        "balance": str(acc.balance),
        "overdraft": acc.overdraft,
    }


def _conflict(label: str, why: str) -> Conflict:
    return Conflict(f"{label} {why}; the seed leaves everything as it was")
