"""Role escalation: roles are the server's, held in the database, and only an ADMIN changes
them; nobody grants themselves one, and no admin strips their own ADMIN."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.world import World
from tests.fixtures.world import PASSWORD, payment_body

OPERATORS = "/api/v1/operators"
NEW_PASSWORD = "a completely new passphrase"


async def roles_of(world: World, who: str) -> list[str]:
    found: list[str] = await world.pool.fetchval(
        "SELECT roles FROM operators WHERE username = $1", who
    )
    return sorted(found)


@pytest.mark.parametrize("who", ["maker", "checker", "compliance", "auditor"])
async def test_a_non_admin_cannot_change_anyones_roles(world: World, who: str) -> None:
    for target in (who, "admin"):
        path = f"{OPERATORS}/{world.operators[target].id}"
        for change in ({"roles": ["ADMIN"]}, {"active": False}, {"password": NEW_PASSWORD}):
            response = await world.client.patch(path, json=change, headers=world.auth(who))
            assert response.status == 403, (target, change)
    assert await roles_of(world, who) == sorted(r.value for r in world.operators[who].roles)
    assert await roles_of(world, "admin") == ["ADMIN"]


async def test_a_maker_cannot_grant_themselves_roles_by_any_path(world: World) -> None:
    maker = world.operators["maker"]
    grant: dict[str, Any] = {"roles": ["MAKER", "CHECKER", "ADMIN"]}
    attempts = [
        ("PATCH", f"{OPERATORS}/{maker.id}", grant, 403),
        ("POST", OPERATORS, {"username": "maker-alt", "password": PASSWORD, **grant}, 403),
        ("POST", "/api/v1/auth/login", {"username": "maker", "password": PASSWORD, **grant}, 400),
        ("POST", "/api/v1/payments", payment_body(**grant), 400),
        ("POST", "/api/v1/payments", payment_body(created_by="checker"), 400),
        ("PUT", "/api/v1/auth/me", grant, 405),
        ("PATCH", "/api/v1/auth/me", grant, 405),
    ]
    for method, path, body, status in attempts:
        response = await world.client.request(method, path, json=body, headers=world.auth("maker"))
        assert response.status == status, (method, path, await response.text())
    # A role claimed in a header is nobody's business either.
    forged = {**world.auth("maker"), "X-Roles": "ADMIN", "X-Operator": "admin"}
    assert (await world.client.get(OPERATORS, headers=forged)).status == 403
    assert await roles_of(world, "maker") == ["MAKER"]
    me = await (await world.client.get("/api/v1/auth/me", headers=world.auth("maker"))).json()
    assert me["roles"] == ["MAKER"]
    names = await world.pool.fetch("SELECT username FROM operators WHERE username = 'maker-alt'")
    assert names == []


async def test_an_admin_cannot_strip_their_own_admin_even_inside_a_bigger_change(
    world: World,
) -> None:
    """The refused change is refused whole: the password in the same request is not changed."""
    own = f"{OPERATORS}/{world.operators['admin'].id}"
    for change in (
        {"roles": ["AUDITOR"], "password": NEW_PASSWORD},
        {"roles": ["MAKER", "CHECKER", "COMPLIANCE", "AUDITOR"]},
        {"active": False, "roles": ["ADMIN"]},
    ):
        response = await world.client.patch(own, json=change, headers=world.auth("admin"))
        assert response.status == 409, change
    assert await roles_of(world, "admin") == ["ADMIN"]
    await world.login("admin", PASSWORD)  # the old password still works
    for change in ({"roles": ["admin"]}, {"roles": []}, {"roles": ["ADMIN", "ROOT"]}):
        response = await world.client.patch(own, json=change, headers=world.auth("admin"))
        assert response.status == 400, change


async def test_fields_other_than_roles_active_and_password_cannot_be_set(world: World) -> None:
    target = f"{OPERATORS}/{world.operators['maker'].id}"
    for change in (
        {"username": "admin"},
        {"id": str(world.operators["admin"].id)},
        {"password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA"},
        {"roles": ["MAKER"], "created_at": "2000-01-01T00:00:00Z"},
    ):
        response = await world.client.patch(target, json=change, headers=world.auth("admin"))
        assert response.status == 400, change
    row = await world.pool.fetchrow(
        "SELECT username, roles FROM operators WHERE id = $1", world.operators["maker"].id
    )
    assert (row["username"], row["roles"]) == ("maker", ["MAKER"])


async def test_a_role_taken_away_counts_from_the_next_request_on(world: World) -> None:
    """Roles are read with the session on every request, never carried in the token."""
    created = await world.create_payment()
    checker = f"{OPERATORS}/{world.operators['checker'].id}"
    demoted = await world.client.patch(
        checker, json={"roles": ["AUDITOR"]}, headers=world.auth("admin")
    )
    assert demoted.status == 200
    approve = await world.client.post(
        f"/api/v1/payments/{created['id']}/approve", json={}, headers=world.auth("checker")
    )
    assert approve.status == 403
    readable = await world.client.get("/api/v1/audit-logs", headers=world.auth("checker"))
    assert readable.status == 200
