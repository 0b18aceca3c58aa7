"""Login, logout, me; 401 for missing, unknown, expired and revoked tokens; 429 lockout."""

from __future__ import annotations

import datetime as dt
import hashlib

from paywire.api import create_app
from paywire.config import Settings
from paywire.domain.credentials import PASSWORD_MAX
from tests.api.world import World, seed
from tests.fixtures.app import Serve
from tests.fixtures.world import PASSWORD


async def test_login_returns_token_expiry_and_operator(world: World) -> None:
    response = await world.client.post(
        "/api/v1/auth/login", json={"username": "checker", "password": PASSWORD}
    )
    assert response.status == 200
    body = await response.json()
    assert len(body["token"]) >= 32
    assert body["operator"]["username"] == "checker"
    assert body["operator"]["roles"] == ["CHECKER"]
    assert set(body["operator"]) == {
        "id", "username", "roles", "active", "created_at", "updated_at",
        "password_change_required",
    }  # fmt: skip
    assert "argon2" not in str(body), "no password hash"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    created = await world.pool.fetchval(
        "SELECT created_at FROM sessions WHERE token_hash = $1",
        hashlib.sha256(body["token"].encode()).digest(),
    )
    assert expires - created == dt.timedelta(seconds=Settings().token_ttl_s)


async def test_me_shows_the_operator_and_roles(world: World) -> None:
    response = await world.client.get("/api/v1/auth/me", headers=world.auth("boss"))
    assert response.status == 200
    body = await response.json()
    assert body["username"] == "boss"
    assert body["roles"] == ["ADMIN", "CHECKER", "MAKER"]


async def test_wrong_password_is_401_without_telling_which_part(world: World) -> None:
    wrong = await world.client.post(
        "/api/v1/auth/login", json={"username": "maker", "password": "nope nope nope"}
    )
    unknown = await world.client.post(
        "/api/v1/auth/login", json={"username": "ghost", "password": "nope nope nope"}
    )
    assert wrong.status == unknown.status == 401
    assert (await wrong.json())["error"]["message"] == (await unknown.json())["error"]["message"]
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


async def test_login_body_is_validated(world: World) -> None:
    response = await world.client.post("/api/v1/auth/login", json={"username": "maker"})
    assert response.status == 400
    details = (await response.json())["error"]["details"]
    assert {"field": "password", "message": "is required"} in details


async def test_the_longest_password_an_operator_may_have_logs_in(world: World) -> None:
    longest = "p" * PASSWORD_MAX
    created = await world.client.post(
        "/api/v1/operators",
        json={"username": "long", "password": longest, "roles": ["AUDITOR"]},
        headers=world.auth("admin"),
    )
    assert created.status == 201, await created.text()
    login = await world.client.post(
        "/api/v1/auth/login", json={"username": "long", "password": longest}
    )
    assert login.status == 200, await login.text()


async def test_no_token_malformed_or_unknown_token_is_401(world: World) -> None:
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer nope"}):
        response = await world.client.get("/api/v1/auth/me", headers=headers)
        assert response.status == 401, headers
        body = await response.json()
        assert body["error"]["code"] == "UNAUTHENTICATED"
        assert body["request_id"] == response.headers["X-Request-Id"]


async def test_logout_revokes_only_that_token(world: World) -> None:
    kept = world.auth("maker")
    other = await world.login("maker")  # a second session of the same operator
    first = {"Authorization": f"Bearer {other}"}
    response = await world.client.post("/api/v1/auth/logout", headers=first)
    assert response.status == 204
    assert (await world.client.get("/api/v1/auth/me", headers=first)).status == 401
    assert (await world.client.post("/api/v1/auth/logout", headers=first)).status == 401
    still = await world.client.get("/api/v1/auth/me", headers=kept)
    assert still.status == 200


async def test_expired_token_is_401(serve: Serve, settings: Settings, db_pool) -> None:
    await seed(db_pool, ["maker"])
    client = await serve(create_app(Settings(log_dir=settings.log_dir, token_ttl_s=1), db_pool))
    world = World(client, db_pool, {})
    token = await world.login("maker")
    # Age the session rather than wait for it: the expiry moves one hour into the past.
    await db_pool.execute(
        "UPDATE sessions SET created_at = created_at - interval '2 hours', "
        "expires_at = expires_at - interval '1 hour'"
    )
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 401


async def test_five_failures_lock_the_name_for_fifteen_minutes(world: World) -> None:
    statuses = []
    for _ in range(6):
        response = await world.client.post(
            "/api/v1/auth/login", json={"username": "auditor", "password": "wrong password!"}
        )
        statuses.append(response.status)
    assert statuses[:4] == [401] * 4
    assert statuses[4:] == [429, 429]
    locked = await world.client.post(
        "/api/v1/auth/login", json={"username": "auditor", "password": PASSWORD}
    )
    assert locked.status == 429
    body = await locked.json()
    assert body["error"]["code"] == "THROTTLED"
    other = await world.client.post(
        "/api/v1/auth/login", json={"username": "checker", "password": PASSWORD}
    )
    assert other.status == 200
