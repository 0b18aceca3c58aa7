"""An operator's own password: chosen by them after an ADMIN set it (nothing else is open to
them until then), changed given the current one, which a stolen session cannot guess at."""

from __future__ import annotations

from typing import Any

from paywire.api.app import endpoints
from paywire.services.auth import LOCKOUT_ATTEMPTS
from tests.api.world import World
from tests.fixtures.world import PASSWORD

PASSWORD_PATH = "/api/v1/auth/password"
OPERATORS = "/api/v1/operators"
SET_BY_ADMIN = "an admin chose this one"
OWN = "my very own passphrase"


async def change(world: World, who: str, current: str, new: str) -> Any:
    return await world.client.post(
        PASSWORD_PATH,
        json={"current_password": current, "new_password": new},
        headers=world.auth(who),
    )


async def problem_fields(response: Any) -> list[str]:
    assert response.status == 400, await response.text()
    return [d["field"] for d in (await response.json())["error"]["details"]]


async def test_a_new_operator_chooses_their_own_password_before_anything_else(
    world: World,
) -> None:
    created = await world.client.post(
        OPERATORS,
        json={"username": "carol", "password": SET_BY_ADMIN, "roles": ["MAKER"]},
        headers=world.auth("admin"),
    )
    assert created.status == 201
    await world.login("carol", SET_BY_ADMIN)
    me = await world.client.get("/api/v1/auth/me", headers=world.auth("carol"))
    assert (await me.json())["password_change_required"] is True
    for method, path in (("GET", "/api/v1/payments"), ("GET", "/api/v1/accounts")):
        refused = await world.client.request(method, path, headers=world.auth("carol"))
        assert refused.status == 403
        error = (await refused.json())["error"]
        assert error["code"] == "PASSWORD_CHANGE_REQUIRED"
        assert "POST /api/v1/auth/password" in error["message"]

    assert await problem_fields(await change(world, "carol", "not it at all", OWN)) == [
        "current_password"
    ]
    assert await problem_fields(await change(world, "carol", SET_BY_ADMIN, SET_BY_ADMIN)) == [
        "new_password"
    ]
    assert await problem_fields(await change(world, "carol", SET_BY_ADMIN, "short")) == [
        "new_password"
    ]
    changed = await change(world, "carol", SET_BY_ADMIN, OWN)
    assert changed.status == 204, await changed.text()
    # Every session ends, this one too; the old password no longer signs in.
    assert (await world.client.get("/api/v1/auth/me", headers=world.auth("carol"))).status == 401
    assert await world.attempt_login("carol", SET_BY_ADMIN) == 401
    await world.login("carol", OWN)
    me = await world.client.get("/api/v1/auth/me", headers=world.auth("carol"))
    assert (await me.json())["password_change_required"] is False
    assert (await world.client.get("/api/v1/payments", headers=world.auth("carol"))).status == 200
    rows = await world.pool.fetch(
        "SELECT operator, after FROM audit_logs WHERE action = 'auth.password_change'"
    )
    assert [(r["operator"], r["after"]["username"]) for r in rows] == [("carol", "carol")]
    assert "my very own" not in str(await world.pool.fetch("SELECT after FROM audit_logs"))


async def test_an_admin_changes_their_own_password_as_anyone_does(world: World) -> None:
    """Through PATCH it would take no current password: an ADMIN's session left open would be
    enough to take the account over."""
    own = f"{OPERATORS}/{world.operators['admin'].id}"
    refused = await world.client.patch(own, json={"password": OWN}, headers=world.auth("admin"))
    assert refused.status == 409
    assert "POST /api/v1/auth/password" in (await refused.json())["error"]["message"]
    assert (await change(world, "admin", PASSWORD, OWN)).status == 204
    await world.login("admin", OWN)
    assert (await world.client.get(OPERATORS, headers=world.auth("admin"))).status == 200


async def test_an_admin_whose_password_was_set_manages_nothing_until_they_choose_their_own(
    world: World,
) -> None:
    boss = f"{OPERATORS}/{world.operators['boss'].id}"
    reset = await world.client.patch(
        boss, json={"password": SET_BY_ADMIN}, headers=world.auth("admin")
    )
    assert reset.status == 200
    await world.login("boss", SET_BY_ADMIN)
    for method, path, body in (
        ("POST", OPERATORS, {"username": "mallory", "password": SET_BY_ADMIN, "roles": ["ADMIN"]}),
        ("PATCH", f"{OPERATORS}/{world.operators['maker'].id}", {"active": False}),
        ("POST", "/api/v1/admin/tls/circuit-breaker/reset", {}),
    ):
        refused = await world.client.request(method, path, json=body, headers=world.auth("boss"))
        assert refused.status == 403, (method, path)
        assert (await refused.json())["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    assert (
        await world.pool.fetchval("SELECT count(*) FROM operators WHERE username = 'mallory'") == 0
    )


def test_only_me_logout_and_the_password_change_are_open_before_it() -> None:
    """Declared per route: a new endpoint is closed to such an operator unless it says so."""
    open_before = {
        (e.method, e.path) for e in endpoints() if e.roles is not None and e.before_own_password
    }
    assert open_before == {
        ("GET", "/api/v1/auth/me"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", PASSWORD_PATH),
    }


async def test_guessing_the_current_password_through_a_session_locks_the_name(
    world: World,
) -> None:
    """A session left open must not be a way to guess the password behind it: each wrong
    current password counts as a failed login."""
    for _ in range(LOCKOUT_ATTEMPTS - 1):
        assert (await change(world, "maker", "a wrong guess!", OWN)).status == 400
    # The fifth failure locks the name, as a login's does; the right password too is refused.
    assert (await change(world, "maker", "a wrong guess!", OWN)).status == 429
    assert await world.attempt_login("maker", PASSWORD) == 429
