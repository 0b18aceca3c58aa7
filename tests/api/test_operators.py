"""Operator management by ADMIN: list, create, change; no admin can lock themselves out."""

from __future__ import annotations

import orjson

from tests.api.world import World
from tests.fixtures.world import PASSWORD

OPERATORS = "/api/v1/operators"


async def test_admin_lists_operators_without_secrets(world: World) -> None:
    response = await world.client.get(OPERATORS, headers=world.auth("admin"))
    assert response.status == 200
    body = await response.json()
    assert body["next_cursor"] is None
    names = [o["username"] for o in body["items"]]
    assert names == sorted(names)
    assert "maker" in names
    assert {key for item in body["items"] for key in item} == {
        "id", "username", "roles", "active", "created_at", "updated_at",
        "password_change_required",
    }  # fmt: skip
    assert "argon2" not in str(body), "no password hash"


async def test_only_admins_manage_operators(world: World) -> None:
    for who in ("maker", "checker", "auditor"):
        assert (await world.client.get(OPERATORS, headers=world.auth(who))).status == 403
    denied = await world.client.post(
        OPERATORS,
        json={"username": "eve", "password": PASSWORD, "roles": ["ADMIN"]},
        headers=world.auth("maker"),
    )
    assert denied.status == 403


async def test_create_then_log_in(world: World) -> None:
    response = await world.client.post(
        OPERATORS,
        json={"username": "carol", "password": "a long enough secret 1", "roles": ["CHECKER"]},
        headers=world.auth("admin"),
    )
    assert response.status == 201
    created = await response.json()
    assert created["roles"] == ["CHECKER"]
    assert created["active"] is True
    assert created["password_change_required"] is True, "the ADMIN chose it"
    await world.login("carol", "a long enough secret 1")
    clash = await world.client.post(
        OPERATORS,
        json={"username": "carol", "password": "another long secret", "roles": ["MAKER"]},
        headers=world.auth("admin"),
    )
    assert clash.status == 409


async def test_create_is_validated(world: World) -> None:
    response = await world.client.post(
        OPERATORS,
        json={"username": "Bad Name", "password": "short", "roles": ["KING"]},
        headers=world.auth("admin"),
    )
    assert response.status == 400
    fields = {d["field"] for d in (await response.json())["error"]["details"]}
    assert {"username", "password", "roles.0"} <= fields


async def test_patch_roles_active_and_password(world: World) -> None:
    target = world.operators["maker2"]
    path = f"{OPERATORS}/{target.id}"
    roles = await world.client.patch(
        path, json={"roles": ["MAKER", "CHECKER"]}, headers=world.auth("admin")
    )
    assert roles.status == 200
    assert (await roles.json())["roles"] == ["CHECKER", "MAKER"]

    new_password = "a brand new passphrase"
    changed = await world.client.patch(
        path, json={"password": new_password}, headers=world.auth("admin")
    )
    assert changed.status == 200
    assert (await changed.json())["password_change_required"] is True
    # A new password ends the operator's sessions; the new password works, for choosing their
    # own and nothing else.
    assert (await world.client.get("/api/v1/auth/me", headers=world.auth("maker2"))).status == 401
    await world.login("maker2", new_password)
    refused = await world.client.get("/api/v1/payments", headers=world.auth("maker2"))
    assert refused.status == 403
    assert (await refused.json())["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"

    off = await world.client.patch(path, json={"active": False}, headers=world.auth("admin"))
    assert (await off.json())["active"] is False
    assert (await world.client.get("/api/v1/auth/me", headers=world.auth("maker2"))).status == 401


async def test_patch_errors(world: World) -> None:
    admin = world.auth("admin")
    assert (
        await world.client.patch(f"{OPERATORS}/not-an-id", json={"active": True}, headers=admin)
    ).status == 404
    missing = f"{OPERATORS}/00000000-0000-4000-8000-000000000000"
    assert (await world.client.patch(missing, json={"active": True}, headers=admin)).status == 404
    empty = await world.client.patch(
        f"{OPERATORS}/{world.operators['maker'].id}", json={}, headers=admin
    )
    assert empty.status == 400


async def test_an_admin_cannot_lock_themselves_out(world: World) -> None:
    own = f"{OPERATORS}/{world.operators['admin'].id}"
    admin = world.auth("admin")
    demote = await world.client.patch(own, json={"roles": ["AUDITOR"]}, headers=admin)
    assert demote.status == 409
    deactivate = await world.client.patch(own, json={"active": False}, headers=admin)
    assert deactivate.status == 409
    more = await world.client.patch(own, json={"roles": ["ADMIN", "AUDITOR"]}, headers=admin)
    assert more.status == 200
    # Another admin may do what one may not do to oneself.
    other = await world.client.patch(own, json={"active": False}, headers=world.auth("boss"))
    assert other.status == 200


async def test_a_role_list_longer_than_the_roles_is_refused_by_its_length_alone(
    world: World,
) -> None:
    """Items of mixed types make jsonschema's uniqueItems compare every pair: a list of 11,000
    (55 KB, under the body limit) held the event loop for most of a minute. A list longer than
    its maxItems is refused for its length, its items neither compared nor checked one by one."""
    body = orjson.dumps({"roles": ["x", *range(11_000)]})
    assert len(body) < 64 * 1024
    response = await world.client.patch(
        f"{OPERATORS}/{world.operators['maker'].id}",
        data=body,
        headers={**world.auth("admin"), "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["details"] == [
        {"field": "roles", "message": "must have at most 5 items"}
    ]
