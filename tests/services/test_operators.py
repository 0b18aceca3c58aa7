"""Login, lockout, bearer tokens (expiry, revocation) and operator management."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import threading

import pytest
from argon2 import PasswordHasher

from paywire.errors import (
    AuthenticationError,
    Conflict,
    PermissionDenied,
    Throttled,
    ValidationError,
)
from paywire.services import auth, operators, passwords
from tests.fixtures.waiting import lock_waiters, poll
from tests.fixtures.world import CHEAP_HASHER, PASSWORD, World

# Cheap, but with other parameters than the stored hashes': a login with it re-hashes.
REHASHING = PasswordHasher(time_cost=2, memory_cost=8, parallelism=1)


def hold_password_checks(monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold each of auth's password checks once argon2 has run (`checked` is set) until the
    test sets `go_on`: what an ADMIN does meanwhile lands while a check is under way."""
    checked, go_on = asyncio.Event(), asyncio.Event()
    verify = auth.verify_password

    async def verify_then_wait(password_hash: str, password: str) -> bool:
        valid = await verify(password_hash, password)
        checked.set()
        await go_on.wait()
        return valid

    monkeypatch.setattr(auth, "verify_password", verify_then_wait)
    return checked, go_on


async def _login(world: World, username: str = "maker", password: str = PASSWORD) -> auth.Login:
    return await auth.login(world.pool, username, password, token_ttl_s=3600, hasher=CHEAP_HASHER)


async def test_login_issues_a_token_stored_only_as_its_hash(world: World) -> None:
    session = await _login(world, " Maker ")
    assert session.operator.username == "maker"
    assert len(session.token) >= 43  # 32 random bytes, URL-safe base64
    async with world.pool.acquire() as conn:
        stored = await conn.fetchval("SELECT token_hash FROM sessions")
    assert stored == hashlib.sha256(session.token.encode()).digest()
    me = await auth.authenticate(world.pool, session.token)
    assert (me.username, me.roles) == ("maker", world.maker.roles)


async def test_wrong_credentials_are_one_error(world: World) -> None:
    for username, password in (("maker", "wrong password"), ("nobody", PASSWORD), ("maker", 5)):
        with pytest.raises(AuthenticationError, match="invalid user name or password"):
            await _login(world, username, password)  # type: ignore[arg-type]


async def test_five_failures_in_fifteen_minutes_lock_the_name(world: World) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            await _login(world, password="wrong password")
    with pytest.raises(Throttled, match="locked until"):
        await _login(world, password="wrong password")
    with pytest.raises(Throttled):
        await _login(world)  # even the right password, while locked
    session = await _login(world, "checker")  # other names are not affected
    assert session.operator.username == "checker"
    async with world.pool.acquire() as conn:
        await conn.execute("UPDATE login_throttle SET locked_until = now() - interval '1 second'")
    assert (await _login(world)).operator.username == "maker"


async def test_failures_older_than_fifteen_minutes_do_not_count(world: World) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            await _login(world, password="wrong password")
    async with world.pool.acquire() as conn:
        await conn.execute(
            "UPDATE login_throttle SET failures = ARRAY("
            "SELECT f - interval '16 minutes' FROM unnest(failures) AS f)"
        )
    with pytest.raises(AuthenticationError):
        await _login(world, password="wrong password")  # the first of a new window


async def test_unknown_names_are_locked_as_well(world: World) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            await _login(world, "ghost", "whatever")
    with pytest.raises(Throttled):
        await _login(world, "ghost", "whatever")


async def test_a_success_uncounts_itself_and_none_of_the_failures(world: World) -> None:
    """Successes never lock a name; the failures before one still count toward the five."""
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            await _login(world, password="wrong password")
    for _ in range(6):
        await _login(world)
    with pytest.raises(AuthenticationError):
        await _login(world, password="wrong password")
    with pytest.raises(Throttled):
        await _login(world, password="wrong password")


async def test_expired_tokens_are_refused(world: World) -> None:
    session = await _login(world)
    async with world.pool.acquire() as conn:
        await conn.execute("UPDATE sessions SET expires_at = created_at + interval '1 microsecond'")
    with pytest.raises(AuthenticationError, match="expired"):
        await auth.authenticate(world.pool, session.token)


async def test_logout_revokes_only_that_token(world: World) -> None:
    first, second = await _login(world), await _login(world)
    await auth.logout(world.pool, first.token)
    with pytest.raises(AuthenticationError):
        await auth.authenticate(world.pool, first.token)
    assert (await auth.authenticate(world.pool, second.token)).username == "maker"
    await auth.logout(world.pool, "not-a-token")  # harmless


async def test_deactivation_ends_sessions_and_logins(world: World) -> None:
    session = await _login(world)
    updated = await operators.update_operator(
        world.pool, world.admin, world.maker.id, active=False, hasher=CHEAP_HASHER
    )
    assert not updated.active
    with pytest.raises(AuthenticationError):
        await auth.authenticate(world.pool, session.token)
    with pytest.raises(AuthenticationError):
        await _login(world)


