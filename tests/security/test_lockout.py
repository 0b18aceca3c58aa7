"""Brute force against the login: five failures in fifteen minutes lock the name (429), even
for the right password, even with successes between them and even when the guesses arrive all
at once; other names stay open, and the lock ends after fifteen minutes."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.api.world import World
from tests.fixtures.world import PASSWORD


async def test_the_fifth_failure_locks_the_name_even_for_the_right_password(world: World) -> None:
    statuses = [await world.attempt_login("checker") for _ in range(5)]
    assert statuses == [401, 401, 401, 401, 429]
    assert await world.attempt_login("checker", PASSWORD) == 429
    assert await world.attempt_login("CHECKER ", PASSWORD) == 429  # one name, however it is typed
    response = await world.client.post(
        "/api/v1/auth/login", json={"username": "checker", "password": PASSWORD}
    )
    body = await response.json()
    assert body["error"]["code"] == "THROTTLED"
    assert "token" not in body
    # Other names, and sessions opened before the lock, are unaffected.
    assert await world.attempt_login("maker", PASSWORD) == 200
    assert (await world.client.get("/api/v1/auth/me", headers=world.auth("checker"))).status == 200


async def test_a_success_between_failures_forgives_none_of_them(world: World) -> None:
    """SPEC §6: five failed logins in fifteen minutes lock the name. A success among them (its
    owner typing, or a guess come right) is not a failure and is not counted; the failures
    before it still are (a success once wiped them, granting four more guesses each time)."""
    assert [await world.attempt_login("maker2") for _ in range(3)] == [401] * 3
    assert [await world.attempt_login("maker2", PASSWORD) for _ in range(6)] == [200] * 6
    assert [await world.attempt_login("maker2") for _ in range(2)] == [401, 429]


async def test_concurrent_guesses_get_no_more_than_five_tries(world: World) -> None:
    """Every attempt is counted before its (slow) password check: twenty guesses fired at once
    must not all be checked because none had failed yet when they arrived."""
    statuses = Counter(await asyncio.gather(*(world.attempt_login("auditor") for _ in range(20))))
    assert statuses[401] <= 4, statuses
    assert statuses[429] >= 16, statuses
    assert set(statuses) <= {401, 429}
    assert await world.attempt_login("auditor", PASSWORD) == 429
    locks = await world.pool.fetchval(
        "SELECT count(*) FROM audit_logs WHERE action = 'auth.lockout' AND entity_id = 'auditor'"
    )
    assert locks >= 1


async def test_names_nobody_has_are_locked_alike(world: World) -> None:
    """The lockout must not tell an attacker which names exist."""
    ghost = [await world.attempt_login("ghost") for _ in range(6)]
    real = [await world.attempt_login("compliance") for _ in range(6)]
    assert ghost == real == [401, 401, 401, 401, 429, 429]


async def test_the_lock_ends_after_fifteen_minutes(world: World) -> None:
    for _ in range(5):
        await world.attempt_login("maker2")
    assert await world.attempt_login("maker2", PASSWORD) == 429
    # Move the lock's end into the past, as fifteen minutes would.
    moved = await world.pool.execute(
        "UPDATE login_throttle SET locked_until = locked_until - interval '15 minutes 1 second'"
        " WHERE username = 'maker2'"
    )
    assert moved == "UPDATE 1"
    assert await world.attempt_login("maker2", PASSWORD) == 200
    # Counting starts afresh: four more failures do not lock again.
    assert [await world.attempt_login("maker2") for _ in range(4)] == [401] * 4
