"""REDIS_URL: two gateway processes (two apps, two pools, one database, one real Redis) share
login lockout, session revocation and the circuit breaker's verdict; with Redis killed
mid-test everything still works, each process on its own."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from paywire.api import create_app
from paywire.config import Settings
from paywire.domain.roles import Role
from paywire.services import seeding
from paywire.services.auth import token_digest
from paywire.shared_state import SharedState, sessions
from paywire.shared_state.link import DOWN, RedisLink
from paywire.store.tx import Pool
from paywire.transport import BreakerState, ConnectionPool
from tests.api.world import World, make_world
from tests.fixtures.app import Serve
from tests.fixtures.redis import RedisPath, RedisServer
from tests.fixtures.tls import LOOPBACK, StartReceiver, pacs008
from tests.fixtures.waiting import poll
from tests.fixtures.world import PASSWORD
from tests.transport.support import FakeClock


@pytest.fixture
async def shared(
    redis_server: RedisServer, db_pool: Pool
) -> AsyncIterator[Callable[..., SharedState]]:
    """`shared()` is one process's handle on the test's Redis (`shared(url)`, through another
    way to it); all are closed after."""
    made: list[SharedState] = []

    def make(url: str | None = None) -> SharedState:
        # Both apps share this test's event loop, and a stall of it must not pass for an outage:
        # once, in a full run, both links timed out together at the 0.5 s default.
        link = RedisLink(url or redis_server.url, timeout_s=2.0, pause_s=0.2)
        made.append(SharedState(link, db_pool))
        return made[-1]

    yield make
    for state in made:
        await state.close()


@pytest.fixture
async def redis(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A plain client, to look at what the gateway keeps in Redis."""
    client = Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def two(
    serve: Serve, settings: Settings, db_pool: Pool, shared: Callable[..., SharedState]
) -> tuple[World, World]:
    """Two gateway apps on one database and one Redis; every operator signed in on the first."""
    first = await make_world(await serve(create_app(settings, db_pool, shared=shared())), db_pool)
    client = await serve(create_app(settings, db_pool, shared=shared()))
    second = World(client, db_pool, first.operators, first.tokens)
    return first, second


async def test_lockout_is_shared_and_counted_in_redis(
    two: tuple[World, World], redis: Redis
) -> None:
    a, b = two
    assert [await a.attempt_login("checker") for _ in range(3)] == [401] * 3
    assert await b.attempt_login("checker") == 401
    # Counted in Redis: PostgreSQL has not seen a single failed attempt.
    assert await redis.zcard("paywire:login-attempts:checker") == 4
    assert await a.pool.fetchval("SELECT count(*) FROM login_throttle") == 0
    assert await b.attempt_login("checker") == 429
    assert await a.attempt_login("checker", PASSWORD) == 429  # the lock is in PostgreSQL
    assert await b.attempt_login("maker", PASSWORD) == 200


async def test_a_success_in_redis_uncounts_itself_and_nothing_before_it(
    two: tuple[World, World], redis: Redis
) -> None:
    """SPEC §6, as tests/security/test_lockout.py has it for PostgreSQL: five failures in the
    window lock the name, a success among them or not."""
    a, b = two
    assert [await a.attempt_login("checker") for _ in range(3)] == [401] * 3
    assert await b.attempt_login("checker", PASSWORD) == 200
    assert await redis.zcard("paywire:login-attempts:checker") == 3
    assert [await b.attempt_login("checker") for _ in range(2)] == [401, 429]


async def test_concurrent_guesses_across_processes_get_five_tries(two: tuple[World, World]) -> None:
    a, b = two
    guesses = [world.attempt_login("auditor") for world in (a, b) * 10]
    statuses = Counter(await asyncio.gather(*guesses))
    assert statuses[401] <= 4, statuses
    assert set(statuses) <= {401, 429}


async def test_a_logout_on_one_process_ends_the_token_on_the_other(
    two: tuple[World, World], redis: Redis
) -> None:
    a, b = two
    token = await a.login("maker")
    headers = {"Authorization": f"Bearer {token}"}
    for world in (a, b):  # both processes have checked it: it is cached
        assert (await world.client.get("/api/v1/auth/me", headers=headers)).status == 200
    cached = f"paywire:session:{token_digest(token).hex()}"
    assert await redis.exists(cached)
    assert (await b.client.post("/api/v1/auth/logout", headers=headers)).status == 204
    assert not await redis.exists(cached)
    assert (await a.client.get("/api/v1/auth/me", headers=headers)).status == 401