async def test_admins_create_and_change_operators(world: World) -> None:
    created = await operators.create_operator(
        world.pool,
        world.admin,
        "Nina",
        "a long enough secret",
        ["MAKER", "CHECKER"],
        hasher=CHEAP_HASHER,
    )
    assert created.username == "nina"
    assert (await _login(world, "nina", "a long enough secret")).operator.id == created.id
    changed = await operators.update_operator(
        world.pool,
        world.admin,
        created.id,
        roles=["AUDITOR"],
        password="another long secret",
        hasher=CHEAP_HASHER,
    )
    assert {r.value for r in changed.roles} == {"AUDITOR"}
    with pytest.raises(AuthenticationError):
        await _login(world, "nina", "a long enough secret")
    with pytest.raises(Conflict):
        await operators.create_operator(
            world.pool, world.admin, "nina", "a long enough secret", ["MAKER"], hasher=CHEAP_HASHER
        )
    with pytest.raises(PermissionDenied):
        await operators.create_operator(
            world.pool, world.checker, "olga", "a long enough secret", ["MAKER"]
        )


async def test_operator_input_is_validated_field_by_field(world: World) -> None:
    with pytest.raises(ValidationError) as raised:
        await operators.create_operator(world.pool, world.admin, "system", "short", ["ROOT"])
    assert {d["field"] for d in raised.value.details} == {"username", "password", "roles"}


async def test_names_no_operator_can_have_are_refused_without_a_trace(world: World) -> None:
    for name in ("x" * 5000, "system", "bad name!"):
        with pytest.raises(AuthenticationError):
            await _login(world, name, "whatever")
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM login_throttle") == 0


class GatedHasher(PasswordHasher):
    """Cheap hashes that each wait for a permit, counting how many run at once."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.permits = threading.Semaphore(0)
        self._lock = threading.Lock()
        self.entered = self.running = self.most = 0

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self._lock:
            self.entered += 1
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            assert self.permits.acquire(timeout=30), "never let through"
            return super().hash(password, salt=salt)
        finally:
            with self._lock:
                self.running -= 1


async def test_a_burst_of_hashes_runs_two_at_a_time() -> None:
    """Each hash holds 64 MiB with the default parameters: unbounded, a burst of eight would
    hold eight times that at once. Logins' verifications run in the same two threads."""
    hasher = GatedHasher()

    async def entered(count: int) -> bool:
        return hasher.entered >= count

    burst = asyncio.gather(*(passwords.hash_password(f"secret {n}", hasher) for n in range(8)))
    try:
        for finished in range(8):
            # Two start; each one let through makes room for exactly one more.
            count = min(finished + 2, 8)
            await poll(functools.partial(entered, count), what=f"{count} hashes entered")
            hasher.permits.release()
        hashes = await asyncio.wait_for(burst, 30)
    finally:
        hasher.permits.release(8)  # a failed test leaves no hash waiting in the shared threads
        await asyncio.wait_for(asyncio.gather(burst, return_exceptions=True), 30)
    assert hasher.most == passwords.HASHING_WORKERS == 2
    assert len(set(hashes)) == 8


async def test_past_a_full_queue_of_hashes_a_login_is_refused_at_once_and_not_counted(
    world: World,
) -> None:
    """A flood of logins (the endpoint needs no token) must not make operators wait without
    end: past MAX_QUEUED_HASHES waiting or running, a login is refused with a 429 to retry,
    before its attempt is counted, so retrying through a flood cannot lock one's own name."""
    hasher = GatedHasher()
    flood = asyncio.gather(
        *(passwords.hash_password(f"flood {n}", hasher) for n in range(passwords.MAX_QUEUED_HASHES))
    )
    try:
        await poll(lambda: hasher.entered == passwords.HASHING_WORKERS, what="the workers busy")
        with pytest.raises(Throttled, match="password checks are under way"):
            await passwords.hash_password("one more", hasher)
        for _ in range(auth.LOCKOUT_ATTEMPTS + 1):
            with pytest.raises(Throttled, match="password checks are under way"):
                await auth.login(world.pool, "checker", PASSWORD, token_ttl_s=60)
        counted = await world.pool.fetchval(
            "SELECT count(*) FROM login_throttle WHERE username = 'checker'"
        )
        assert counted == 0
    finally:
        hasher.permits.release(passwords.MAX_QUEUED_HASHES)
        await asyncio.wait_for(asyncio.gather(flood, return_exceptions=True), 30)
    session = await auth.login(world.pool, "checker", PASSWORD, token_ttl_s=60)
    assert session.operator.username == "checker"


async def test_a_login_keeps_its_place_in_the_queue_from_its_start(world: World) -> None:
    """The queue had room when the login came, and filled while it read its lock row and
    counted its attempt (others' logins arriving at once). Refused then, after it was counted,
    five such refusals locked the name, its right password never once checked: a login holds
    its place from its start, and one of the flood finds none instead."""
    hasher = GatedHasher()
    login = asyncio.ensure_future(
        auth.login(world.pool, "checker", PASSWORD, token_ttl_s=60, hasher=CHEAP_HASHER)
    )
    await asyncio.sleep(0)  # started: it waits for the database
    flood = asyncio.gather(
        *(
            passwords.hash_password(f"flood {n}", hasher)
            for n in range(passwords.MAX_QUEUED_HASHES)
        ),
        return_exceptions=True,
    )
    try:
        await poll(lambda: hasher.entered == passwords.HASHING_WORKERS, what="the workers busy")
    finally:
        hasher.permits.release(passwords.MAX_QUEUED_HASHES)
    session = await asyncio.wait_for(login, 30)
    assert session.operator.username == "checker"
    refused = [r for r in await asyncio.wait_for(flood, 30) if isinstance(r, Throttled)]
    assert len(refused) == 1
    counted = await world.pool.fetchval(
        "SELECT coalesce(cardinality(failures), 0) FROM login_throttle WHERE username = 'checker'"
    )
    assert not counted


@pytest.mark.parametrize(
    "change",
    [{"password": "a brand new password"}, {"active": False}],
    ids=["password", "deactivation"],
)
async def test_a_login_under_way_when_the_credentials_change_gets_no_session(
    world: World, monkeypatch: pytest.MonkeyPatch, change: dict[str, object]
) -> None:
    """The admin's change lands while argon2 is checking the old password. The login hashes
    with other parameters than the stored hash's, so it would also write a re-hash of the old
    password over the new one."""
    checked, go_on = hold_password_checks(monkeypatch)
    login = asyncio.create_task(
        auth.login(world.pool, "maker", PASSWORD, token_ttl_s=3600, hasher=REHASHING)
    )
    await checked.wait()
    await operators.update_operator(
        world.pool, world.admin, world.maker.id, hasher=CHEAP_HASHER, **change
    )
    go_on.set()
    with pytest.raises(AuthenticationError):
        await login
    async with world.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM sessions WHERE revoked_at IS NULL") == 0
    if "password" in change:
        assert (await _login(world, password="a brand new password")).operator.id == world.maker.id


async def test_two_admins_demoting_each_other_at_once_leave_one(world: World) -> None:
    """`admin` and `allround` are the only ADMINs; each takes the other's ADMIN role away at
    the same moment (both requests wait on the busy rows, then run). Each request's roles were
    read when it arrived, so both used to succeed and leave no ADMIN at all."""
    async with world.pool.acquire() as busy, world.pool.acquire() as watcher:
        holding = busy.transaction()
        await holding.start()
        await busy.execute("SELECT 1 FROM operators WHERE 'ADMIN' = ANY (roles) FOR UPDATE")
        changes = [
            asyncio.ensure_future(
                operators.update_operator(world.pool, actor, target.id, roles=["AUDITOR"])
            )
            for actor, target in ((world.admin, world.allround), (world.allround, world.admin))
        ]

        await poll(
            lambda: lock_waiters(watcher),
            what="both changes waiting for the lock",
            until=lambda waiting: waiting == len(changes),
        )
        await holding.rollback()
        done = await asyncio.gather(*changes, return_exceptions=True)
    (refused,) = [outcome for outcome in done if isinstance(outcome, Exception)]
    assert isinstance(refused, PermissionDenied)
    assert (
        await world.pool.fetchval(
            "SELECT count(*) FROM operators WHERE active AND 'ADMIN' = ANY (roles)"
        )
        == 1
    )


async def test_an_admin_demoted_while_a_request_was_under_way_creates_nobody(
    world: World,
) -> None:
    """`world.admin` is the operator as a request authenticated it; another ADMIN takes the
    role away before the request's transaction: it must not make an ADMIN account to keep it."""
    await operators.update_operator(world.pool, world.allround, world.admin.id, roles=["AUDITOR"])
    with pytest.raises(PermissionDenied):
        await operators.create_operator(
            world.pool, world.admin, "spare", "a long enough secret", ["ADMIN"], hasher=CHEAP_HASHER
        )
    assert await world.pool.fetchval("SELECT count(*) FROM operators WHERE username = 'spare'") == 0


@pytest.mark.parametrize(
    ("change", "refusal"),
    [({"password": "a brand new password"}, Conflict), ({"active": False}, AuthenticationError)],
    ids=["password", "deactivation"],
)
async def test_a_password_change_under_way_when_an_admin_acts_changes_nothing(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, object],
    refusal: type[Exception],
) -> None:
    """The ADMIN's reset, or deactivation, lands while argon2 checks the operator's current
    password: the operator's change must not overwrite the reset, nor go through for an
    operator no longer active."""
    checked, go_on = hold_password_checks(monkeypatch)
    own = "my very own passphrase"
    changing = asyncio.create_task(
        auth.change_password(world.pool, world.maker, PASSWORD, own, hasher=CHEAP_HASHER)
    )
    await checked.wait()
    await operators.update_operator(
        world.pool, world.admin, world.maker.id, hasher=CHEAP_HASHER, **change
    )
    go_on.set()
    with pytest.raises(refusal):
        await changing
    stored = await world.pool.fetchval(
        "SELECT password_hash FROM operators WHERE id = $1", world.maker.id
    )
    assert not await passwords.verify_password(stored, own), "the operator's change did not land"