async def test_a_session_written_into_redis_without_the_key_is_not_believed(
    two: tuple[World, World], redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Whoever can write to Redis stores an entry naming an operator of their own, with every
    role, under a token of their choosing: as plain JSON (the entry's old form), and in the
    signed form with a signature made without the key. Neither is a session."""
    a, _ = two
    token = "not-a-token-anyone-was-given-0123456789abcdef"
    mallory = {
        **a.operators["admin"].as_dict(),
        "username": "mallory",
        "roles": [r.value for r in Role],
    }
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    payload = orjson.dumps({"operator": mallory, "until": until})
    key = f"paywire:session:{token_digest(token).hex()}"
    headers = {"Authorization": f"Bearer {token}"}
    for forged in (orjson.dumps(mallory), bytes(32) + payload):
        await redis.set(key, forged, px=60_000)
        assert (await a.client.get("/api/v1/auth/me", headers=headers)).status == 401
        assert (await a.client.get("/api/v1/admin/tls", headers=headers)).status == 401
    assert "a cached session failed its signature check" in caplog.text


async def test_an_operator_who_must_choose_a_password_stays_refused_through_the_cache(
    two: tuple[World, World], redis: Redis
) -> None:
    """The flag travels with the cached session; and an entry cached by a gateway from before
    it (a rolling upgrade: old and new pods on one Redis) has no flag to say, so it is a miss
    and PostgreSQL decides, rather than a session without the restriction."""
    a, b = two
    await a.pool.execute(
        "UPDATE operators SET password_change_required = true WHERE username = 'maker'"
    )
    token = await a.login("maker")
    headers = {"Authorization": f"Bearer {token}"}
    for world in (a, b):  # cached by a, then read from the cache by b
        me = await world.client.get("/api/v1/auth/me", headers=headers)
        assert (await me.json())["password_change_required"] is True
        refused = await world.client.get("/api/v1/payments", headers=headers)
        assert (await refused.json())["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"

    digest = token_digest(token)
    operator = {**a.operators["maker"].as_dict()}
    del operator["password_change_required"]
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    payload = orjson.dumps({"operator": operator, "until": until})
    key = await a.pool.fetchval("SELECT secret FROM session_cache_key")
    entry = sessions._signature(key, digest, payload) + payload
    await redis.set(f"paywire:session:{digest.hex()}", entry, px=60_000)
    refused = await b.client.get("/api/v1/payments", headers=headers)
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"


async def test_a_signed_session_replayed_after_its_logout_is_not_believed(
    two: tuple[World, World], redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An entry the gateway signed, copied out of Redis and written back after the session's
    logout: it vouches only until its own end, which has passed."""
    monkeypatch.setattr(sessions, "CACHE_TTL", dt.timedelta(milliseconds=300))
    a, _ = two
    token = await a.login("maker")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await a.client.get("/api/v1/auth/me", headers=headers)).status == 200
    key = f"paywire:session:{token_digest(token).hex()}"
    copied = await redis.get(key)
    assert copied is not None
    until = dt.datetime.fromisoformat(orjson.loads(copied[32:])["until"])
    assert (await a.client.post("/api/v1/auth/logout", headers=headers)).status == 204

    await poll(lambda: dt.datetime.now(dt.UTC) > until, what="the copied session's expiry")
    await redis.set(key, copied, px=60_000)
    assert (await a.client.get("/api/v1/auth/me", headers=headers)).status == 401


async def test_role_changes_and_deactivation_reach_the_other_process_at_once(
    two: tuple[World, World],
) -> None:
    a, b = two
    created = await a.create_payment()
    for world in (a, b):
        me = await world.client.get("/api/v1/auth/me", headers=a.auth("checker"))
        assert (await me.json())["roles"] == ["CHECKER"]
    demote = await b.client.patch(
        f"/api/v1/operators/{a.operators['checker'].id}",
        json={"roles": ["AUDITOR"]},
        headers=a.auth("admin"),
    )
    assert demote.status == 200
    approve = await a.client.post(
        f"/api/v1/payments/{created['id']}/approve", json={}, headers=a.auth("checker")
    )
    assert approve.status == 403
    deactivate = await a.client.patch(
        f"/api/v1/operators/{a.operators['checker'].id}",
        json={"active": False},
        headers=a.auth("admin"),
    )
    assert deactivate.status == 200
    assert (await b.client.get("/api/v1/auth/me", headers=a.auth("checker"))).status == 401


async def test_a_seed_file_that_takes_a_role_away_counts_at_once_on_every_process(
    two: tuple[World, World], db_pool: Pool, shared: Callable[[], SharedState]
) -> None:
    """`paywire seed --file` changes operators in PostgreSQL from a process of its own: it
    drops their cached sessions as an ADMIN's change does, or a token would keep its old roles
    on every gateway for as long as the entry lives."""
    a, b = two
    for world in (a, b):
        me = await world.client.get("/api/v1/auth/me", headers=a.auth("checker"))
        assert (await me.json())["roles"] == ["CHECKER"]
    seed = {"operators": [{"username": "checker", "password": PASSWORD, "roles": ["AUDITOR"]}]}
    report = await seeding.seed_file(db_pool, seed, cache=shared().sessions)
    assert report.updated == ["operator checker"]
    for world in (a, b):
        me = await world.client.get("/api/v1/auth/me", headers=a.auth("checker"))
        assert (await me.json())["roles"] == ["AUDITOR"]


async def test_a_check_racing_a_revocation_cannot_cache_the_revoked_session(
    two: tuple[World, World], shared: Callable[[], SharedState], redis: Redis
) -> None:
    """A process that read the session before the logout must not store it after."""
    a, _ = two
    token = await a.login("maker")
    digest = token_digest(token)
    cache = shared().sessions
    missing, ticket = await cache.lookup(digest)  # 1. a check starts: not cached
    assert missing is None
    await a.client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    in_an_hour = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    await cache.store(digest, a.operators["maker"], in_an_hour, ticket)  # 2. a stale write
    assert not await redis.exists(f"paywire:session:{digest.hex()}")
    assert (
        await a.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    ).status == 401


async def test_a_revocation_redis_missed_is_sent_again_and_no_copy_is_believed_meanwhile(
    serve: Serve,
    settings: Settings,
    db_pool: Pool,
    shared: Callable[..., SharedState],
    redis_path: RedisPath,
    redis: Redis,
) -> None:
    """The first process's way to Redis is cut while an ADMIN deactivates the checker there:
    PostgreSQL has it, Redis still holds the checker's cached session. Once Redis is back the
    first process must not believe that copy (it did, for up to 30 s), and it sends the
    revocation again, so the other process drops the copy too."""
    a = await make_world(
        await serve(create_app(settings, db_pool, shared=shared(redis_path.url))), db_pool
    )
    b = World(
        await serve(create_app(settings, db_pool, shared=shared())), db_pool, a.operators, a.tokens
    )
    checker = a.auth("checker")
    assert (await a.client.get("/api/v1/auth/me", headers=checker)).status == 200
    cached = f"paywire:session:{token_digest(a.tokens['checker']).hex()}"
    assert await redis.exists(cached)
    redis_path.cut()
    deactivated = await a.client.patch(
        f"/api/v1/operators/{a.operators['checker'].id}",
        json={"active": False},
        headers=a.auth("admin"),
    )
    assert deactivated.status == 200
    assert (await a.client.get("/api/v1/auth/me", headers=checker)).status == 401
    assert await redis.exists(cached), "the revocation did not reach Redis"
    redis_path.mend()

    async def refused_until_sent() -> bool:
        # Refused during the link's pause after the failure, and once it is over (when the
        # first check reads Redis again and finds the copy there).
        assert (await a.client.get("/api/v1/auth/me", headers=checker)).status == 401
        return not await redis.exists(cached)

    await poll(refused_until_sent, what="the revocation sent again")
    assert (await b.client.get("/api/v1/auth/me", headers=checker)).status == 401


async def test_checks_side_by_side_when_redis_is_back_each_send_or_skip_a_missed_revocation(
    db_pool: Pool, redis_path: RedisPath, redis: Redis
) -> None:
    """The checks under way when Redis comes back all find the revocation to send again; one
    of them taking it off the list under the others ended those in a KeyError (a 500 for every
    request but one, just as Redis recovered)."""
    clock = FakeClock()
    state = SharedState(RedisLink(redis_path.url, timeout_s=2.0, pause_s=1.0, clock=clock), db_pool)
    try:
        digest = token_digest("a token revoked while Redis was away")
        redis_path.cut()
        await state.sessions.forget_token(digest)
        redis_path.mend()
        clock.now += 2  # the link's pause is over: every check reads Redis again
        found = await asyncio.gather(*(state.sessions.lookup(digest) for _ in range(3)))
        assert [operator for operator, _ticket in found] == [None] * 3
        assert int(await redis.get("paywire:sessions:generation")) >= 1, "never sent again"
    finally:
        await state.close()


async def test_with_redis_killed_logins_tokens_and_lockout_still_work(
    two: tuple[World, World], redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = two
    token = await a.login("maker")
    headers = {"Authorization": f"Bearer {token}"}
    assert (await b.client.get("/api/v1/auth/me", headers=headers)).status == 200
    redis_server.stop()
    # Sessions come from PostgreSQL: checks work, and a logout is seen everywhere.
    assert (await b.client.get("/api/v1/auth/me", headers=headers)).status == 200
    assert (await a.client.post("/api/v1/auth/logout", headers=headers)).status == 204
    assert (await b.client.get("/api/v1/auth/me", headers=headers)).status == 401
    assert await b.attempt_login("compliance", PASSWORD) == 200
    # Attempts are counted in PostgreSQL meanwhile: the lockout holds across both processes.
    statuses = [await world.attempt_login("auditor") for world in (a, b, a, b, a)]
    assert statuses == [401, 401, 401, 401, 429]
    assert await b.attempt_login("auditor", PASSWORD) == 429
    warnings = [r for r in caplog.records if "redis unreachable" in r.getMessage()]
    assert warnings
    assert all(redis_server.url not in f"{r.getMessage()} {r.__dict__}" for r in warnings)

    redis_server.start()  # back, empty: sharing resumes after the pause
    await poll(lambda: _counted_in_redis(b, redis_server), what="attempts counted in Redis")


async def test_attempts_counted_during_an_outage_still_count_once_redis_is_back(
    two: tuple[World, World], redis_server: RedisServer
) -> None:
    a, b = two
    redis_server.stop()
    assert [await a.attempt_login("auditor") for _ in range(3)] == [401] * 3  # in PostgreSQL
    redis_server.start()
    await poll(lambda: _counted_in_redis(b, redis_server), what="attempts counted in Redis")
    # Redis holds none of the three: without PostgreSQL's count the name would have five more.
    assert [await b.attempt_login("auditor") for _ in range(2)] == [401, 429]


async def test_a_redis_that_never_answers_costs_one_timeout_per_pause() -> None:
    """A Redis that accepts and never answers (a hung server, a dropped route) would hold every
    request for the whole timeout; the link waits for it once, then answers DOWN at once, from
    this process alone, until the pause is over."""
    requests: list[bytes] = []

    async def swallow(reader: asyncio.StreamReader, _: asyncio.StreamWriter) -> None:
        if first := await reader.read(4096):
            requests.append(first)
        await reader.read()

    server = await asyncio.start_server(swallow, LOOPBACK, 0)
    url = f"redis://{LOOPBACK}:{server.sockets[0].getsockname()[1]}/0"
    now = [0.0]
    link = RedisLink(url, timeout_s=0.2, pause_s=30.0, clock=lambda: now[0])

    async def ping() -> object:
        return await link.call("ping", lambda client: client.ping())

    try:
        assert await ping() is DOWN
        assert (len(requests), link.up) == (1, False)
        for _ in range(20):
            assert await ping() is DOWN
        assert len(requests) == 1, "calls during the pause never reached the server"
        now[0] = 31.0
        assert await ping() is DOWN
        assert len(requests) == 2, "after the pause, the next call tries the server again"
    finally:
        await link.close()
        server.close()
        await server.wait_closed()


async def _counted_in_redis(world: World, server: RedisServer) -> bool:
    await world.attempt_login("compliance")
    client = Redis.from_url(server.url)
    try:
        return bool(await client.exists("paywire:login-attempts:compliance"))
    finally:
        await client.aclose()


class DeadReceiver:
    """A TCP listener that hangs up on every connection, counting the dials it receives."""

    def __init__(self) -> None:
        self.dials = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.dials += 1
            writer.close()

        self.server = await asyncio.start_server(hang_up, LOOPBACK, 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def dead_receiver() -> AsyncIterator[DeadReceiver]:
    receiver = DeadReceiver()
    yield receiver
    await receiver.stop()


async def test_no_probe_is_claimed_while_a_verdict_stands(
    shared: Callable[[], SharedState], redis: Redis
) -> None:
    """A process reads the period as over; before it claims the probe, another's probe fails
    and publishes a fresh verdict, which clears the probe's lock for the next period. Claimed
    then, a second probe would dial a receiver just found dead."""
    state = shared().breaker(LOOPBACK, 7000)
    await state.publish_open(60)
    assert not await state.claim_probe(10)
    assert await redis.delete(f"paywire:breaker:{LOOPBACK}:7000:open") == 1  # the period over
    assert await state.claim_probe(10)
    assert not await state.claim_probe(10), "one probe per period"


def shared_pool_settings(
    state: SharedState, port: int, reset_s: float = 1.0, **settings: Any
) -> dict[str, Any]:
    """Two connections whose first failure opens, for `reset_s`, a breaker shared through
    `state`."""
    return {
        "shared": state.breaker(LOOPBACK, port),
        "pool_size": 2,
        "cb_failure_threshold": 1,
        "cb_reset_s": reset_s,
        **settings,
    }


async def test_an_open_breaker_stops_the_other_process_dialling_and_one_probe_serves_all(
    dead_receiver: DeadReceiver,
    make_pool: Callable[..., Awaitable[ConnectionPool]],
    shared: Callable[[], SharedState],
    redis: Redis,
) -> None:
    # A period longer than the test, which ends it by hand: no second one can run out in it.
    clock = FakeClock()
    port = await dead_receiver.start()
    first = await make_pool(port, **shared_pool_settings(shared(), port, 60.0, clock=clock))
    assert first.breaker.state is BreakerState.OPEN
    dialled = dead_receiver.dials
    assert 1 <= dialled <= 2
    open_key = f"paywire:breaker:{LOOPBACK}:{port}:open"
    assert await redis.pttl(open_key) > 0

    second = await make_pool(port, **shared_pool_settings(shared(), port, 60.0, clock=clock))
    assert second.breaker.state is BreakerState.OPEN  # the other process's verdict
    assert dead_receiver.dials == dialled, "the second process dialled a receiver known dead"
    assert second.stats()["totals"]["errors"] == 0

    # The period ends for both at once (the verdict's key expires in Redis as their clocks
    # pass it); four slots in two processes make one probe.
    assert await redis.delete(open_key) == 1
    clock.now += 60
    assert (first.breaker.state, second.breaker.state) == (BreakerState.HALF_OPEN,) * 2
    await poll(lambda: dead_receiver.dials, what="the probe", until=lambda n: n > dialled)
    await poll(lambda: redis.pttl(open_key), what="the breaker open again", until=lambda ms: ms > 0)
    assert dead_receiver.dials == dialled + 1


async def test_a_reset_in_one_process_lifts_the_verdict_the_others_took(
    start_receiver: StartReceiver,
    dead_receiver: DeadReceiver,
    make_pool: Callable[..., Awaitable[ConnectionPool]],
    shared: Callable[[], SharedState],
) -> None:
    """An ADMIN's `cb reset` reaches one process. It clears the shared verdict, and the
    others, OPEN only on that verdict, follow: they kept failing senders for the rest of
    their period (30 s by default, up to a day), while the terminal said CLOSED."""
    clock = FakeClock()  # a period longer than the test: only the reset can end it
    port = await dead_receiver.start()
    first = await make_pool(port, **shared_pool_settings(shared(), port, 60.0, clock=clock))
    second = await make_pool(port, **shared_pool_settings(shared(), port, 60.0, clock=clock))
    assert (first.breaker.state, second.breaker.state) == (BreakerState.OPEN,) * 2
    await dead_receiver.stop()
    await start_receiver(port=port)

    first.reset_breaker()
    await poll(lambda: first.open_connections, what="the reset process dialling", until=bool)
    await poll(lambda: second.open_connections, what="the other process dialling", until=bool)
    assert second.breaker.state is BreakerState.CLOSED


async def test_with_redis_killed_the_pool_sends_and_its_breaker_works_alone(
    start_receiver: StartReceiver,
    dead_receiver: DeadReceiver,
    make_pool: Callable[..., Awaitable[ConnectionPool]],
    shared: Callable[[], SharedState],
    redis_server: RedisServer,
) -> None:
    redis_server.stop()
    receiver = await start_receiver()
    pool = await make_pool(receiver.port, **shared_pool_settings(shared(), receiver.port))
    answer = await pool.send("REDIS-DOWN-1", pacs008("REDIS-DOWN-1"))
    assert answer.kind == "ACK"
    dead_port = await dead_receiver.start()
    broken = await make_pool(dead_port, **shared_pool_settings(shared(), dead_port))
    assert broken.breaker.state is BreakerState.OPEN  # its own failures still open it
